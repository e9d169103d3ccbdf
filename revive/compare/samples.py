"""The images a comparison shows for each run: the same photos revived by its checkpoint, exactly
as predict.py would (at the scale the run trained at), or its own last validation panel.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from revive.color import luma_uint8, luminance
from revive.compare.runs import Run
from revive.io import list_images, read_rgb
from revive.restore.options import RestoreOptions
from revive.restore.restorer import load_restorer


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
        gray = [np.repeat(luma_uint8(t)[..., None], 3, axis=2) for t in truth]
        return gray, truth
    for run in runs:
        truth = panel_cells(run, -1, count)
        if truth:
            return panel_cells(run, 0, count), truth
    return [], []


def colorize(
    checkpoint: Path,
    images: Sequence[np.ndarray],
    render_size: int | None = None,
    device: str = "cpu",
) -> list[np.ndarray]:
    """Each image's luminance revived by the colorizer in ``checkpoint`` exactly as predict.py
    revives a photo (:class:`revive.restore.Restorer`), at ``render_size``."""
    options = RestoreOptions(colorizer=checkpoint, device=device, render_size=render_size)
    restorer = load_restorer(options)
    return [restorer.restore(torch.from_numpy(luminance(image))) for image in images]
