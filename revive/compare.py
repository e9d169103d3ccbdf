"""Compare the runs of a sweep from their local logs: ``python -m revive.compare SWEEP_DIR``.

Reads every run folder under SWEEP_DIR (a folder with ``config_resolved.yaml``, as
``train.py`` writes) and writes into ``SWEEP_DIR/compare/``:

- ``comparison.md`` and ``comparison.csv``: the final metrics of each run by the parameters
  that differ between runs (taken from each run's command-line overrides);
- ``curves.png``: the validation curves of every run;
- ``final_vs_params.png``: the final metric against each swept parameter (e.g. LAB vs RGB);
- ``samples.png``: the same validation images colorized by every run: each run's checkpoint
  colorizes the target images of the first run's last validation panel (or ``--images``);
  runs that are not colorizers (DnCNN) show their own last validation panel.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
import yaml
from matplotlib.figure import Figure  # no pyplot: no global state, no display needed
from matplotlib.ticker import MaxNLocator
from tqdm import tqdm

from revive.io import atomic_path, list_images, read_rgb

log = logging.getLogger(__name__)

IGNORED_KEYS = ("tags", "paths.")
CURVE_METRICS = ("val/psnr", "val/ssim", "val/colorfulness", "val/delta_cf")


@dataclass
class Run:
    """One run folder, read back from what ``train.py`` left in it."""

    path: Path
    label: str = ""
    overrides: dict[str, str] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    final: dict[str, float] = field(default_factory=dict)
    curves: pd.DataFrame = field(default_factory=pd.DataFrame)
    status: str = "done"


# -- reading runs --------------------------------------------------------------------------------
def find_runs(sweep_dir: Path) -> list[Path]:
    """Run folders under ``sweep_dir`` (itself included), sorted."""
    if not sweep_dir.is_dir():
        raise FileNotFoundError(f"{sweep_dir} is not a folder")
    runs = sorted(p.parent for p in sweep_dir.rglob("config_resolved.yaml"))
    if not runs:
        raise FileNotFoundError(
            f"no run under {sweep_dir}: a run folder holds config_resolved.yaml (written by "
            "train.py). Pass a sweep folder such as outputs/train/multiruns/<name>."
        )
    return runs


def flatten(node: Any, prefix: str = "") -> dict[str, Any]:
    """``{"model": {"lambda_l1": 10}}`` -> ``{"model.lambda_l1": 10}`` (lists stay leaves)."""
    if not isinstance(node, dict):
        return {prefix: node}
    flat: dict[str, Any] = {}
    for key, value in node.items():
        flat.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    return flat


def read_overrides(run_dir: Path) -> dict[str, str]:
    """The command-line overrides Hydra recorded for the run (``.hydra/overrides.yaml``)."""
    path = run_dir / ".hydra" / "overrides.yaml"
    if not path.is_file():
        return {}
    out = {}
    for line in yaml.safe_load(path.read_text()) or []:
        key, _, value = str(line).partition("=")
        out[key.lstrip("+~")] = value
    return out


def read_curves(run_dir: Path) -> pd.DataFrame:
    """Validation metrics per epoch from the CSVLogger's ``metrics.csv`` (empty if none).

    A resumed run logs some epochs twice; the latest row of each epoch wins.
    """
    files = sorted(run_dir.glob("**/metrics.csv"))
    if not files:
        return pd.DataFrame()
    table = pd.read_csv(files[0])
    val_cols = [c for c in table.columns if c.startswith("val/")]
    if not val_cols or "epoch" not in table.columns:
        return pd.DataFrame()
    rows = table.dropna(subset=val_cols, how="all").dropna(subset=["epoch"])
    rows = rows.groupby("epoch", as_index=True)[val_cols].last()
    return rows.sort_index()


def read_run(run_dir: Path) -> Run:
    config = flatten(yaml.safe_load((run_dir / "config_resolved.yaml").read_text()) or {})
    curves = read_curves(run_dir)
    run = Run(path=run_dir, overrides=read_overrides(run_dir), config=config, curves=curves)
    metrics_file = run_dir / "metrics.json"
    if (run_dir / "failure.txt").is_file():
        run.status = "failed"
    elif metrics_file.is_file():
        run.final = {k: float(v) for k, v in json.loads(metrics_file.read_text()).items()}
    else:
        run.status = "incomplete"
    if not run.final and not curves.empty:
        run.final = {k: float(v) for k, v in curves.ffill().iloc[-1].items()}
    return run


# -- what differs between runs -------------------------------------------------------------------
def _normalised(run: Run, value: Any) -> str:
    """A comparable text for ``value``; the run's own folder (in paths) does not count."""
    return str(value).replace(str(run.path.resolve()), "<run>").replace(str(run.path), "<run>")


