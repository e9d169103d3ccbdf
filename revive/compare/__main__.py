"""``python -m revive.compare SWEEP_DIR``."""

from revive.compare.report import main

main()
