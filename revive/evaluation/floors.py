"""The two floors a colorizer must beat, through the restorer's own merge.

The **gray baseline** keeps the output's luminance with zero chroma (L* kept, a* = b* = 0). The
**wash** gives every pixel one a*b*, the folder's mean chroma over all its truth pixels (on faces
a constant skin tone beats gray by several dB).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from revive.evaluation.truth import cut_to_multiple, truth_of
from revive.io import ImageReadError, open_image
from revive.restore.restorer import Restorer


def gray_baseline(restorer: Restorer, light: torch.Tensor) -> np.ndarray:
    """The output's luminance kept, chroma zero: the restorer's own merge fed an all-zero
    chroma canvas."""
    box = restorer.canvas(*light.shape)
    return restorer.merge(light, torch.zeros(2, box.side, box.side), box)


def wash_baseline(restorer: Restorer, light: torch.Tensor, mean_ab: torch.Tensor) -> np.ndarray:
    """The output's luminance kept, every pixel given the chroma ``mean_ab`` [2] (a*b* units),
    through the restorer's own merge."""
    box = restorer.canvas(*light.shape)
    return restorer.merge(light, mean_ab.view(2, 1, 1).expand(2, box.side, box.side), box)


def mean_chroma(photos: list[np.ndarray]) -> torch.Tensor:
    """The mean a*b* [2] over every pixel of ``photos`` (uint8 RGB): each pixel counts once,
    so a large photo weighs more than a small one."""
    import kornia.color as kc

    total, count = torch.zeros(2, dtype=torch.float64), 0
    for rgb in photos:
        tensor = torch.from_numpy(np.array(rgb, np.float32)).permute(2, 0, 1) / 255.0
        ab = kc.rgb_to_lab(tensor)[1:].flatten(1).double()
        total += ab.sum(1)
        count += ab.shape[1]
    return (total / max(count, 1)).float()


def folder_chroma(paths: list[Path], scale: int, progress: bool) -> torch.Tensor:
    """:func:`mean_chroma` of the truths of ``paths`` (read as the scoring pass reads them;
    unreadable files and photos without truth are left out)."""

    def truths():
        for path in tqdm(paths, desc="mean chroma", unit="photo", disable=not progress):
            try:
                img = open_image(path)
                truth, _ = truth_of(cut_to_multiple(img, scale) if scale > 1 else img)
            except (ImageReadError, OSError, ValueError):
                continue
            if truth is not None:
                yield truth

    return mean_chroma(truths())
