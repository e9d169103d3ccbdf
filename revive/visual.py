"""Turning tensors into pictures: panels, grids and side-by-side comparisons."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch


def to_uint8(image: torch.Tensor) -> np.ndarray:
    """[3,H,W] or [1,H,W] float in [0,1] -> uint8 HWC (gray becomes 3 channels)."""
    image = image.detach().float().clamp(0, 1).cpu()
    if image.shape[0] == 1:
        image = image.expand(3, -1, -1)
    return (image.permute(1, 2, 0).numpy() * 255.0 + 0.5).astype(np.uint8)


def grid(rows: Sequence[Sequence[np.ndarray]], pad: int = 4, fill: int = 255) -> np.ndarray:
    """Lay out uint8 HWC images in rows; cells are padded to the largest cell of their row/column."""
    heights = [max(img.shape[0] for img in row) for row in rows]
    n_cols = max(len(row) for row in rows)
    widths = [max(row[c].shape[1] for row in rows if c < len(row)) for c in range(n_cols)]
    out = np.full(
        (sum(heights) + pad * (len(rows) + 1), sum(widths) + pad * (n_cols + 1), 3), fill, np.uint8
    )
    y = pad
    for row, h in zip(rows, heights, strict=True):
        x = pad
        for c, img in enumerate(row):
            if img.ndim == 2:
                img = np.repeat(img[..., None], 3, axis=2)
            out[y : y + img.shape[0], x : x + img.shape[1]] = img
            x += widths[c] + pad
        y += h + pad
    return out


def panel(columns: dict[str, torch.Tensor]) -> np.ndarray:
    """One row per image, one column per entry (e.g. gray | prediction | truth)."""
    names = list(columns)
    n = columns[names[0]].shape[0]
    return grid([[to_uint8(columns[name][i]) for name in names] for i in range(n)])
