"""Reading one photo for a revival: the one way ``predict.py`` and the web page read a file.

A photo is refused from its size before any network runs (the output would be over a cap), and
only two things are kept of it: its full-resolution luminance, which the networks restore, and
its own colors at a small size, the "before" that users compare the result with.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from revive.io import ImageReadError, image_luminance, open_image, preview_rgb
from revive.restore.restorer import Restorer

# (width, height) of the photo -> (width, height) of its "before" picture.
PreviewSize = Callable[[int, int], tuple[int, int]]


@dataclass
class ReadPhoto:
    """What a revival needs of a photo file."""

    gray: torch.Tensor  # float32 [H, W] in [0, 1]: the luminance at full resolution
    before: np.ndarray  # uint8 RGB [h, w, 3]: the original's own colors, at the preview size


def read_photo(path: str | os.PathLike, restorer: Restorer, preview_size: PreviewSize) -> ReadPhoto:
    """Decode ``path`` (EXIF-rotated, any mode), refuse it when ``restorer`` would make an output
    over a cap, and keep its luminance and its preview. Raises ImageReadError for a file that
    cannot be read or converted, ValueError for a photo over a cap."""
    path = Path(path)
    img = open_image(path)
    try:
        restorer.check_size(img.height, img.width)  # an output over a cap: before any work
        try:
            before = preview_rgb(img, preview_size(img.width, img.height))
            gray = torch.from_numpy(image_luminance(img))
        except (OSError, ValueError) as e:
            raise ImageReadError(f"cannot convert {path} (mode {img.mode}): {e}") from e
    finally:
        img.close()
    return ReadPhoto(gray, before)
