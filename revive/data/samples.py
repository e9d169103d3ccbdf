"""The bundled sample set: color photographs shipped inside scikit-image (no download)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import skimage.data

from revive.data.images import RepeatedImages
from revive.data.module import ImageDataModule

TRAIN_NAMES = (
    "astronaut",
    "chelsea",
    "hubble_deep_field",
    "immunohistochemistry",
    "motorcycle_left",
    "motorcycle_right",
    "retina",
    "colorwheel",
)
VAL_NAMES = ("coffee", "rocket")


def load_sample(name: str) -> np.ndarray:
    """One bundled color photo as uint8 RGB."""
    if name in ("motorcycle_left", "motorcycle_right"):
        left, right, _ = skimage.data.stereo_motorcycle()
        return left if name == "motorcycle_left" else right
    image = getattr(skimage.data, name)()
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"skimage sample {name!r} is not an RGB photo")
    return image


class SamplesDataModule(ImageDataModule):
    """Random views of scikit-image's photos; ``coffee`` and ``rocket`` are held out for val."""

    def __init__(
        self,
        train_names: Sequence[str] = TRAIN_NAMES,
        val_names: Sequence[str] = VAL_NAMES,
        train_samples: int = 256,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.train_names, self.val_names = list(train_names), list(val_names)
        self.train_samples = train_samples

    def make_dataset(self, split: str, transform: Any):
        if split == "train":
            images = [load_sample(n) for n in self.train_names]
            return RepeatedImages(images, self.train_samples, transform)
        if split == "val":
            images = [load_sample(n) for n in self.val_names]
            # Two deterministic views per image: the whole frame and its central square.
            views = [img for img in images] + [_center_square(img) for img in images]
            return RepeatedImages(views, len(views), transform)
        return None


def _center_square(image: np.ndarray) -> np.ndarray:
    h, w = image.shape[:2]
    s = min(h, w)
    top, left = (h - s) // 2, (w - s) // 2
    return image[top : top + s, left : left + s]
