"""The contact sheet of an evaluation: gray baseline | revived | truth, one photo per row.

Numbers alone hide what a colorizer does (a sepia wash, a purple smear); the sheet shows it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from revive.visual import grid

SHEET_SIDE = 192  # long side of each cell of the contact sheet


@dataclass
class SheetRow:
    """One photo of the contact sheet: gray baseline | revived | truth (None without truth)."""

    name: str
    gray: np.ndarray
    revived: np.ndarray
    truth: np.ndarray | None


def thumbnail(image: np.ndarray, side: int = SHEET_SIDE) -> np.ndarray:
    """``image`` shrunk (never enlarged) so that its long side is at most ``side``."""
    height, width = image.shape[:2]
    scale = min(1.0, side / max(height, width))
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    if size == (width, height):
        return image
    return np.asarray(Image.fromarray(image).resize(size, Image.Resampling.LANCZOS))


def contact_sheet(rows: list[SheetRow]) -> np.ndarray:
    """gray | revived | truth, one photo per row (rows without truth have two cells)."""

    return grid([[r.gray, r.revived] + ([] if r.truth is None else [r.truth]) for r in rows])
