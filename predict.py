"""Restore old photos: ``python predict.py input=scans/ output=revived/ colorizer=last.ckpt`` (a thin
shim over :mod:`revive.restore.cli`, which is also installed as ``revive-predict``)."""

from revive.restore.cli import main

if __name__ == "__main__":
    main()
