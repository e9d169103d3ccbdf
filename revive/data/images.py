"""Datasets over decoded images: lists of files on disk, or arrays held in memory."""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from revive.batch import ColorBatch
from revive.io import ImageReadError, read_rgb

log = logging.getLogger(__name__)


def to_sample(rgb: np.ndarray) -> ColorBatch:
    """uint8 HWC array -> the sample every colorization dataset yields."""
    return ColorBatch(rgb=torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1))))


class ImageFiles(Dataset):
    """Images read from paths; a file that fails to decode is skipped with a warning naming it.

    The replacement is another file of the same split, so an epoch never crashes on one bad file.
    Bad files are remembered (per worker) and never retried.
    """

    def __init__(self, paths: Sequence[Path], transform: Any = None, max_retries: int = 50):
        if not paths:
            raise ValueError("ImageFiles got an empty list of paths")
        self.paths = list(paths)
        self.transform = transform
        self.max_retries = max_retries
        self.bad: set[int] = set()

    def __len__(self) -> int:
        return len(self.paths)

    def load(self, index: int) -> np.ndarray:
        """Decode one image (before augmentation); subclasses may crop or convert here."""
        return read_rgb(self.paths[index])

    def __getitem__(self, index: int) -> ColorBatch:
        rng = random.Random(index)
        for _ in range(self.max_retries):
            if index not in self.bad:
                try:
                    rgb = self.load(index)
                    break
                except ImageReadError as e:
                    self.bad.add(index)
                    log.warning("skipping unreadable image: %s", e)
            index = rng.randrange(len(self.paths))
        else:
            raise ImageReadError(
                f"{self.max_retries} unreadable images in a row, e.g. {self.paths[index]}"
            )
        if self.transform is not None:
            rgb = self.transform(image=rgb)["image"]
        return to_sample(rgb)


class RepeatedImages(Dataset):
    """``length`` random augmented views of a few in-memory images (one epoch = ``length``)."""

    def __init__(self, images: Sequence[np.ndarray], length: int, transform: Any):
        self.images, self.length, self.transform = list(images), length, transform

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> ColorBatch:
        image = self.images[index % len(self.images)]
        return to_sample(self.transform(image=image)["image"])
