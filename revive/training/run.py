"""``train(cfg)``: build everything from the Hydra config, fit, and return the metrics.

Every run folder ends up holding ``config_resolved.yaml`` and ``command.txt`` (what ran),
``checkpoints/`` (``last.ckpt`` and the best), ``csv/metrics.csv``, ``panels/`` and
``metrics.json`` (the final metrics), or ``failure.txt`` when a sweep's run failed. Only the
global-zero process writes them.
"""

from __future__ import annotations

import json
import logging
import math
import traceback
import warnings
from pathlib import Path
from typing import Any

import lightning as L
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from hydra.utils import instantiate
from lightning.pytorch.strategies.launchers import _SubprocessScriptLauncher
from lightning.pytorch.utilities import rank_zero_only
from omegaconf import DictConfig

from revive.io import atomic_path
from revive.training.checkpoints import AtomicCheckpointIO, resolve_ckpt_path
from revive.training.loggers import finish_wandb
from revive.training.record import flat_config, save_run_record
from revive.training.run_dir import register_run_resolvers
from revive.training.values import check_values

log = logging.getLogger(__name__)

METRICS_FILE = "metrics.json"
FAILURE_FILE = "failure.txt"


def instantiate_group(group: DictConfig | None) -> list[Any]:
    """Instantiate every entry of a group like ``callbacks`` or ``logger`` (None -> [])."""
    if not group:
        return []
    return [instantiate(node) for node in group.values() if node is not None and "_target_" in node]


def in_multirun() -> bool:
    """True inside a Hydra sweep (``python train.py -m ...``)."""
    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def train(cfg: DictConfig) -> dict[str, float]:
    """Fit ``cfg.model`` on ``cfg.data`` and return the final metrics as floats.

    Inside a sweep, a run that raises must not take the other runs down: its error is logged,
    its traceback goes to ``failure.txt`` in its folder, and it reports NaN for
    ``optimized_metric`` (Optuna records such a trial as failed). A single run raises as usual.
    """
    register_run_resolvers()  # ${add:...} etc. also when called from a pickled job (SLURM)
    if not in_multirun():
        return _fit(cfg)
    try:
        return _fit(cfg)
    except Exception:
        run_dir = Path(cfg.paths.output_dir)
        log.exception("run %s failed; the sweep goes on", run_dir)
        if rank_zero_only.rank == 0:
            with atomic_path(run_dir / FAILURE_FILE) as tmp:
                tmp.write_text(traceback.format_exc())
        metric = cfg.get("optimized_metric")
        return {metric: math.nan} if metric else {}


def _fit(cfg: DictConfig) -> dict[str, float]:
    check_values(cfg)  # before anything is built: one line that names the key
    if cfg.get("seed") is not None:
        L.seed_everything(cfg.seed, workers=True)
    run_dir = Path(cfg.paths.output_dir)
    ckpt_path = resolve_ckpt_path(cfg)

    datamodule: L.LightningDataModule = instantiate(cfg.data)
    model: L.LightningModule = instantiate(cfg.model)
    callbacks = instantiate_group(cfg.get("callbacks"))
    loggers = instantiate_group(cfg.get("logger"))
    trainer: L.Trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False)
    if not isinstance(trainer.strategy.checkpoint_io, AtomicCheckpointIO):
        trainer.strategy.checkpoint_io = AtomicCheckpointIO()  # whatever trainer= says: no pickle
    _refuse_script_relaunch_in_sweep(trainer)
    if trainer.is_global_zero:
        save_run_record(cfg, run_dir)
        (run_dir / FAILURE_FILE).unlink(missing_ok=True)
    try:
        for lg in loggers:
            lg.log_hyperparams(flat_config(cfg))
        with warnings.catch_warnings():
            # Lightning asks manual-optimization modules to stash their pre-step weights for
            # mid-epoch checkpoints; the post-step weights it saves are what resuming needs.
            warnings.filterwarnings(
                "ignore", message="Using ModelCheckpoint with manual optimization"
            )
            metrics = _fit_and_test(cfg, trainer, model, datamodule, ckpt_path)
    except BaseException:
        finish_wandb(loggers, failed=True)
        raise
    finish_wandb(loggers)
    if trainer.is_global_zero and metrics:
        with atomic_path(run_dir / METRICS_FILE) as tmp:
            tmp.write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    return metrics


def _fit_and_test(cfg, trainer, model, datamodule, ckpt_path: str | None) -> dict[str, float]:
    trainer.fit(model, datamodule=datamodule, ckpt_path=ckpt_path, weights_only=True)
    metrics = _floats(trainer.callback_metrics)
    if not metrics and ckpt_path is not None:
        metrics = _previous_metrics(Path(cfg.paths.output_dir))
    if cfg.get("test"):
        best = "best" if _has_best(trainer) else None
        trainer.test(model, datamodule=datamodule, ckpt_path=best, weights_only=True)
        metrics.update(_floats(trainer.callback_metrics))
    if cfg.get("test_dirs") and trainer.is_global_zero:
        metrics.update(_score_test_dirs(cfg, trainer, model))
    return metrics


def _score_test_dirs(cfg, trainer: L.Trainer, model: L.LightningModule) -> dict[str, float]:
    """The colorizer scored on ``cfg.test_dirs`` by eval.py's protocol (against the gray
    baseline), at the render size it was trained at: its best checkpoint, else the weights it
    ends with (a run without checkpoints, e.g. ``fast_dev_run``)."""
    from revive.evaluation.colorizers import score_checkpoint, score_folders
    from revive.restore.restorer import Restorer

    folders = {str(k): str(v) for k, v in cfg.test_dirs.items()}
    device, render_size = str(trainer.strategy.root_device), int(cfg.data.crop_size)
    if _has_best(trainer):
        best = trainer.checkpoint_callback.best_model_path
        log.info("scoring %s on %s", best, ", ".join(folders.values()))
        return score_checkpoint(best, folders, device, render_size)
    restorer = Restorer(
        model.scoring_generator, model.space, render_size=render_size, device=device
    )
    return score_folders(restorer, folders)


def _floats(metrics: dict[str, Any]) -> dict[str, float]:
    return {k: float(v) for k, v in metrics.items()}


def _previous_metrics(run_dir: Path) -> dict[str, float]:
    """A finished run launched again trains nothing; it reports what it reported before."""
    path = run_dir / METRICS_FILE
    if not path.is_file():
        return {}
    log.info("this run had already finished; its metrics come from %s", path)
    return json.loads(path.read_text())


def _refuse_script_relaunch_in_sweep(trainer: L.Trainer) -> None:
    """Lightning's DDP launcher starts the other ranks by re-running ``sys.argv``, which in a
    local sweep would start the whole sweep again in every rank."""
    launcher = trainer.strategy.launcher
    if (
        in_multirun()
        and isinstance(launcher, _SubprocessScriptLauncher)
        and launcher.num_processes > 1
        and not trainer.strategy.cluster_environment.creates_processes_externally
    ):
        raise RuntimeError(
            "multi-process DDP inside a local sweep is not supported: Lightning would re-run "
            "the sweep's command line in each rank. Sweep with hydra/launcher=submitit_slurm "
            "(one task per GPU, see conf/local/slurm.yaml), or launch the runs one by one."
        )


def _has_best(trainer: L.Trainer) -> bool:
    cb = trainer.checkpoint_callback
    return bool(cb is not None and getattr(cb, "best_model_path", ""))