def swept_parameters(runs: Sequence[Run]) -> list[str]:
    """The parameters whose value differs between runs.

    The command-line overrides come first (they are what a sweep varies). Runs without Hydra's
    record fall back on the resolved configs; of several keys that vary together (``seed`` and
    ``data.seed``), the shortest is kept.
    """
    keys = sorted({k for run in runs for k in run.overrides})
    swept = [k for k in keys if len({run.overrides.get(k, "(default)") for run in runs}) > 1]
    if swept or len(runs) < 2:
        return swept
    keys = sorted({k for run in runs for k in run.config}, key=lambda k: (k.count("."), len(k), k))
    seen_patterns: set[tuple[str, ...]] = set()
    for key in keys:
        if key.startswith(IGNORED_KEYS):
            continue
        pattern = tuple(_normalised(run, run.config.get(key, "(unset)")) for run in runs)
        if len(set(pattern)) > 1 and pattern not in seen_patterns:
            seen_patterns.add(pattern)
            swept.append(key)
    return swept


def param_value(run: Run, key: str) -> str:
    if key in run.overrides:
        return run.overrides[key]
    if key in run.config:
        return _normalised(run, run.config[key])
    return "(default)"


def label_runs(runs: Sequence[Run], params: Sequence[str]) -> None:
    for run in runs:
        parts = [f"{k.split('.')[-1]}={param_value(run, k)}" for k in params]
        run.label = ", ".join(parts) if parts else run.path.name


# -- table ---------------------------------------------------------------------------------------
def comparison_table(runs: Sequence[Run], params: Sequence[str]) -> pd.DataFrame:
    """One row per run: the swept parameters, the final val/test metrics, status and folder."""
    metrics = sorted({k for run in runs for k in run.final if k.startswith(("val/", "test/"))})
    rows = []
    for run in runs:
        row: dict[str, Any] = {k: param_value(run, k) for k in params}
        row.update({m: run.final.get(m, math.nan) for m in metrics})
        row["epochs"] = len(run.curves)
        row["status"] = run.status
        row["run"] = run.path.name
        rows.append(row)
    return pd.DataFrame(rows)


def markdown(table: pd.DataFrame, title: str) -> str:
    """A GitHub Markdown table (no extra dependency)."""

    def cell(value: Any) -> str:
        if isinstance(value, float):
            return "–" if math.isnan(value) else f"{value:.4g}"
        return str(value).replace("|", "\\|")

    lines = [f"# {title}", "", "| " + " | ".join(table.columns) + " |"]
    lines.append("|" + "---|" * len(table.columns))
    for _, row in table.iterrows():
        lines.append("| " + " | ".join(cell(v) for v in row) + " |")
    return "\n".join(lines) + "\n"


# -- plots ---------------------------------------------------------------------------------------
def _figure(rows: int, cols: int, width: float, height: float) -> tuple[Figure, np.ndarray]:
    fig = Figure(figsize=(width, height))
    return fig, fig.subplots(rows, cols, squeeze=False)


