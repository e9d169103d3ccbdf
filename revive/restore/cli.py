"""``predict.py`` / ``revive-predict``: restore old photos.

``python predict.py input=scans/ output=revived/ colorizer=last.ckpt``. Exit status: 0 when every
photo was restored or skipped, 1 when some failed, 2 when nothing could start (a missing input,
or a missing or incompatible checkpoint).
"""

from __future__ import annotations

import logging
import sys

import hydra
from omegaconf import DictConfig

from revive.config import config_dir, register_resolvers

register_resolvers()
log = logging.getLogger("predict")


@hydra.main(version_base="1.3", config_path=str(config_dir()), config_name="predict")
def main(cfg: DictConfig) -> None:
    from revive.restore import SetupError, restore_config  # heavy imports after parsing

    try:
        summary = restore_config(cfg)
    except SetupError as e:
        log.error("%s", e)
        sys.exit(2)
    if not summary.ok:
        sys.exit(1)
