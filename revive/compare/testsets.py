"""Choosing runs on test folders: each run's checkpoint scored by eval.py's colorizer protocol
(:mod:`revive.evaluation.colorizers`), beside the gray baseline, and a bar chart of the result.

With one test folder the averages are named as eval.py names them (``test/psnr``,
``gray/psnr``); with several, each name starts with the folder's name (``faces/test/psnr``).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from pathlib import Path

from tqdm import tqdm

from revive.compare.plots import _figure, _save, checkpoint_of
from revive.compare.runs import Run
from revive.evaluation.colorizers import evaluate_colorizer
from revive.evaluation.protocol import averages
from revive.restore.restorer import SetupError, load_restorer

log = logging.getLogger(__name__)

TEST_METRICS = ("psnr", "ssim", "deltae2000", "colorfulness", "delta_cf")


def folder_prefix(test_dirs: Sequence[Path], folder: Path) -> str:
    """'' for a single folder, else ``<folder name>/``."""
    return "" if len(test_dirs) == 1 else f"{folder.name}/"


def score_runs(
    runs: Sequence[Run],
    test_dirs: Sequence[Path],
    which: str = "best",
    device: str = "auto",
    render_size: int = 256,
) -> None:
    """Add each run's test averages (and the gray baseline's) to ``run.final``.

    Runs without a colorizer checkpoint (a denoiser, a run that never saved) are left as they
    are, with a log line that says why.
    """
    names = [d.name for d in test_dirs]
    if len(set(names)) != len(names):
        raise ValueError(f"test folders must have different names (got {names})")
    for run in tqdm(runs, desc="scoring runs on the test folders", unit="run"):
        ckpt = checkpoint_of(run, which)
        if ckpt is None:
            log.info("%s: no checkpoint; not scored", run.path.name)
            continue
        try:
            restorer = load_restorer(ckpt, device=device, render_size=render_size)
        except SetupError as e:
            log.info("%s: %s; not scored", run.path.name, e)
            continue
        for folder in test_dirs:
            table, _ = evaluate_colorizer(restorer, folder, progress=False)
            prefix = folder_prefix(test_dirs, folder)
            run.final.update({prefix + k: v for k, v in averages(table).items()})


def plot_test_bars(runs: Sequence[Run], test_dirs: Sequence[Path], dest: Path) -> Path | None:
    """One row per test folder, one panel per metric: a bar per run, the gray baseline dashed."""
    scored = [r for r in runs if any(k.endswith("test/psnr") for k in r.final)]
    if not scored:
        return None
    fig, axes = _figure(
        len(test_dirs), len(TEST_METRICS), 3.2 * len(TEST_METRICS), 3.4 * len(test_dirs)
    )
    for row, folder in enumerate(test_dirs):
        prefix = folder_prefix(test_dirs, folder)
        for ax, metric in zip(axes[row], TEST_METRICS, strict=True):
            values = [r.final.get(f"{prefix}test/{metric}", math.nan) for r in scored]
            ax.bar(range(len(scored)), values, color="tab:blue")
            gray = next(
                (
                    r.final[f"{prefix}gray/{metric}"]
                    for r in scored
                    if f"{prefix}gray/{metric}" in r.final
                ),
                math.nan,
            )
            if not math.isnan(gray):
                ax.axhline(gray, color="gray", linestyle="--", label="gray baseline")
            ax.set_xticks(
                range(len(scored)), [r.label for r in scored], rotation=45, ha="right", fontsize=7
            )
            ax.set_title(f"{folder.name}: {metric}", fontsize=9)
            ax.grid(alpha=0.3, axis="y")
        axes[row][0].legend(fontsize=7)
    fig.suptitle("test metrics of each run against the gray baseline")
    return _save(fig, dest)
