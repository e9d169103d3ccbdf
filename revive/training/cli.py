"""``train.py`` / ``revive-train``: ``python train.py model=pix2pix data=samples color_space=lab``.

A bad file, path or value (e.g. a damaged ``ckpt_path``) exits with status 2 and one line.
Process-wide settings (the allocator, the multiprocessing start method) are made here, in the
command, and never by the library's calls (:func:`prepare_process`).
"""

from __future__ import annotations

import logging
import multiprocessing

from omegaconf import DictConfig

from revive.config import hydra_command, register_resolvers
from revive.errors import user_errors

register_resolvers()
log = logging.getLogger(__name__)


def prepare_process(cfg: DictConfig) -> None:
    """What training needs of the process it runs in, set once by the command.

    - ``trainer.reuse_host_memory``: glibc keeps freed memory for the next step
      (:func:`revive.training.trainer.reuse_freed_memory`), inherited by forked loader workers.
    - joblib's loky workers (``hydra/launcher=joblib``) make "loky" the default start method,
      whose processes DataLoader workers cannot use; inside one, go back to the platform's.
    """
    from revive.training.trainer import reuse_freed_memory

    if cfg.trainer.get("reuse_host_memory", False) and not reuse_freed_memory():
        log.info("reuse_host_memory: no glibc mallopt here, the allocator is left as it is")
    if multiprocessing.get_start_method(allow_none=True) == "loky":
        multiprocessing.set_start_method(multiprocessing.get_all_start_methods()[0], force=True)


@hydra_command("train", "train.py")
def main(cfg: DictConfig) -> float | None:
    from revive.training.run import train  # heavy imports after Hydra has parsed the command line

    prepare_process(cfg)
    with user_errors("train.py"):
        metrics = train(cfg)
    metric = cfg.get("optimized_metric")
    return metrics.get(metric) if metric else None
