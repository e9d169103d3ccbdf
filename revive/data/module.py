"""The one DataModule base: loaders, worker settings and the training inputs' degradation.

:class:`DataModule` owns everything a dataset's loaders share, so that each dataset only says
which samples its splits hold (its ``setup`` fills ``self.datasets``). Two families build on it:
:class:`ImageDataModule`, the colorization sets (one ``make_dataset`` per split of an on-disk
layout, with the resize/crop/flip augmentation), and
:class:`~revive.data.denoise.DenoiseDataModule`, DnCNN's patches. Their config keys are written
once, in ``conf/data/shared/``, and composed into each ``conf/data/*.yaml``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import lightning as L
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from revive.batch import collate
from revive.data.old_photo import DegradedInputs, degradation
from revive.data.transforms import eval_transform, seed_worker, train_transform
from revive.errors import UserError

SPLITS = ("train", "val", "test")


def resolve_pin_memory(pin_memory: bool | str) -> bool:
    """``"auto"``: pin batches when there is a CUDA GPU, so that Lightning's non-blocking copies
    to it overlap with compute (pinning is wasted work without a GPU)."""
    if pin_memory == "auto":
        return torch.cuda.is_available()
    if isinstance(pin_memory, str):
        raise UserError(f"pin_memory must be true, false or auto (got {pin_memory!r})")
    return bool(pin_memory)


class DataModule(L.LightningDataModule):
    """The train/val/test loaders over ``self.datasets``, which a subclass fills in ``setup``.

    ``val_batch_size`` (default: ``batch_size``) batches validation and test. ``degrade`` and
    ``degradations`` (``data.degrade=old_photo``) give training samples a degraded copy of
    their image, in the form the model takes: ``channels`` and ``gray`` as
    :func:`~revive.data.old_photo.old_photo_pipeline` reads them. Subclasses state that form,
    it is not a config key.
    """

    def __init__(
        self,
        batch_size: int = 1,
        val_batch_size: int | None = None,
        num_workers: int = 2,
        pin_memory: bool | str = "auto",
        persistent_workers: bool = True,
        seed: int = 0,
        degrade: str | None = None,
        degradations: Mapping[str, Mapping[str, Any]] | None = None,
        *,
        channels: int,
        gray: bool,
    ) -> None:
        super().__init__()
        self.batch_size = batch_size
        self.val_batch_size = val_batch_size or batch_size
        self.num_workers = num_workers
        self.pin_memory = resolve_pin_memory(pin_memory)
        self.persistent_workers = persistent_workers and num_workers > 0
        self.seed = seed
        self.degrade_tf = degradation(degrade, degradations, seed, channels, gray)
        self.datasets: dict[str, Dataset] = {}

    def check_layout(self) -> None:
        """Raise a UserError naming the expected paths when the data are not there."""

    def prepare_data(self) -> None:
        self.check_layout()

    def degraded(self, dataset: Dataset) -> Dataset:
        """The training set with a degraded copy of each input, when ``degrade`` is set."""
        return dataset if self.degrade_tf is None else DegradedInputs(dataset, self.degrade_tf)

    def split_sizes(self) -> dict[str, int]:
        """Number of samples per split, for ``revive.data.inspect`` and logs."""
        self.setup()
        return {name: len(ds) for name, ds in self.datasets.items()}

    def _loader(self, split: str, shuffle: bool, sampler: Sampler | None = None) -> DataLoader:
        """One split's loader; ``sampler`` (which then replaces ``shuffle``) sets the epoch."""
        if split not in self.datasets:
            raise ValueError(f"{type(self).__name__} has no {split!r} split")
        per_epoch = len(sampler) if sampler is not None else len(self.datasets[split])
        return DataLoader(
            self.datasets[split],
            batch_size=self.batch_size if split == "train" else self.val_batch_size,
            shuffle=shuffle,
            sampler=sampler,
            num_workers=self.num_workers,
            pin_memory=self.pin_memory,
            persistent_workers=self.persistent_workers,
            # reseeds the augmentation and degradation pipelines (each keeps its own generator)
            worker_init_fn=seed_worker if self.num_workers > 0 else None,
            drop_last=split == "train" and per_epoch > self.batch_size,
            collate_fn=collate,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        """The test split, or the val split for a dataset that has none."""
        return self._loader("test" if "test" in self.datasets else "val", shuffle=False)


class ImageDataModule(DataModule):
    """The colorization sets: color photos resized to ``load_size``, randomly cut to
    ``crop_size`` and flipped (``random_resized_crop``: a random region first) for training,
    their centre ``crop_size`` square for validation and test. Degraded inputs are the gray of
    an old scan, the colorizer's input. Other keys: :class:`DataModule`'s.

    Each on-disk layout implements ``check_layout`` (fail early, naming the expected paths) and
    ``make_dataset`` (one split).
    """

    def __init__(
        self,
        load_size: int = 286,
        crop_size: int = 256,
        flip: bool = True,
        random_resized_crop: Sequence[float] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs, channels=3, gray=True)
        self.load_size, self.crop_size = load_size, crop_size
        self.flip, self.random_resized_crop = flip, random_resized_crop
        self.train_tf = train_transform(load_size, crop_size, flip, random_resized_crop, self.seed)
        self.eval_tf = eval_transform(crop_size)

    def make_dataset(self, split: str, transform: Any) -> Dataset | None:
        """Build the dataset of one split (``None`` when the layout has no such split)."""
        raise NotImplementedError

    def setup(self, stage: str | None = None) -> None:
        if self.datasets:
            return
        self.check_layout()
        for split in SPLITS:
            ds = self.make_dataset(split, self.train_tf if split == "train" else self.eval_tf)
            if ds is not None:
                self.datasets[split] = self.degraded(ds) if split == "train" else ds
