"""What ran: the resolved config and the command line, kept in the run folder and shown to
dashboards, so that any run can be told apart from the others and run again (KAIR/BasicSR).
"""

from __future__ import annotations

import logging
import shlex
import sys
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, ListConfig, OmegaConf

from revive.config import flatten
from revive.io import atomic_path

log = logging.getLogger(__name__)


def resolved_config(cfg: DictConfig) -> dict[str, Any]:
    """The config as plain, resolved containers, without Hydra's own ``hydra`` node."""
    plain: dict[str, Any] = {}
    for key in cfg:
        if key == "hydra":
            continue
        value = cfg[key]
        if isinstance(value, DictConfig | ListConfig):
            value = OmegaConf.to_container(value, resolve=True)
        plain[str(key)] = value
    return plain


def run_command() -> str:
    """The command that reproduces this run, then the one that launched it.

    Inside a sweep (or a SLURM job) ``sys.argv`` is the whole sweep, or submitit's own command;
    the run itself is ``train.py`` with the overrides Hydra recorded for it.
    """
    launched = " ".join([Path(sys.argv[0]).name, *sys.argv[1:]])
    if not HydraConfig.initialized():
        return launched + "\n"
    overrides = [shlex.quote(str(o)) for o in HydraConfig.get().overrides.task]
    return f"python train.py {' '.join(overrides)}\n# launched as: {launched}\n"


def save_run_record(cfg: DictConfig, run_dir: Path) -> None:
    """Keep the resolved config and the command line in the run folder (KAIR/BasicSR)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    with atomic_path(run_dir / "config_resolved.yaml") as tmp:
        tmp.write_text(OmegaConf.to_yaml(resolved_config(cfg)))
    with atomic_path(run_dir / "command.txt") as tmp:
        tmp.write_text(run_command())
    log.info("run record written to %s", run_dir)


def flat_config(cfg: DictConfig) -> dict[str, Any]:
    """The resolved config as ``{"model.lambda_l1": 100, ...}`` so dashboards can filter on it."""
    return flatten(resolved_config(cfg))
