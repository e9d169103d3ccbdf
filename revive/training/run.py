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
import shlex
import sys
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
from omegaconf import DictConfig, ListConfig, OmegaConf

from revive.config import flatten
from revive.errors import UserError
from revive.io import atomic_path
from revive.safe.load import is_url
from revive.training.checkpoints import AtomicCheckpointIO, read_checkpoint
from revive.training.loggers import finish_wandb
from revive.training.run_dir import register_run_resolvers
from revive.training.values import check_values

log = logging.getLogger(__name__)

METRICS_FILE = "metrics.json"
FAILURE_FILE = "failure.txt"


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


def instantiate_group(group: DictConfig | None) -> list[Any]:
    """Instantiate every entry of a group like ``callbacks`` or ``logger`` (None -> [])."""
    if not group:
        return []
    return [instantiate(node) for node in group.values() if node is not None and "_target_" in node]


def resolve_ckpt_path(cfg: DictConfig) -> str | None:
    """An explicit ``ckpt_path``, or ``last.ckpt`` of this run folder when auto-resume is on.

    The file is read tensors-only here, so that a damaged one stops the run before anything is
    built, with a message naming it; the absolute path that is returned is what Lightning
    opens (a relative ``http_model.ckpt`` would be fetched as a URL from torch's download
    cache). A URL is refused unless ``allow_url=true``; it is then downloaded into the run
    folder and read tensors-only like any file. With ``auto_resume=false`` a folder that
    already holds checkpoints is refused rather than overwritten.
    """
    if cfg.get("ckpt_path") is not None:
        path = _checkpoint_file(str(cfg.ckpt_path), cfg)
        read_checkpoint(path)
        return str(path)
    ckpt_dir = Path(cfg.paths.output_dir) / "checkpoints"
    last = ckpt_dir / "last.ckpt"
    if cfg.get("auto_resume", False):
        if last.is_file():
            log.info("auto-resume: continuing from %s", last)
            try:
                read_checkpoint(last)
            except UserError as e:
                raise UserError(f"auto-resume: {e}") from e
            return str(last.resolve())
    elif ckpt_dir.is_dir() and any(ckpt_dir.glob("*.ckpt")):
        raise UserError(
            f"{ckpt_dir} already holds checkpoints of an earlier run. Resume it with "
            "auto_resume=true, start from one of them with ckpt_path=..., or give this run "
            "another folder with name=... (or delete that folder)."
        )
    return None


def _checkpoint_file(given: str, cfg: DictConfig) -> Path:
    """``ckpt_path`` as an absolute local file (a URL downloaded first, if allowed)."""
    if is_url(given):
        if not cfg.get("allow_url", False):
            raise UserError(
                f"ckpt_path={given} is a URL; download it yourself, or add allow_url=true "
                "(it is then downloaded into the run folder and read tensors-only)"
            )
        import torch.hub

        dest = Path(cfg.paths.output_dir) / "downloads" / (Path(given).name or "checkpoint.ckpt")
        if not dest.is_file():
            dest.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(dest) as tmp:
                torch.hub.download_url_to_file(given, str(tmp))
        return dest.resolve()
    path = Path(given).expanduser()
    if not path.is_file():
        raise UserError(f"ckpt_path={given} does not exist")
    return path.resolve()


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


def flat_config(cfg: DictConfig) -> dict[str, Any]:
    """The resolved config as ``{"model.lambda_l1": 100, ...}`` so dashboards can filter on it."""
    return flatten(resolved_config(cfg))
