"""Any tree of images: split by ``train/ val/ test/`` subfolders, or by a seeded fraction."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from revive.data.images import ImageFiles
from revive.data.module import ImageDataModule
from revive.errors import UserError
from revive.io import IMAGE_EXTENSIONS, list_images


class FolderDataModule(ImageDataModule):
    """Images under ``root``. With ``root/train`` and ``root/val`` those are the splits;
    otherwise every image found recursively is split with ``val_fraction`` and ``seed``."""

    def __init__(self, root: str, val_fraction: float = 0.1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.root = Path(root).expanduser()
        self.val_fraction = val_fraction

    def check_layout(self) -> None:
        if not self.root.is_dir():
            raise UserError(f"data.root={self.root} is not a folder of images")
        if not list_images(self.root):
            raise UserError(
                f"no images ({', '.join(IMAGE_EXTENSIONS)}) found under data.root={self.root}"
            )

    def _splits(self) -> dict[str, list[Path]]:
        if (self.root / "train").is_dir():
            return {
                s: list_images(self.root / s)
                for s in ("train", "val", "test")
                if (self.root / s).is_dir()
            }
        paths = list_images(self.root)
        random.Random(self.seed).shuffle(paths)
        n_val = max(1, round(len(paths) * self.val_fraction)) if len(paths) > 1 else 0
        return {"train": sorted(paths[n_val:]), "val": sorted(paths[:n_val] or paths)}

    def make_dataset(self, split: str, transform: Any):
        paths = self._splits().get(split)
        if not paths:
            if split == "train":
                raise UserError(f"no training images under {self.root / 'train'}")
            return None
        return ImageFiles(paths, transform)
