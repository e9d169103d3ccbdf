"""Albumentations pipelines, applied to uint8 HWC arrays inside the DataLoader workers."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import albumentations as A
import cv2
import torch
from lightning.fabric.utilities.seed import pl_worker_init_function
from torch.utils.data import ConcatDataset, Dataset, Subset, get_worker_info


def train_transform(
    load_size: int = 286,
    crop_size: int = 256,
    flip: bool = True,
    random_resized_crop: Sequence[float] | None = None,
    seed: int | None = None,
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
    return A.Compose(steps, seed=seed)


def eval_transform(crop_size: int = 256) -> A.Compose:
    """Validation and test: the short side scaled to ``crop_size``, then the centre cut out.

    Deterministic, so that metrics are repeatable, and the aspect ratio is kept: a square
    resize would squash a portrait or a 3:2 scan, and the metrics would score squashed faces.
    """
    return A.Compose(
        [
            A.SmallestMaxSize(max_size=crop_size, interpolation=cv2.INTER_AREA),
            A.CenterCrop(crop_size, crop_size),
        ]
    )


def _transforms(dataset: Dataset) -> Iterator[A.Compose]:
    """The albumentations pipelines a dataset (or a concat/subset/pair of datasets) applies."""
    if isinstance(dataset, ConcatDataset) or isinstance(getattr(dataset, "datasets", None), list):
        for part in dataset.datasets:
            yield from _transforms(part)
    elif isinstance(dataset, Subset):
        yield from _transforms(dataset.dataset)
    else:
        if isinstance(getattr(dataset, "transform", None), A.Compose):
            yield dataset.transform
        inner = getattr(dataset, "dataset", None)  # a wrapper, e.g. DegradedInputs
        if isinstance(inner, Dataset):
            yield from _transforms(inner)


def seed_worker(worker_id: int) -> None:
    """DataLoader ``worker_init_fn``: seed python/numpy/torch as Lightning does, and reseed the
    augmentation pipelines, which keep their own generator that no global seed reaches.

    Without this every worker would replay the same augmentations (all start from one copied
    state), and ``seed_everything`` would not make augmentation reproducible.
    """
    pl_worker_init_function(worker_id)
    info = get_worker_info()
    for transform in _transforms(info.dataset):
        transform.set_random_seed(torch.initial_seed() % 2**32)
