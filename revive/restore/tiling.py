"""Run a fully convolutional network on an image of any size, tile by tile, without seams.

Each output tile is computed from an input window that extends ``overlap`` pixels beyond it on
every side where the image continues. When ``overlap`` is at least the network's receptive
radius, every kept pixel saw exactly the context it would see in one pass over the whole image,
so the tiled result equals the untiled one up to float rounding, while peak memory depends only
on the tile size.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch
from tqdm.auto import tqdm


def spans(length: int, tile: int, overlap: int) -> Iterator[tuple[int, int, int, int]]:
    """(core_start, core_end, window_start, window_end) along one axis.

    Cores partition ``[0, length)``; each window is its core widened by ``overlap``, clamped to
    the image (where the image ends, the network's own zero padding is the same in both passes).
    """
    if tile < 1:
        raise ValueError(f"tile size must be positive (got {tile})")
    for start in range(0, length, tile):
        end = min(start + tile, length)
        yield start, end, max(0, start - overlap), min(length, end + overlap)


def run_tiled(
    fn: Callable[[torch.Tensor], torch.Tensor],
    image: torch.Tensor,
    tile: int,
    overlap: int,
    device: torch.device | str = "cpu",
    out_channels: int | None = None,
    desc: str | None = None,
    scale: int = 1,
) -> torch.Tensor:
    """``fn`` over a [C, H, W] image in tiles of ``tile`` pixels; the result stays on the CPU.

    ``fn`` maps [1, C, h, w] to [1, C', scale * h, scale * w] on ``device`` (``scale`` > 1 for
    super-resolution); only one window lives there at a time. A progress bar (``desc``) appears
    when there are more than a few tiles.
    """
    channels, height, width = image.shape
    rows, cols = list(spans(height, tile, overlap)), list(spans(width, tile, overlap))
    s = scale
    out = torch.empty((out_channels or channels, s * height, s * width), dtype=image.dtype)
    bar = tqdm(
        total=len(rows) * len(cols), desc=desc, leave=False, disable=len(rows) * len(cols) < 8
    )
    with bar:
        for top, bottom, win_top, win_bottom in rows:
            for left, right, win_left, win_right in cols:
                window = image[:, win_top:win_bottom, win_left:win_right]
                result = fn(window.unsqueeze(0).to(device))[0]
                core = result[
                    :,
                    s * (top - win_top) : s * (bottom - win_top),
                    s * (left - win_left) : s * (right - win_left),
                ]
                out[:, s * top : s * bottom, s * left : s * right] = core.to("cpu", image.dtype)
                bar.update()
    return out
