"""The figures of a comparison: validation curves, final metrics against the swept parameters,
and a grid of the same images through every run (:mod:`revive.compare.samples` makes them)."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure  # no pyplot: no global state, no display needed
from matplotlib.ticker import MaxNLocator
from tqdm import tqdm

from revive.compare.runs import Run, param_value, run_render_size, sort_key
from revive.compare.samples import checkpoint_of, colorize, panel_cells, reference_images
from revive.io import atomic_path

log = logging.getLogger(__name__)

CURVE_METRICS = ("val/psnr", "val/ssim", "val/colorfulness", "val/delta_cf")
GRAY_CURVE = "val/gray_psnr"


# -- plots ---------------------------------------------------------------------------------------
def figure(rows: int, cols: int, width: float, height: float) -> tuple[Figure, np.ndarray]:
    fig = Figure(figsize=(width, height))
    return fig, fig.subplots(rows, cols, squeeze=False)


def save_figure(fig: Figure, dest: Path) -> Path:
    with atomic_path(dest) as tmp:
        fig.savefig(tmp, dpi=100, bbox_inches="tight")
    return dest


def plot_curves(runs: Sequence[Run], dest: Path) -> Path | None:
    """One panel per validation metric, one line per run."""
    present = [m for m in CURVE_METRICS if any(m in r.curves.columns for r in runs)]
    if not present:
        return None
    fig, axes = figure(1, len(present), 4.2 * len(present), 3.4)
    for ax, metric in zip(axes[0], present, strict=True):
        for run in runs:
            if metric in run.curves.columns:
                series = run.curves[metric].dropna()
                ax.plot(series.index + 1, series.values, marker="o", ms=3, label=run.label)
        if metric == "val/psnr":  # the floor: the validation images left gray
            floor = next((r.curves[GRAY_CURVE] for r in runs if GRAY_CURVE in r.curves), None)
            if floor is not None and floor.notna().any():
                ax.axhline(floor.dropna().iloc[-1], color="gray", ls="--", label="gray baseline")
        ax.set_title(metric)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7)
    fig.suptitle("validation curves")
    return save_figure(fig, dest)


def plot_final(runs: Sequence[Run], params: Sequence[str], metric: str, dest: Path) -> Path | None:
    """The final ``metric`` against each swept parameter; runs that share the other parameters
    are joined by a line (e.g. x = color space, one line per λ)."""
    done = [r for r in runs if not math.isnan(r.final.get(metric, math.nan))]
    if not done or not params:
        return None
    fig, axes = figure(1, len(params), 4.2 * len(params), 3.4)
    for ax, key in zip(axes[0], params, strict=True):
        values = sorted({param_value(r, key) for r in done}, key=sort_key)
        others = [p for p in params if p != key]
        groups: dict[str, list[Run]] = {}
        for run in done:
            name = ", ".join(f"{p.split('.')[-1]}={param_value(run, p)}" for p in others)
            groups.setdefault(name, []).append(run)
        for name, members in sorted(groups.items()):
            members.sort(key=lambda r: values.index(param_value(r, key)))
            xs = [values.index(param_value(r, key)) for r in members]
            ax.plot(xs, [r.final[metric] for r in members], marker="o", label=name or None)
        ax.set_xticks(range(len(values)), values)
        ax.set_xlabel(key)
        ax.set_ylabel(f"final {metric}")
        ax.grid(alpha=0.3)
        if others:
            ax.legend(fontsize=7)
    fig.suptitle(f"final {metric} by swept parameter")
    return save_figure(fig, dest)


def plot_samples(
    runs: Sequence[Run],
    dest: Path,
    images_dir: Path | None,
    count: int,
    which: str,
    render_size: int | None = None,
    device: str = "cpu",
) -> Path | None:
    """Rows: the input, one row per run, the target. Columns: the same images, each run's at
    ``render_size`` (None: the scale the run trained at)."""
    shown, truth = reference_images(runs, images_dir, count)
    if not truth:
        return None
    rows: list[tuple[str, list[np.ndarray]]] = [("input", shown)]
    for run in tqdm(runs, desc="running each run's checkpoint", unit="run"):
        ckpt = checkpoint_of(run, which)
        try:
            size = render_size or run_render_size(run)
            images = (
                colorize(ckpt, truth, size, device)
                if ckpt is not None
                else panel_cells(run, 1, count)
            )
        except ValueError as e:  # not a colorizer (a denoiser): its own validation panel
            log.info("%s: %s; showing its own validation panel", run.path.name, e)
            images = panel_cells(run, 1, count)
        if images:
            rows.append((run.label, images))
    rows.append(("target", truth))
    n_cols = max(len(images) for _, images in rows)
    fig, axes = figure(len(rows), n_cols, 1.25 * n_cols + 2.2, 1.25 * len(rows) + 0.4)
    for r, (label, images) in enumerate(rows):
        for c in range(n_cols):
            ax = axes[r][c]
            ax.set_xticks([])
            ax.set_yticks([])
            if c < len(images):
                ax.imshow(images[c], interpolation="nearest")
            else:
                ax.axis("off")
        axes[r][0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8)
    fig.suptitle("the same images through each run")
    fig.subplots_adjust(wspace=0.04, hspace=0.04)
    return save_figure(fig, dest)
