"""The runs of a sweep, read back from what ``train.py`` left in their folders, and the table
of their final metrics by the parameters that differ between them."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from revive.config import flatten

IGNORED_KEYS = ("tags", "paths.")


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
def is_metric(key: str) -> bool:
    """Validation and test metrics, the gray baseline's, and those of named test folders
    (``faces/test/psnr``)."""
    stage = key.split("/")[-2] if key.count("/") >= 1 else ""
    return stage in ("val", "test", "gray")


def comparison_table(runs: Sequence[Run], params: Sequence[str]) -> pd.DataFrame:
    """One row per run: the swept parameters, the final val/test metrics, status and folder."""
    metrics = sorted({k for run in runs for k in run.final if is_metric(k)})
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


def sort_key(value: str) -> tuple[int, float, str]:
    """Parameter values in numeric order where they are numbers, then the rest by name."""
    try:
        return (0, float(value), value)
    except ValueError:
        return (1, 0.0, value)


def run_render_size(run: Run) -> int | None:
    """The scale a run trained at (its crop size), which its colorizer is scored at."""
    size = run.config.get("data.crop_size")
    return int(size) if isinstance(size, int) and size > 0 else None