def _save(fig: Figure, dest: Path) -> Path:
    with atomic_path(dest) as tmp:
        fig.savefig(tmp, dpi=100, bbox_inches="tight")
    return dest


def plot_curves(runs: Sequence[Run], dest: Path) -> Path | None:
    """One panel per validation metric, one line per run."""
    present = [m for m in CURVE_METRICS if any(m in r.curves.columns for r in runs)]
    if not present:
        return None
    fig, axes = _figure(1, len(present), 4.2 * len(present), 3.4)
    for ax, metric in zip(axes[0], present, strict=True):
        for run in runs:
            if metric in run.curves.columns:
                series = run.curves[metric].dropna()
                ax.plot(series.index + 1, series.values, marker="o", ms=3, label=run.label)
        ax.set_title(metric)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7)
    fig.suptitle("validation curves")
    return _save(fig, dest)


def _sort_key(value: str) -> tuple[int, float, str]:
    try:
        return (0, float(value), value)
    except ValueError:
        return (1, 0.0, value)


def plot_final(runs: Sequence[Run], params: Sequence[str], metric: str, dest: Path) -> Path | None:
    """The final ``metric`` against each swept parameter; runs that share the other parameters
    are joined by a line (e.g. x = color space, one line per λ)."""
    done = [r for r in runs if not math.isnan(r.final.get(metric, math.nan))]
    if not done or not params:
        return None
    fig, axes = _figure(1, len(params), 4.2 * len(params), 3.4)
    for ax, key in zip(axes[0], params, strict=True):
        values = sorted({param_value(r, key) for r in done}, key=_sort_key)
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
    return _save(fig, dest)


# -- the same images through every run -----------------------------------------------------------
def checkpoint_of(run: Run, which: str = "best") -> Path | None:
    ckpts = run.path / "checkpoints"
    best = sorted(ckpts.glob("best*.ckpt"))
    last = ckpts / "last.ckpt"
    if which == "best" and best:
        return best[-1]
    return last if last.is_file() else (best[-1] if best else None)


def panel_cells(run: Run, column: int, count: int) -> list[np.ndarray]:
    """Cells of one column (0 input, 1 prediction, -1 target) of a run's last validation panel."""
    folder = run.path / "panels" / "last"
    if not (folder / "columns.json").is_file():
        return []
    name = json.loads((folder / "columns.json").read_text())[column]
    return [read_rgb(p) for p in sorted(folder.glob(f"{name}_*.png"))[:count]]


def reference_images(
    runs: Sequence[Run], images_dir: Path | None, count: int
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(inputs shown, target images): ``images_dir``'s images (shown in gray), or the first
    run's last validation panel."""
    if images_dir is not None:
        truth = [read_rgb(p) for p in list_images(images_dir)[:count]]
        gray = [np.repeat(gray_of(t)[..., None], 3, axis=2) for t in truth]
        return gray, truth
    for run in runs:
        truth = panel_cells(run, -1, count)
        if truth:
            return panel_cells(run, 0, count), truth
    return [], []


def gray_of(rgb: np.ndarray) -> np.ndarray:
    """ITU-R 601 luma, uint8."""
    return (rgb.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32) + 0.5).astype(
        np.uint8
    )


