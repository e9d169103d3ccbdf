"""Two unaligned sets for CycleGAN: domain A (gray scans, e.g. the family's) and domain B (color
photos). Nothing pairs them: training sample ``i`` is A's ``i mod len(A)`` with a random B, as
upstream's ``unaligned`` dataset, and an epoch is as long as the larger side.

Each side has its own augmentation. A keeps the scans' aspect: the short side is scaled to
``a_load_size`` before a random crop (a plain square resize would squash portraits). B gets the
color sets' resize to ``load_size`` and random crop. Validation and test score the colorizer on
B's held-out photos, which have color truth. A training batch is a
:class:`~revive.batch.ColorBatch` holding ``scans`` (A) and ``rgb`` (B), uint8 [B,3,H,W];
validation batches hold ``rgb`` only, as every color set yields.
"""

from __future__ import annotations

import dataclasses
import random
from pathlib import Path
from typing import Any

import albumentations as A
import cv2
from torch.utils.data import Dataset

from revive.batch import ColorBatch
from revive.data.art import ReducedImageFiles
from revive.data.folder import FolderDataModule
from revive.io import IMAGE_EXTENSIONS, list_images


def scan_transform(load_size: int, crop_size: int, flip: bool, seed: int | None) -> A.Compose:
    """Domain A's augmentation: short side to ``load_size``, random crop, random flip."""
    steps: list[A.BasicTransform] = [
        A.SmallestMaxSize(max_size=load_size, interpolation=cv2.INTER_AREA),
        A.RandomCrop(crop_size, crop_size),
    ]
    if flip:
        steps.append(A.HorizontalFlip(p=0.5))
    return A.Compose(steps, seed=seed)


class UnpairedImages(Dataset):
    """Sample ``i``: A's ``i mod len(A)`` and a random B (drawn from python's ``random``,
    which Lightning seeds in each loader worker)."""

    def __init__(self, a: Dataset, b: Dataset) -> None:
        self.a, self.b = a, b
        self.datasets = [a, b]  # seed_worker reseeds both sides' augmentation through this

    def __len__(self) -> int:
        return max(len(self.a), len(self.b))

    def __getitem__(self, index: int) -> ColorBatch:
        scan = self.a[index % len(self.a)].rgb
        photo = self.b[random.randrange(len(self.b))]
        return dataclasses.replace(photo, scans=scan)


class UnpairedDataModule(FolderDataModule):
    """Domain B is a :class:`FolderDataModule` over ``b_root``; domain A every image under
    ``a_root``, training only."""

    def __init__(
        self, a_root: str, b_root: str, a_load_size: int = 286, a_flip: bool = True, **kwargs: Any
    ) -> None:
        super().__init__(root=b_root, **kwargs)
        self.a_root = Path(a_root).expanduser()
        self.a_tf = scan_transform(a_load_size, self.crop_size, a_flip, self.seed + 1)
        self.a_load_size = a_load_size

    def check_layout(self) -> None:
        if not self.a_root.is_dir() or not list_images(self.a_root):
            raise FileNotFoundError(
                f"data.a_root={self.a_root} holds no images ({', '.join(IMAGE_EXTENSIONS)}): "
                "point it at the gray scans (domain A)"
            )
        try:
            super().check_layout()
        except FileNotFoundError as e:
            raise FileNotFoundError(f"{e} (data.b_root: the color photos, domain B)") from e

    def make_dataset(self, split: str, transform: Any):
        photos = super().make_dataset(split, transform)
        if split != "train":
            return photos
        scans = ReducedImageFiles(list_images(self.a_root), self.a_tf, self.a_load_size)
        return UnpairedImages(scans, photos)
