"""``revive_upscale``: seconds and peak RSS of a revival with the super-resolution stage.

Two records, each run by :func:`revive.restore.restore_paths` in a fresh process with
``conf/predict.yaml``'s defaults (tiles of 192 px, 16 px of overlap) and random weights in the
official layouts (speed and memory do not depend on the values; nothing is downloaded):

- a 6 MP scan (3000x2000 JPEG) upscaled x4 to 96 MP by a thin Real-ESRGAN Compact (SRVGGNet,
  8 features, 2 convolutions): the memory of the pipeline's full-size buffers, and its time
  with a cheap network;
- a small scan upscaled x4 by the full Real-ESRGAN RRDBNet (64 filters, 23 blocks): its
  speed per input megapixel on this machine (a 6 MP scan takes about 6 MP / that speed).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import torch

from revive.bench.common import Runs, run_isolated
from revive.bench.revival import TARGET as REVIVAL
from revive.bench.revival import write_scan, write_weights
from revive.extras import require

NETWORKS = ("thin Compact", "Real-ESRGAN RRDBNet")


def write_upscaler(path: Path, network: str) -> Path:
    """A x4 state dict with random weights: a thin Compact, or the full x4plus RRDBNet."""
    Compact = require("sr", "spandrel.architectures.Compact").Compact
    RRDBNet = require("sr", "spandrel.architectures.ESRGAN").ESRGAN

    torch.manual_seed(0)
    if network == "thin Compact":
        net = Compact(num_in_ch=3, num_out_ch=3, num_feat=8, num_conv=2, upscale=4)
    else:
        net = RRDBNet(in_nc=3, out_nc=3, num_filters=64, num_blocks=23, scale=4)
    torch.save(net.state_dict(), path)
    return path


def revive_upscale(megapixels: float = 6.0, repeats: int = 1) -> list[dict[str, Any]]:
    records = []
    with tempfile.TemporaryDirectory(prefix="revive-bench-upscale-") as tmp:
        root = Path(tmp)
        colorizer, _ = write_weights(root)
        # The full network costs about 36 TFLOP per input megapixel: a small scan is enough.
        sizes = {"thin Compact": megapixels, "Real-ESRGAN RRDBNet": 0.05}
        for i, label in enumerate(NETWORKS):
            weights = write_upscaler(root / f"x4_{i}.pth", label)
            scan = root / f"scan_{i}.jpg"
            height, width = write_scan(scan, sizes[label])
            runs = Runs()
            for r in range(repeats):
                runs.runs.append(
                    run_isolated(
                        f"{REVIVAL}:measure_revival",
                        scan=str(scan),
                        output=str(root / f"out_{label}_{r}"),
                        colorizer=str(colorizer),
                        upscaler=str(weights),
                    )
                )
            records.append(
                {
                    "name": "revive_upscale",
                    "metric": "seconds",
                    "megapixels": round(height * width / 1e6, 3),
                    "output_megapixels": round(16 * height * width / 1e6, 2),
                    "size": [width, height],
                    **runs.summary("seconds"),
                    "input_mp_per_s": round(height * width / 1e6 / runs.median("seconds"), 4),
                    "settings": f"{label} x4, {width}x{height} JPEG -> {4 * width}x{4 * height}, "
                    "predict.yaml defaults",
                    "repeats": repeats,
                }
            )
    return records
