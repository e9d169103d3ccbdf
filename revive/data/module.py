"""The shared DataModule: loaders, worker settings and the train/val/test datasets.

Each on-disk layout subclasses :class:`ImageDataModule` and implements ``check_layout`` (fail
early, naming the expected paths) and ``make_dataset`` (one split).
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


class ImageDataModule(L.LightningDataModule):
    """Common loader plumbing for every colorization dataset."""

    def __init__(
        self,
        batch_size: int = 1,
        val_batch_size: int | None = None,
        num_workers: int = 2,
        pin_memory: bool | str = "auto",
        persistent_workers: bool = True,
        load_size: int = 286,
        crop_size: int = 256,
        flip: bool = True,
        random_resized_crop: Sequence[float] | None = None,
        seed: int = 0,
        degrade: str | None = None,
        degradations: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        super().__init__()
        self.batch_size = batch_size
        self.val_batch_size = val_batch_size or batch_size
        self.num_workers = num_workers
        self.pin_memory = resolve_pin_memory(pin_memory)
        self.persistent_workers = persistent_workers and num_workers > 0
        self.load_size, self.crop_size, self.seed = load_size, crop_size, seed
        self.flip, self.random_resized_crop = flip, random_resized_crop
        self.train_tf = train_transform(load_size, crop_size, flip, random_resized_crop, seed)
        self.eval_tf = eval_transform(crop_size)
        # data.degrade=old_photo: training inputs look like old gray scans; targets stay clean.
        self.degrade_tf = degradation(degrade, degradations, seed, gray=True)
        self.datasets: dict[str, Dataset] = {}

    # -- to implement per layout -------------------------------------------------------------
    def check_layout(self) -> None:
        """Raise a UserError naming the expected paths when the data are not there."""

    def make_dataset(self, split: str, transform: Any) -> Dataset | None:
        """Build the dataset of one split (``None`` when the layout has no such split)."""
        raise NotImplementedError

    # -- Lightning hooks ---------------------------------------------------------------------
    def prepare_data(self) -> None:
        self.check_layout()

    def setup(self, stage: str | None = None) -> None:
        if self.datasets:
            return
        self.check_layout()
        for split in SPLITS:
            ds = self.make_dataset(split, self.train_tf if split == "train" else self.eval_tf)
            if ds is not None:
                self.datasets[split] = self.degraded(ds) if split == "train" else ds

    def degraded(self, dataset: Dataset) -> Dataset:
        """The training set with a degraded copy of each input, when ``degrade`` is set."""
        return dataset if self.degrade_tf is None else DegradedInputs(dataset, self.degrade_tf)

    def split_sizes(self) -> dict[str, int]:
        """Number of samples per split, for ``revive.data.inspect`` and logs."""
        self.setup()
        return {name: len(ds) for name, ds in self.datasets.items()}

    def _loader(self, split: str, shuffle: bool, sampler: Sampler | None = None) -> DataLoader:
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
            worker_init_fn=seed_worker if self.num_workers > 0 else None,
            drop_last=split == "train" and per_epoch > self.batch_size,
            collate_fn=collate,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test" if "test" in self.datasets else "val", shuffle=False)
