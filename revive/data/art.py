"""Kaggle "Art Images: Drawing/Painting/Sculptures/Engravings" (thedownhill).

Layout: ``dataset_updated/training_set/<category>/`` and ``dataset_updated/validation_set/
<category>/``. The set is known to hold corrupt files and CMYK or grayscale images: corrupt files
are found at setup (a cheap header check) and at load time, skipped, and named in the log;
other modes are converted to RGB by :func:`revive.io.read_rgb`.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError
from tqdm import tqdm

from revive.data.images import ImageFiles
from revive.data.module import ImageDataModule
from revive.errors import UserError
from revive.io import ImageReadError, list_images, read_rgb, to_rgb

log = logging.getLogger(__name__)

ART_URL = (
    "https://www.kaggle.com/datasets/thedownhill/art-images-drawings-painting-sculpture-engraving"
)
SPLIT_FOLDERS = {"train": "training_set", "val": "validation_set"}
# Where the split folders may sit below data.root: the Kaggle zip nests them twice.
BASE_CANDIDATES = ("dataset_updated", ".", "musemart/dataset_updated")
_DECODE_ERRORS = (UnidentifiedImageError, OSError, ValueError, SyntaxError)


def read_rgb_reduced(path: str | os.PathLike, min_side: int | None) -> np.ndarray:
    """Like :func:`revive.io.read_rgb`, but a JPEG is decoded at the smallest DCT scale (1/2, 1/4,
    1/8) that keeps both sides at least ``min_side``: a 4000 px scan headed for a 286 px crop
    decodes several times faster, and the later resize only sees pixels it would have kept.
    """
    if min_side is None:
        return read_rgb(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                if img.format == "JPEG":
                    img.draft(None, (min_side, min_side))
                img.load()
                img = ImageOps.exif_transpose(img)
        return to_rgb(img)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise ImageReadError(f"{path} is larger than the decompression-bomb limit: {e}") from e
    except _DECODE_ERRORS as e:
        raise ImageReadError(f"cannot read image {path}: {e}") from e


class ReducedImageFiles(ImageFiles):
    """:class:`ImageFiles` that decode JPEGs no larger than the augmentation needs."""

    def __init__(self, paths: Sequence[Path], transform: Any = None, min_side: int | None = None):
        super().__init__(paths, transform)
        self.min_side = min_side

    def load(self, index: int) -> np.ndarray:
        return read_rgb_reduced(self.paths[index], self.min_side)


def decode_sizes(load_size: int, crop_size: int, random_resized_crop: Any) -> dict[str, int | None]:
    """The smallest side each split's decoder may reduce a JPEG to (None: full resolution).

    A random resized crop may zoom into a small region, so training then needs every pixel.
    """
    train = None if random_resized_crop is not None else max(load_size, crop_size)
    return {"train": train, "val": crop_size, "test": crop_size}


def find_unreadable(paths: Sequence[Path]) -> list[Path]:
    """Files whose header PIL cannot parse (``Image.verify``): cheap, catches junk and
    half-downloaded files; truncated pixel data is still caught at load time by ImageFiles."""
    bad = []
    for path in tqdm(paths, desc="checking images", leave=False, disable=len(paths) < 1000):
        try:
            with Image.open(path) as img:
                img.verify()
        except (*_DECODE_ERRORS, Image.DecompressionBombError):
            bad.append(path)
    return bad


class ArtDataModule(ImageDataModule):
    """Art Images: ``training_set`` is train, ``validation_set`` is val (and test)."""

    def __init__(
        self,
        root: str,
        categories: Sequence[str] = ("painting",),
        verify: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.root = Path(root).expanduser().absolute()
        if isinstance(categories, str):
            categories = [categories]
        if not categories:
            raise UserError("data.categories is empty; e.g. data.categories=[painting]")
        self.categories = list(categories)
        self.verify = verify
        self.min_side = decode_sizes(self.load_size, self.crop_size, self.random_resized_crop)
        self.skipped: list[Path] = []

    @property
    def base(self) -> Path:
        """The folder holding ``training_set/`` (data.root itself, or a folder inside it)."""
        for candidate in BASE_CANDIDATES:
            if (self.root / candidate / SPLIT_FOLDERS["train"]).is_dir():
                return self.root / candidate
        return self.root / BASE_CANDIDATES[0]

    def check_layout(self) -> None:
        train_dir = self.base / SPLIT_FOLDERS["train"]
        if not train_dir.is_dir():
            raise UserError(
                f"Art Images not found under data.root={self.root}. Expected\n"
                f"  {train_dir}/<category>/*.jpg\n"
                f"  {self.base / SPLIT_FOLDERS['val']}/<category>/*.jpg\n"
                f'Download "Art Images: Drawing/Painting/Sculptures/Engravings" (thedownhill) '
                f"from {ART_URL} and unzip it into {self.root}."
            )
        available = sorted(p.name for p in train_dir.iterdir() if p.is_dir())
        missing = [c for c in self.categories if not (train_dir / c).is_dir()]
        if missing:
            raise UserError(
                f"data.categories {missing} not found in {train_dir}; available: {available}"
            )

    def files(self, split: str) -> list[Path]:
        """The images of ``split`` over the chosen categories (before any check)."""
        folder = SPLIT_FOLDERS.get(split)
        if folder is None:
            return []
        return [p for c in self.categories for p in list_images(self.base / folder / c)]

    def make_dataset(self, split: str, transform: Any):
        paths = self.files(split)
        if self.verify and paths:
            bad = find_unreadable(paths)
            if bad:
                names = ", ".join(str(p.relative_to(self.base)) for p in bad)
                log.warning(
                    "art %s: skipping %d unreadable file(s) of %d: %s",
                    split,
                    len(bad),
                    len(paths),
                    names,
                )
                self.skipped += bad
                unreadable = set(bad)
                paths = [p for p in paths if p not in unreadable]
        if not paths:
            if split == "train":
                raise UserError(
                    f"no readable training images for categories {self.categories} under "
                    f"{self.base / SPLIT_FOLDERS['train']}"
                )
            return None
        return ReducedImageFiles(paths, transform, self.min_side[split])
