"""``eval.py`` / ``revive-eval``: score weights on test images.

``python eval.py weights=W data.test_dir=D sigma=25``, or for a colorizer against the
gray baseline ``python eval.py weights=W data.test_dir=D``. Exit status 2, with one
line that says why, when nothing could be scored (a missing folder or weights file, weights of
the wrong kind, an unavailable device).
"""

from __future__ import annotations

from omegaconf import DictConfig

from revive.config import hydra_command, register_resolvers
from revive.errors import user_errors

register_resolvers()


@hydra_command("eval", "eval.py")
def main(cfg: DictConfig) -> dict[str, float]:
    from revive.evaluation.protocol import evaluate  # heavy imports after parsing

    with user_errors("eval.py", cfg.get("debug")):
        return evaluate(cfg)
