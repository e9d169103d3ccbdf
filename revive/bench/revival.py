"""``revive_24mp``: seconds and peak RSS to revive one 24-megapixel scan with ``predict.py``'s code.

A 6000x4000 JPEG (a 24 MP camera or flatbed scan) is revived by
:func:`revive.restore.restore_paths` with ``conf/predict.yaml``'s defaults, once with the colorizer
alone and once with a 17-layer DnCNN denoising the full-resolution luminance first. The networks
carry random weights (speed and memory do not depend on the values), so nothing is downloaded.
The image and the weights are written before the timed process starts, so its peak RSS is the
revival's alone: reading, denoising, colorizing, merging, writing both outputs.
"""

from __future__ import annotations

import math
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from revive.bench.common import Runs, run_isolated
from revive.data.fakes import fake_photos

TARGET = "revive.bench.revival"
ASPECT = 3 / 2  # 6000 x 4000 at 24 MP


def scan_size(megapixels: float) -> tuple[int, int]:
    """(height, width) of a 3:2 landscape scan of about ``megapixels``."""
    height = max(8, round(math.sqrt(megapixels * 1e6 / ASPECT)))
    return height, max(8, round(height * ASPECT))


def write_scan(path: Path, megapixels: float, seed: int = 0) -> tuple[int, int]:
    """A JPEG of smooth random content, built in bands to keep this process small."""
    height, width = scan_size(megapixels)
    band = 512
    image = np.empty((height, width, 3), np.uint8)
    for top in range(0, height, band):
        rows = min(band, height - top)
        image[top : top + rows] = fake_photos(1, rows, width, seed + top, cell=32, grain=6.0)[0]
    Image.fromarray(image).save(path, quality=90)
    return height, width


def write_weights(folder: Path) -> tuple[Path, Path]:
    """Random-init colorizer (official ``*_net_G.pth`` layout) and DnCNN-S state dicts."""
    from revive.nets import UnetGenerator, init_weights
    from revive.nets.dncnn import DnCNN

    torch.manual_seed(0)
    colorizer, denoiser = folder / "latest_net_G.pth", folder / "dncnn_25.pth"
    torch.save(init_weights(UnetGenerator(1, 2)).state_dict(), colorizer)
    torch.save(DnCNN().state_dict(), denoiser)
    return colorizer, denoiser


def measure_revival(scan: str, output: str, **networks: str | None) -> dict:
    """Seconds of ``restore_paths`` on one scan with ``networks`` (colorizer=, denoiser=,
    upscaler=: restore options), loading included (child process)."""
    from revive.restore import RestoreOptions, restore_paths

    start = time.perf_counter()
    summary = restore_paths(scan, output, RestoreOptions(**networks), progress=False)
    seconds = time.perf_counter() - start
    if not summary.ok or len(summary.done) != 1:
        raise RuntimeError(f"the revival did not succeed: {summary}")
    return {"seconds": seconds}


def revive_24mp(megapixels: float = 24.0, repeats: int = 1) -> list[dict[str, Any]]:
    records = []
    with tempfile.TemporaryDirectory(prefix="revive-bench-24mp-") as tmp:
        root = Path(tmp)
        height, width = write_scan(root / "scan.jpg", megapixels)
        colorizer, denoiser = write_weights(root)
        for label, noise_net in (("colorize", None), ("denoise + colorize", denoiser)):
            runs = Runs()
            for i in range(repeats):
                runs.runs.append(
                    run_isolated(
                        f"{TARGET}:measure_revival",
                        scan=str(root / "scan.jpg"),
                        output=str(root / f"out_{len(records)}_{i}"),
                        colorizer=str(colorizer),
                        denoiser=None if noise_net is None else str(noise_net),
                    )
                )
            records.append(
                {
                    "name": "revive_24mp",
                    "metric": "seconds",
                    "megapixels": round(height * width / 1e6, 2),
                    "size": [width, height],
                    **runs.summary("seconds"),
                    "settings": f"{label}, {width}x{height} JPEG, predict.yaml defaults",
                    "denoiser": noise_net is not None,
                    "repeats": repeats,
                }
            )
    return records
