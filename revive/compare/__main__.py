"""``python -m revive.compare runs=SWEEP_DIR`` (the same as ``revive-compare``)."""

from revive.compare.report import main

main()
