"""``predict.py`` / ``revive-predict``: restore old photos.

``python predict.py input=scans/ output=revived/ colorizer=last.ckpt``. Exit status: 0 when every
photo was restored or skipped, 1 when some failed, 2 when nothing could start (a missing input,
or a missing or incompatible checkpoint), with one line saying why.
"""

from __future__ import annotations

import sys

from omegaconf import DictConfig

from revive.config import hydra_command, register_resolvers
from revive.errors import user_errors

register_resolvers()


@hydra_command("predict", "predict.py")
def main(cfg: DictConfig) -> None:
    from revive.restore import restore_config  # heavy imports after parsing

    with user_errors("predict.py", cfg.get("debug")):
        summary = restore_config(cfg)
    if not summary.ok:
        sys.exit(1)
