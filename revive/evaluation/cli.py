"""``eval.py`` / ``revive-eval``: score weights on test images.

``python eval.py model=dncnn weights=W data.test_dir=D sigma=25``. A bad file, path or value
exits with status 2 and one line saying why.
"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from revive.config import config_dir, register_resolvers
from revive.errors import user_errors

register_resolvers()


@hydra.main(version_base="1.3", config_path=str(config_dir()), config_name="eval")
def main(cfg: DictConfig) -> dict[str, float]:
    from revive.evaluation.protocol import evaluate  # heavy imports after parsing

    with user_errors("eval.py", cfg.get("debug")):
        return evaluate(cfg)
