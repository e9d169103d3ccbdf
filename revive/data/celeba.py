"""CelebA, official aligned layout: ``img_align_celeba/*.jpg`` (178x218) and the split file.

``list_eval_partition.txt`` gives each file's split: 0 train, 1 val, 2 test. Kaggle's copy
(jessicali9530/celeba-dataset) nests the images one level deeper and ships the same list as
``list_eval_partition.csv``; both are accepted.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from revive.data.images import ImageFiles
from revive.data.module import ImageDataModule
from revive.errors import UserError

log = logging.getLogger(__name__)

CELEBA_URL = "https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html"
IMAGE_DIRS = ("img_align_celeba", "img_align_celeba/img_align_celeba", "Img/img_align_celeba")
PARTITION_FILES = (
    "list_eval_partition.txt",
    "Eval/list_eval_partition.txt",
    "list_eval_partition.csv",
)
PARTITION_SPLITS = {"0": "train", "1": "val", "2": "test"}
# Face centre of the aligned 178x218 images, as fractions of (width, height). The aligned set
# puts the eyes at fixed positions; (89, 121) is the centre the progressive-GAN CelebA crop uses.
FACE_CENTER = (89 / 178, 121 / 218)
DEFAULT_FACE_CROP = 128


def face_box(width: int, height: int, side: int) -> tuple[int, int, int, int]:
    """(top, left, bottom, right) of a ``side`` square around the face centre, inside the image."""
    side = min(side, width, height)
    cx, cy = FACE_CENTER[0] * width, FACE_CENTER[1] * height
    left = int(round(min(max(cx - side / 2, 0), width - side)))
    top = int(round(min(max(cy - side / 2, 0), height - side)))
    return top, left, top + side, left + side


class CelebAImages(ImageFiles):
    """Aligned faces, optionally cut to a square around the face before augmentation."""

    def __init__(self, paths: Sequence[Path], transform: Any, face_crop: int | None = None):
        super().__init__(paths, transform)
        self.face_crop = face_crop

    def load(self, index: int) -> np.ndarray:
        rgb = super().load(index)
        if self.face_crop is None:
            return rgb
        top, left, bottom, right = face_box(rgb.shape[1], rgb.shape[0], self.face_crop)
        return rgb[top:bottom, left:right]


def read_partition(path: Path) -> dict[str, list[str]]:
    """File names per split from ``list_eval_partition.txt`` (or Kaggle's ``.csv``)."""
    splits: dict[str, list[str]] = {s: [] for s in PARTITION_SPLITS.values()}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        fields = line.replace(",", " ").split()
        if not fields or fields[0] == "image_id":
            continue
        if len(fields) != 2 or fields[1] not in PARTITION_SPLITS:
            raise UserError(f"{path}:{number}: expected '<file>.jpg <0|1|2>', got {line.strip()!r}")
        splits[PARTITION_SPLITS[fields[1]]].append(fields[0])
    return splits


def _normalise_face_crop(face_crop: int | bool | None) -> int | None:
    if face_crop is True:
        return DEFAULT_FACE_CROP
    if face_crop is False or face_crop is None:
        return None
    if int(face_crop) < 8:
        raise UserError(f"data.face_crop={face_crop} is too small; use null, true or e.g. 128")
    return int(face_crop)


class CelebADataModule(ImageDataModule):
    """CelebA with its official train/val/test partition.

    ``face_crop``: side of a square cut around the face centre of the aligned image before the
    usual resize/crop/flip (``true`` = 128 px, ``null`` = whole image, as the seed did).
    """

    def __init__(self, root: str, face_crop: int | bool | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.root = Path(root).expanduser().absolute()
        self.face_crop = _normalise_face_crop(face_crop)
        self._splits: dict[str, list[Path]] | None = None

    def _find(self, candidates: Sequence[str], kind: str) -> Path | None:
        """The first candidate that is a file, or a folder holding JPEGs (Kaggle nests one)."""
        for candidate in candidates:
            path = self.root / candidate
            if kind == "file" and path.is_file():
                return path
            if kind == "dir" and path.is_dir() and next(path.glob("*.jpg"), None) is not None:
                return path
        return None

    def check_layout(self) -> None:
        images = self._find(IMAGE_DIRS, "dir")
        partition = self._find(PARTITION_FILES, "file")
        if images is None or partition is None:
            raise UserError(
                f"CelebA not found under data.root={self.root}. Expected\n"
                f"  {self.root / IMAGE_DIRS[0]}/000001.jpg ... (the aligned 178x218 JPEGs)\n"
                f"  {self.root / PARTITION_FILES[0]} (one line per file: 0 train, 1 val, 2 test)\n"
                f"Download img_align_celeba.zip ('Align&Cropped Images') and "
                f"Eval/list_eval_partition.txt from the Google Drive linked on {CELEBA_URL}, "
                f"and unzip them into {self.root}."
            )

    def splits(self) -> dict[str, list[Path]]:
        """Existing image paths per split; listed files that are absent are counted and logged."""
        if self._splits is None:
            self.check_layout()
            images = self._find(IMAGE_DIRS, "dir")
            names = read_partition(self._find(PARTITION_FILES, "file"))
            present = set(os.listdir(images))
            self._splits = {}
            for split, files in names.items():
                missing = [f for f in files if f not in present]
                if missing:
                    log.warning(
                        "celeba %s: %d of %d listed images are missing from %s (e.g. %s)",
                        split,
                        len(missing),
                        len(files),
                        images,
                        ", ".join(missing[:5]),
                    )
                self._splits[split] = [images / f for f in files if f in present]
        return self._splits

    def make_dataset(self, split: str, transform: Any):
        paths = self.splits().get(split)
        if not paths:
            if split == "train":
                raise UserError(
                    f"no training images: the partition file under {self.root} lists none "
                    "with split 0 that exist in img_align_celeba/"
                )
            return None
        return CelebAImages(paths, transform, self.face_crop)
