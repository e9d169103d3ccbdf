"""``train.py`` / ``revive-train``: ``python train.py model=pix2pix data=samples color_space=lab``.

A bad file, path or value (e.g. a damaged ``ckpt_path``) exits with status 2 and one line.
"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from revive.config import config_dir, register_resolvers
from revive.errors import user_errors

register_resolvers()


@hydra.main(version_base="1.3", config_path=str(config_dir()), config_name="train")
def main(cfg: DictConfig) -> float | None:
    from revive.training.run import train  # heavy imports after Hydra has parsed the command line

    with user_errors("train.py"):
        metrics = train(cfg)
    metric = cfg.get("optimized_metric")
    return metrics.get(metric) if metric else None
