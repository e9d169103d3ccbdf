"""Choosing runs on test folders: each run's checkpoint scored by eval.py's colorizer protocol
(:func:`revive.evaluation.colorizers.score_checkpoint`) beside the gray baseline, and a bar chart
of each metric against that baseline.

With one test folder the averages are named as eval.py names them (``test/psnr``,
``gray/psnr``); with several, each name starts with the folder's name (``faces/test/psnr``),
as the runs of ``experiment=seed_study`` record them in their ``metrics.json``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from revive.compare.plots import figure, save_figure
from revive.compare.runs import Run, run_render_size
from revive.compare.samples import checkpoint_of
from revive.errors import SetupError
from revive.evaluation.colorizers import score_checkpoint

log = logging.getLogger(__name__)

TEST_METRICS = ("psnr", "ssim", "deltae2000", "colorfulness", "delta_cf")


def named_folders(test_dirs: Sequence[Path]) -> dict[str, Path]:
    """``{"": folder}`` for one folder, else ``{folder name: folder}`` (names must differ)."""
    if len(test_dirs) == 1:
        return {"": test_dirs[0]}
    names = [d.name for d in test_dirs]
    if len(set(names)) != len(names):
        raise ValueError(f"test folders must have different names (got {names})")
    return dict(zip(names, test_dirs, strict=True))


def score_runs(
    runs: Sequence[Run],
    test_dirs: Sequence[Path],
    which: str = "best",
    device: str = "auto",
    render_size: int | None = None,
) -> None:
    """Add each run's test averages (and the gray baseline's) to ``run.final``, each run at
    ``render_size``, or (None) at the scale it trained at (its ``data.crop_size``).

    Runs without a colorizer checkpoint (a denoiser, a run that never saved) are left as they
    are, with a log line that says why.
    """
    folders = named_folders(test_dirs)
    for run in tqdm(runs, desc="scoring runs on the test folders", unit="run"):
        ckpt = checkpoint_of(run, which)
        if ckpt is None:
            log.info("%s: no checkpoint; not scored", run.path.name)
            continue
        try:
            size = render_size or run_render_size(run)
            run.final.update(score_checkpoint(ckpt, folders, device, size, False))
        except SetupError as e:
            log.info("%s: %s; not scored", run.path.name, e)


def scored_folders(runs: Sequence[Run]) -> list[str]:
    """The test folders the runs were scored on: ``""`` (plain ``test/``) or ``"<name>/"``."""
    found = {k[: -len("test/psnr")] for r in runs for k in r.final if k.endswith("test/psnr")}
    return sorted(p for p in found if p == "" or p.endswith("/"))


def gray_value(runs: Sequence[Run], key: str) -> float:
    """The gray baseline's ``key`` (the same for every run: the luminance of the same photos)."""
    return next((r.final[key] for r in runs if key in r.final), math.nan)


def plot_test_bars(runs: Sequence[Run], dest: Path) -> Path | None:
    """One row per test folder, one panel per metric: each run's difference from the gray
    baseline (the zero line), so that what a colorizer adds or costs is what the bars show."""
    prefixes = scored_folders(runs)
    if not prefixes:
        return None
    fig, axes = figure(
        len(prefixes), len(TEST_METRICS), 3.2 * len(TEST_METRICS), 3.6 * len(prefixes)
    )
    labels = [r.label for r in runs]
    for row, prefix in enumerate(prefixes):
        folder = prefix.rstrip("/") or "test"
        for ax, metric in zip(axes[row], TEST_METRICS, strict=True):
            gray = gray_value(runs, f"{prefix}gray/{metric}")
            values = [r.final.get(f"{prefix}test/{metric}", math.nan) - gray for r in runs]
            ax.bar(range(len(runs)), values, color="tab:blue")  # higher is not always better
            ax.axhline(0.0, color="gray", linestyle="--", label="gray baseline")
            ax.set_xticks(range(len(runs)), labels, rotation=45, ha="right", fontsize=7)
            ax.set_title(f"{folder}: {metric} - gray ({gray:.4g})", fontsize=9)
            ax.grid(alpha=0.3, axis="y")
        axes[row][0].legend(fontsize=7)
    fig.suptitle("test metrics of each run minus the gray baseline's (above 0: higher than gray)")
    fig.tight_layout()
    return save_figure(fig, dest)


def test_tables(runs: Sequence[Run], params: Sequence[str]) -> str:
    """Markdown: per test folder, each run's test metrics, then the gray baseline's row."""
    from revive.compare.runs import markdown, param_value

    parts = []
    for prefix in scored_folders(runs):
        rows = []
        for run in runs:
            row = {k: param_value(run, k) for k in params} or {"run": run.path.name}
            row.update({m: run.final.get(f"{prefix}test/{m}", math.nan) for m in TEST_METRICS})
            rows.append(row)
        baseline = dict.fromkeys(rows[0], "") | {next(iter(rows[0])): "gray baseline"}
        baseline.update({m: gray_value(runs, f"{prefix}gray/{m}") for m in TEST_METRICS})
        rows.append(baseline)
        folder = prefix.rstrip("/") or "test folder"
        parts.append(markdown(pd.DataFrame(rows), f"{folder}").replace("# ", "## ", 1))
    return "\n".join(parts)
