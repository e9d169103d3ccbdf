"""``train(cfg)``: build everything from the Hydra config, fit, and return the metrics."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import lightning as L
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from revive.io import atomic_path

log = logging.getLogger(__name__)


def save_run_record(cfg: DictConfig, run_dir: Path) -> None:
    """Keep the resolved config and the exact command line in the run folder (KAIR/BasicSR)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    plain = OmegaConf.to_container(cfg, resolve=True)
    plain.pop("hydra", None)
    with atomic_path(run_dir / "config_resolved.yaml") as tmp:
        tmp.write_text(OmegaConf.to_yaml(plain))
    with atomic_path(run_dir / "command.txt") as tmp:
        tmp.write_text(" ".join([Path(sys.argv[0]).name, *sys.argv[1:]]) + "\n")


def instantiate_group(group: DictConfig | None) -> list[Any]:
    """Instantiate every entry of a group like ``callbacks`` or ``logger`` (None -> [])."""
    if not group:
        return []
    return [instantiate(node) for node in group.values() if node is not None and "_target_" in node]


def resolve_ckpt_path(cfg: DictConfig) -> str | None:
    """An explicit ``ckpt_path``, or ``last.ckpt`` of this run folder when auto-resume is on."""
    if cfg.get("ckpt_path") is not None:
        path = Path(cfg.ckpt_path).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"ckpt_path={cfg.ckpt_path} does not exist")
        return str(path)
    last = Path(cfg.paths.output_dir) / "checkpoints" / "last.ckpt"
    if cfg.get("auto_resume", False) and last.is_file():
        log.info("auto-resume: continuing from %s", last)
        return str(last)
    return None


def train(cfg: DictConfig) -> dict[str, float]:
    """Fit ``cfg.model`` on ``cfg.data`` and return the final ``callback_metrics`` as floats."""
    if cfg.get("seed") is not None:
        L.seed_everything(cfg.seed, workers=True)
    run_dir = Path(cfg.paths.output_dir)

    datamodule: L.LightningDataModule = instantiate(cfg.data)
    model: L.LightningModule = instantiate(cfg.model)
    callbacks = instantiate_group(cfg.get("callbacks"))
    loggers = instantiate_group(cfg.get("logger"))
    trainer: L.Trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False)
    if trainer.is_global_zero:
        save_run_record(cfg, run_dir)
    for lg in loggers:
        lg.log_hyperparams(flat_config(cfg))

    trainer.fit(model, datamodule=datamodule, ckpt_path=resolve_ckpt_path(cfg))
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
    if cfg.get("test"):
        trainer.test(model, datamodule=datamodule, ckpt_path="best" if _has_best(trainer) else None)
        metrics.update({k: float(v) for k, v in trainer.callback_metrics.items()})
    return metrics


def _has_best(trainer: L.Trainer) -> bool:
    cb = trainer.checkpoint_callback
    return bool(cb is not None and getattr(cb, "best_model_path", ""))


def flat_config(cfg: DictConfig) -> dict[str, Any]:
    """The resolved config as ``{"model.lambda_l1": 100, ...}`` so dashboards can filter on it."""
    plain = OmegaConf.to_container(cfg, resolve=True)
    plain.pop("hydra", None)
    flat: dict[str, Any] = {}

    def walk(prefix: str, node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(f"{prefix}.{key}" if prefix else str(key), value)
        else:
            flat[prefix] = node

    walk("", plain)
    return flat
