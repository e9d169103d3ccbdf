"""Score weights on test images: ``python eval.py model=dncnn weights=W data.test_dir=D sigma=25``
(a thin shim over :mod:`revive.evaluation.cli`, which is also installed as ``revive-eval``)."""

from revive.evaluation.cli import main

if __name__ == "__main__":
    main()
