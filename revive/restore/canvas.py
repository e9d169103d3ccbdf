"""Where a photo sits in the colorizer's square canvas, and how the canvas's chroma returns to
the full-resolution photo.

The colorizer sees the luminance shrunk so that its long side is ``render_size``, centered on a
square canvas (a multiple of the U-Net's ``size_multiple``) whose margins mirror the picture: the
aspect ratio is kept, never squashed, and every photo of a run can share one batch. Only the
predicted chroma comes back: it is cropped to the picture, upsampled bilinearly, and applied to the
full-resolution luminance in bands of rows (:func:`merge_chroma`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from revive.color import gray_ab_to_rgb_pt

MERGE_PIXELS = 1 << 20  # bands of 1 MP: cache-friendly, few enough to keep thread sync cheap


@dataclass(frozen=True)
class Canvas:
    """Where a picture of ``height`` x ``width`` render pixels sits in a ``side``-square canvas."""

    side: int
    top: int
    left: int
    height: int
    width: int


def fit_canvas(height: int, width: int, render_size: int, multiple: int) -> Canvas:
    """Scale the long side to ``render_size`` (aspect kept) and center it in the canvas.

    The canvas side is ``render_size`` rounded up to the U-Net's size multiple, so every photo of
    a run shares one canvas size and can be batched.
    """
    side = math.ceil(render_size / multiple) * multiple
    scale = render_size / max(height, width)
    h, w = max(1, round(height * scale)), max(1, round(width * scale))
    return Canvas(side, (side - h) // 2, (side - w) // 2, h, w)


def mirror_indices(side: int, length: int, offset: int) -> torch.Tensor:
    """Indices into ``length`` pixels that fill ``side`` by repeated mirroring around ``offset``.

    Unlike ``F.pad(mode="reflect")`` this works for any margin, even around a 1-pixel picture.
    """
    i = (torch.arange(side) - offset) % (2 * length)
    return torch.where(i >= length, 2 * length - 1 - i, i)


def upsample_rows(small: torch.Tensor, height: int, top: int, bottom: int) -> torch.Tensor:
    """Rows ``top:bottom`` of ``small`` [C, h, W] bilinearly resized to height ``height``.

    The same half-pixel sampling as ``F.interpolate(mode="bilinear", align_corners=False)``,
    computed for a band of rows only so that full-resolution chroma never exists at once.
    """
    rows = small.shape[1]
    src = torch.arange(top, bottom, device=small.device, dtype=torch.float32) + 0.5
    src = (src * (rows / height) - 0.5).clamp(min=0.0)
    lo = src.floor().long().clamp(max=rows - 1)
    hi = (lo + 1).clamp(max=rows - 1)
    weight = (src - lo).view(1, -1, 1)
    return small[:, lo] * (1 - weight) + small[:, hi] * weight


def merge_chroma(
    gray: torch.Tensor, ab: torch.Tensor, box: Canvas, device: torch.device | str = "cpu"
) -> np.ndarray:
    """Full-res gray [H, W] + canvas chroma [2, S, S] -> uint8 RGB [H, W, 3], in row bands.

    Only one band of full-resolution chroma exists at a time, on ``device``.
    """
    height, width = gray.shape
    content = ab[:, box.top : box.top + box.height, box.left : box.left + box.width]
    # Bilinear is separable: widen every render row once, then each band of output rows.
    wide = F.interpolate(content[None], size=(box.height, width), mode="bilinear")[0]
    out = np.empty((height, width, 3), np.uint8)
    step = max(1, MERGE_PIXELS // width)
    for top in range(0, height, step):
        bottom = min(top + step, height)
        band = gray[top:bottom].to(device)
        chroma = upsample_rows(wide, height, top, bottom)
        out[top:bottom] = gray_ab_to_rgb_pt(band, chroma).cpu().numpy()
    return out
