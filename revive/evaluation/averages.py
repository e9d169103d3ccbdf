"""A per-photo score table reduced to the averages that eval prints, saves and logs: one module
that both the protocol and the colorizer scorer read, so neither imports the other."""

from __future__ import annotations

import pandas as pd

# Per-image columns that describe the photo rather than score it.
INFO_COLUMNS = ("width", "height", "truth")
# Column prefixes of the references scored beside the model: the gray baseline, and with an
# upscaler its luminance against a bicubic enlargement. Averages are named ``<group>/<metric>``.
GROUPS = {"gray_": "gray", "wash_": "wash", "sr_": "sr", "bicubic_": "bicubic"}


def averages(table: pd.DataFrame) -> dict[str, float]:
    """Means of every numeric score column: ``test/<column>``, and ``gray/<metric>`` for the
    gray baseline's ``gray_<metric>`` (``sr/``, ``bicubic/`` likewise). Photos without a value
    (no truth) do not count. Scores of the whole folder (FID) come from
    ``table.attrs["set_metrics"]``."""
    scores = table.drop(columns=[c for c in INFO_COLUMNS if c in table.columns])
    out = {}
    for key, value in scores.mean(numeric_only=True).items():
        prefix = next((p for p in GROUPS if key.startswith(p)), None)
        name = f"test/{key}" if prefix is None else f"{GROUPS[prefix]}/{key[len(prefix) :]}"
        out[name] = float(value)
    out.update(table.attrs.get("set_metrics", {}))
    return out
