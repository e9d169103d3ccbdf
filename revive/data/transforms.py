"""Albumentations pipelines, applied to uint8 HWC arrays inside the DataLoader workers."""

from __future__ import annotations

from collections.abc import Sequence

import albumentations as A
import cv2


def train_transform(
    load_size: int = 286,
    crop_size: int = 256,
    flip: bool = True,
    random_resized_crop: Sequence[float] | None = None,
) -> A.Compose:
    """The seed's augmentation: resize to ``load_size``, random ``crop_size`` crop, random h-flip.

    ``random_resized_crop`` (a scale range such as ``[0.25, 1.0]``) first cuts a random region,
    which turns a handful of large photos into many distinct training views.
    """
    steps: list[A.BasicTransform] = []
    if random_resized_crop is not None:
        steps.append(
            A.RandomResizedCrop(
                size=(load_size, load_size),
                scale=tuple(random_resized_crop),
                interpolation=cv2.INTER_AREA,
            )
        )
    else:
        steps.append(A.Resize(load_size, load_size, interpolation=cv2.INTER_CUBIC))
    steps.append(A.RandomCrop(crop_size, crop_size))
    if flip:
        steps.append(A.HorizontalFlip(p=0.5))
    return A.Compose(steps)


def eval_transform(crop_size: int = 256) -> A.Compose:
    """Validation and test: a plain resize to ``crop_size`` so that metrics are repeatable."""
    return A.Compose([A.Resize(crop_size, crop_size, interpolation=cv2.INTER_AREA)])
