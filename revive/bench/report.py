"""The rich table that ``python -m revive.bench`` prints."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.table import Table

from revive.bench.common import machine


def _number(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"
    return str(value)


def table(records: Sequence[dict[str, Any]]) -> Table:
    """One row per record: the speed, its baseline and their ratio, peak memory, settings."""
    info = machine()
    title = f"revive bench - {info['cpu']}, {info['cores']} cores, torch {info['torch']}"
    if "gpu" in info:
        title += f", {info['gpu']}"
    out = Table(title=title)
    columns = ("benchmark", "batch", "ours", "baseline", "ratio", "unit", "peak RSS MB", "threads")
    for column in columns:
        out.add_column(column, justify="left" if column in ("benchmark", "unit") else "right")
    out.add_column("settings")
    for r in records:
        metric = r["metric"]
        rss = _number(r.get("peak_rss_mb"))
        if r.get("baseline_peak_rss_mb") is not None:
            rss += f" / {_number(r['baseline_peak_rss_mb'])}"
        out.add_row(
            r["name"],
            _number(r.get("batch_size")),
            _number(r[metric]),
            _number(r.get("baseline_" + metric)),
            f"{r['speedup']:.2f}x" if r.get("speedup") is not None else "-",
            metric.replace("_per_", "/"),
            rss,
            _number(r.get("threads")),
            r.get("settings", ""),
        )
    return out


def arithmetic_notes(records: Sequence[dict[str, Any]]) -> list[str]:
    """For records that count their FLOPs: the arithmetic rate of ours and of the baseline, as
    a share of this machine's matrix-product ceiling in the precision each computes in."""
    notes = []
    for r in records:
        if "gflops" not in r:
            continue
        ceiling = r["matmul_gflops"]
        precision = "bf16" if "bf16" in r.get("precision", "") else "fp32"
        ours_ceiling = ceiling.get(precision)  # no bf16 ceiling where bf16 is emulated
        share = (
            f"{r['gflops'] / ours_ceiling:.0%} of this machine's {ours_ceiling:.0f} in its precision"
            if ours_ceiling
            else f"{precision} is emulated here, so no ceiling was measured"
        )
        notes.append(
            f"{r['name']} batch {r['batch_size']}: {r['gflop_per_image']:.0f} GFLOP per image; "
            f"ours {r['gflops']:.0f} GFLOP/s ({share}), baseline {r['baseline_gflops']:.0f} "
            f"GFLOP/s ({r['baseline_gflops'] / ceiling['fp32']:.0%} of {ceiling['fp32']:.0f} in fp32)"
        )
    return notes
