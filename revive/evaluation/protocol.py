"""``eval.py``'s protocol: which evaluator scores a model, where its inputs come from, and how the
averages are printed and saved.

Each kind of model has one evaluator that returns a per-image table; the model config's
``_target_`` picks it (:data:`EVALUATORS`). Averages are named ``test/<column>`` like the test
metrics of training.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pandas as pd
from omegaconf import DictConfig
from rich.console import Console
from rich.table import Table

from revive.errors import UserError
from revive.evaluation.denoisers import evaluate_denoiser
from revive.hardware import resolve_device
from revive.io import atomic_path

log = logging.getLogger(__name__)


def weights_path(cfg: DictConfig) -> Path:
    """``weights=`` or its alias ``ckpt=``: one file, which must exist."""
    given = {key: cfg.get(key) for key in ("weights", "ckpt") if cfg.get(key) is not None}
    if not given:
        raise UserError(
            "no weights to evaluate: add weights=PATH (a train.py checkpoint or published "
            "weights, e.g. weights=../shared/data/weights/dncnn_25.pth)"
        )
    if len(set(given.values())) > 1:
        raise UserError(f"weights= and ckpt= name different files: {given}; give only one")
    path = Path(next(iter(given.values()))).expanduser()
    if not path.is_file():
        raise UserError(f"weights file not found: {path.resolve()}")
    return path


def test_folder(cfg: DictConfig) -> Path:
    """``data.test_dir``: required, and a folder."""
    test_dir = cfg.get("data", {}).get("test_dir")
    if test_dir is None:
        raise UserError(
            "no test images: add data.test_dir=FOLDER of clean images, "
            "e.g. data.test_dir=../shared/data/Set12"
        )
    return Path(test_dir)


def evaluate_denoising(cfg: DictConfig) -> pd.DataFrame:
    """``eval.py model=dncnn*``: load the weights (any DnCNN layout) and score at ``sigma``."""
    from revive.weights.dncnn import load_denoiser

    test_dir, path = test_folder(cfg), weights_path(cfg)
    net = load_denoiser(path)
    log.info("%s: %s, sigma=%s on %s", path.name, net.extra_repr(), cfg.sigma, test_dir)
    return evaluate_denoiser(
        net, test_dir, float(cfg.sigma), int(cfg.get("seed", 0)), resolve_device(cfg.device)
    )


# The model config's _target_ -> the function that scores that kind of model.
EVALUATORS: dict[str, Callable[[DictConfig], pd.DataFrame]] = {
    "revive.models.dncnn.DnCNNModule": evaluate_denoising,
}


def averages(table: pd.DataFrame) -> dict[str, float]:
    """``test/<column>`` means of every numeric column."""
    return {f"test/{k}": float(v) for k, v in table.mean(numeric_only=True).items()}


def print_metrics(metrics: dict[str, float], title: str, console: Console | None = None) -> None:
    table = Table(title=title)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name, value in metrics.items():
        table.add_row(name, f"{value:.4f}")
    (console or Console()).print(table)


def write_csv(table: pd.DataFrame, dest: str | Path) -> Path:
    """The per-image table, written atomically (a crash never leaves half a file)."""
    dest = Path(dest).expanduser()
    with atomic_path(dest) as tmp:
        table.to_csv(tmp, index=False, float_format="%.4f")
    return dest


def evaluate(cfg: DictConfig) -> dict[str, float]:
    """Score the model of ``cfg`` on ``data.test_dir``; print, optionally save, return averages."""
    target = cfg.model.get("_target_")
    if target not in EVALUATORS:
        known = ", ".join(EVALUATORS)
        raise UserError(f"eval.py has no evaluator for model {target}; it evaluates: {known}")
    table = EVALUATORS[target](cfg)
    metrics = averages(table)
    print_metrics(metrics, f"{Path(str(cfg.data.test_dir)).name}: {len(table)} images")
    if cfg.get("csv"):
        log.info("per-image metrics written to %s", write_csv(table, cfg.csv))
    return metrics
