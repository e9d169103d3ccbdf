"""Clean images for training denoisers: DnCNN's patch sampling and whole-image val/test folders.

Training follows the DnCNN paper and cszn's ``data_generator.py``: every image is rescaled by
each of ``scales`` (bicubic), cut into ``patch_size`` patches on a ``stride`` grid, and each
patch gets one of the 8 flips/rotations at random. One epoch visits every grid patch once: for
Train400 (180x180) that is 596 patches per image, 238,400 in all. Noise is added later, on the
device, by the LightningModule.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from revive.batch import DenoiseBatch
from revive.color import luma_uint8
from revive.data.module import DataModule
from revive.errors import UserError
from revive.io import IMAGE_EXTENSIONS, ImageReadError, list_images, read_rgb

log = logging.getLogger(__name__)


def read_clean(path: str | Path, channels: int) -> np.ndarray:
    """uint8 HxWxC with C = ``channels``: RGB, or gray by ITU-R 601 luma (gray files as stored)."""
    rgb = read_rgb(path)
    if channels == 3:
        return rgb
    if channels == 1:
        return luma_uint8(rgb)[..., None]
    raise UserError(f"channels must be 1 (gray) or 3 (RGB), got {channels}")


def to_tensor(image: np.ndarray) -> torch.Tensor:
    """uint8 HWC -> float32 CHW in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1), np.float32)) / 255.0


def dihedral(image: np.ndarray, mode: int) -> np.ndarray:
    """One of the 8 rotations (``mode % 4`` quarter turns) and flips (``mode >= 4``) of HWC."""
    out = np.rot90(image, mode % 4, axes=(0, 1))
    return out[::-1] if mode >= 4 else out


def image_folder(path: str | Path, key: str) -> list[Path]:
    """The images of a folder named by config key ``key``, or a UserError saying so."""
    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise UserError(f"{key}={path} is not a folder (looked at {folder.resolve()})")
    paths = list_images(folder)
    if not paths:
        raise UserError(
            f"no images ({', '.join(IMAGE_EXTENSIONS)}) in {key}={path} ({folder.resolve()})"
        )
    return paths


class PatchDataset(Dataset):
    """All ``patch_size`` patches on a ``stride`` grid of each image at each scale."""

    def __init__(
        self,
        images: Sequence[np.ndarray],
        patch_size: int = 40,
        stride: int = 10,
        scales: Sequence[float] = (1.0, 0.9, 0.8, 0.7),
        augment: bool = True,
    ) -> None:
        self.patch_size, self.augment = patch_size, augment
        self.images: list[np.ndarray] = []
        corners = []
        for image in images:
            h, w = image.shape[:2]
            for scale in scales:
                sh, sw = int(h * scale), int(w * scale)
                if min(sh, sw) < patch_size:
                    continue
                scaled = image if scale == 1 else _resize(image, sw, sh)
                ys = np.arange(0, sh - patch_size + 1, stride)
                xs = np.arange(0, sw - patch_size + 1, stride)
                grid = np.stack(np.meshgrid(ys, xs, indexing="ij"), -1).reshape(-1, 2)
                index = np.full((len(grid), 1), len(self.images))
                corners.append(np.concatenate([index, grid], 1))
                self.images.append(scaled)
        if not corners:
            raise UserError(f"no image is at least {patch_size}x{patch_size} pixels")
        self.corners = np.concatenate(corners).astype(np.int32)  # (image, y, x) per patch

    def __len__(self) -> int:
        return len(self.corners)

    def __getitem__(self, index: int) -> DenoiseBatch:
        i, y, x = self.corners[index]
        patch = self.images[i][y : y + self.patch_size, x : x + self.patch_size]
        if self.augment:
            patch = dihedral(patch, int(torch.randint(8, ()).item()))
        return DenoiseBatch(clean=to_tensor(patch))


def _resize(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Bicubic resize of uint8 HxWxC (cv2.INTER_CUBIC in the original code)."""
    if image.shape[2] == 1:
        out = Image.fromarray(image[..., 0]).resize((width, height), Image.BICUBIC)
        return np.asarray(out)[..., None]
    return np.asarray(Image.fromarray(image).resize((width, height), Image.BICUBIC))


class WholeImages(Dataset):
    """Whole clean images for validation and testing (sizes vary: use batch size 1)."""

    def __init__(self, paths: Sequence[Path], channels: int) -> None:
        self.paths, self.channels = list(paths), channels

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> DenoiseBatch:
        return DenoiseBatch(clean=to_tensor(read_clean(self.paths[index], self.channels)))


class DenoiseDataModule(DataModule):
    """``root``: clean training images; ``val_dir``/``test_dir``: whole images to score on.

    Validation and test go one image at a time (the images' sizes differ). Degraded inputs
    (``noisy``) keep the patches' ``channels``. Other keys: :class:`DataModule`'s.
    """

    def __init__(
        self,
        root: str,
        val_dir: str | None = None,
        test_dir: str | None = None,
        channels: int = 1,
        patch_size: int = 40,
        stride: int = 10,
        scales: Sequence[float] = (1.0, 0.9, 0.8, 0.7),
        batch_size: int = 128,
        **kwargs: Any,
    ) -> None:
        if channels not in (1, 3):
            raise UserError(f"data.channels must be 1 (gray) or 3 (RGB), got {channels}")
        super().__init__(
            batch_size=batch_size, val_batch_size=1, **kwargs, channels=channels, gray=False
        )
        self.root, self.val_dir, self.test_dir = root, val_dir, test_dir
        self.channels, self.patch_size, self.stride = channels, patch_size, stride
        self.scales = tuple(scales)

    def check_layout(self) -> None:
        """Fail before training when a folder is missing, naming the config key to fix."""
        image_folder(self.root, "data.root")
        if self.val_dir is None:
            raise UserError(
                "data.val_dir is not set: give a folder of clean whole images to validate on, "
                "e.g. data.val_dir=data/Set12"
            )
        image_folder(self.val_dir, "data.val_dir")
        if self.test_dir is not None:
            image_folder(self.test_dir, "data.test_dir")

    def load_training_images(self) -> list[np.ndarray]:
        """Every readable image under ``root``; unreadable files are skipped with a warning."""
        images = []
        for path in image_folder(self.root, "data.root"):
            try:
                images.append(read_clean(path, self.channels))
            except ImageReadError as e:
                log.warning("skipping unreadable training image: %s", e)
        if not images:
            raise UserError(f"no readable image under data.root={self.root}")
        return images

    def setup(self, stage: str | None = None) -> None:
        """The patches only when fitting (cutting them reads and rescales every image)."""
        self.check_layout()
        if stage in (None, "fit") and "train" not in self.datasets:
            patches = PatchDataset(
                self.load_training_images(), self.patch_size, self.stride, self.scales
            )
            # data.degrade=old_photo: patches gain a degraded copy (``noisy``) to learn to clean.
            self.datasets["train"] = self.degraded(patches)
        if "val" not in self.datasets:
            paths = image_folder(self.val_dir, "data.val_dir")
            self.datasets["val"] = WholeImages(paths, self.channels)
        if self.test_dir is not None and "test" not in self.datasets:
            paths = image_folder(self.test_dir, "data.test_dir")
            self.datasets["test"] = WholeImages(paths, self.channels)