@torch.no_grad()
def colorize(checkpoint: Path, images: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Colorize each image with the generator stored in ``checkpoint``.

    The network gets exactly the input it got in validation (its color space's split of the
    image), so a run's row matches its own validation panel.
    """
    from revive.visual import to_uint8
    from revive.weights.pix2pix import load_colorizer

    net, space = load_colorizer(checkpoint)
    multiple = net.size_multiple
    out = []
    for image in images:
        rgb = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None]
        h, w = rgb.shape[-2:]
        size = (
            max(multiple, round(h / multiple) * multiple),
            max(multiple, round(w / multiple) * multiple),
        )
        if size != (h, w):  # the U-Net needs sides that are multiples of 2**num_downs
            rgb = F.interpolate(rgb.float() / 255.0, size=size, mode="bilinear", antialias=True)
        x, _ = space.split({"rgb": rgb})
        pred = space.to_rgb(x, net(x))
        if size != (h, w):
            pred = F.interpolate(pred, size=(h, w), mode="bilinear", antialias=True)
        out.append(to_uint8(pred[0]))
    return out


def plot_samples(
    runs: Sequence[Run], dest: Path, images_dir: Path | None, count: int, which: str
) -> Path | None:
    """Rows: the input, one row per run, the target. Columns: the same images."""
    shown, truth = reference_images(runs, images_dir, count)
    if not truth:
        return None
    rows: list[tuple[str, list[np.ndarray]]] = [("input", shown)]
    for run in tqdm(runs, desc="running each run's checkpoint", unit="run"):
        ckpt = checkpoint_of(run, which)
        try:
            images = colorize(ckpt, truth) if ckpt is not None else panel_cells(run, 1, count)
        except ValueError as e:  # not a colorizer (a denoiser): its own validation panel
            log.info("%s: %s; showing its own validation panel", run.path.name, e)
            images = panel_cells(run, 1, count)
        if images:
            rows.append((run.label, images))
    rows.append(("target", truth))
    n_cols = max(len(images) for _, images in rows)
    fig, axes = _figure(len(rows), n_cols, 1.25 * n_cols + 2.2, 1.25 * len(rows) + 0.4)
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
    return _save(fig, dest)


# -- entry point ---------------------------------------------------------------------------------
def compare(
    sweep_dir: str | Path,
    out_dir: str | Path | None = None,
    metric: str = "val/psnr",
    images_dir: str | Path | None = None,
    num_images: int = 4,
    checkpoint: str = "best",
) -> dict[str, Path]:
    """Write the table, the plots and the sample grid; return their paths by kind."""
    sweep_dir = Path(sweep_dir)
    out = Path(out_dir) if out_dir is not None else sweep_dir / "compare"
    runs = [read_run(p) for p in find_runs(sweep_dir) if out not in p.parents]
    params = swept_parameters(runs)
    runs.sort(key=lambda r: ([_sort_key(param_value(r, k)) for k in params], r.path.name))
    label_runs(runs, params)
    table = comparison_table(runs, params)
    written: dict[str, Path] = {}
    with atomic_path(out / "comparison.csv") as tmp:
        table.to_csv(tmp, index=False)
    written["csv"] = out / "comparison.csv"
    with atomic_path(out / "comparison.md") as tmp:
        tmp.write_text(markdown(table, f"Runs under {sweep_dir}"))
    written["markdown"] = out / "comparison.md"
    usable = [r for r in runs if r.status != "failed"]
    plots = {
        "curves": plot_curves(usable, out / "curves.png"),
        "final": plot_final(usable, params, metric, out / "final_vs_params.png"),
        "samples": plot_samples(
            usable,
            out / "samples.png",
            Path(images_dir) if images_dir else None,
            num_images,
            checkpoint,
        ),
    }
    written.update({k: v for k, v in plots.items() if v is not None})
    return written


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m revive.compare", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("sweep_dir", type=Path, help="e.g. outputs/train/multiruns/<name>")
    parser.add_argument("--out", type=Path, default=None, help="default: SWEEP_DIR/compare")
    parser.add_argument("--metric", default="val/psnr", help="metric plotted against parameters")
    parser.add_argument("--images", type=Path, default=None, help="folder of images to colorize")
    parser.add_argument("--num-images", type=int, default=4)
    parser.add_argument("--checkpoint", choices=("best", "last"), default="best")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        written = compare(
            args.sweep_dir, args.out, args.metric, args.images, args.num_images, args.checkpoint
        )
    except FileNotFoundError as e:
        parser.exit(2, f"error: {e}\n")
    for kind, path in written.items():
        print(f"{kind:>8}: {path}")


if __name__ == "__main__":
    main()
