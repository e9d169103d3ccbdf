"""The family's own scans: a recursive folder of old photos of any size, format and mode.

Most are gray or sepia, so there is no color truth to learn from. The set serves three jobs:

- logger panels and ``trainer.validate``/``test``: gray -> colorized, with the scan itself in the
  "truth" column (PSNR against a gray scan means little; ``colorfulness`` is the number to read);
- reference-free evaluation (colorfulness of the colorized scans);
- denoising patches: point ``data=denoise`` (``data.root``) at the same folder.

A sample is a :class:`~revive.batch.ColorBatch` whose ``rgb`` (uint8 [3,H,W]) is the scan as
read (EXIF-rotated, 16-bit scaled, alpha flattened); colorizers take its luminance, so a sepia
tone does not leak into their input. Training a colorizer on it is refused with an explanation
rather than faking targets.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from revive.data.art import ReducedImageFiles
from revive.data.module import ImageDataModule
from revive.errors import UserError
from revive.io import IMAGE_EXTENSIONS, list_images


class NoColorTargetsError(UserError):
    """Raised when ``data=family`` is asked for training batches."""


class FamilyDataModule(ImageDataModule):
    """Every image under ``root`` (recursively), as the ``val`` and ``test`` split."""

    def __init__(self, root: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.root = Path(root).expanduser().absolute()

    def check_layout(self) -> None:
        if not self.root.is_dir():
            raise UserError(
                f"data.root={self.root} is not a folder. Put the family's scans there (any "
                f"subfolders, {', '.join(IMAGE_EXTENSIONS)}) or pass data.root=PATH."
            )
        if not list_images(self.root):
            raise UserError(
                f"no images ({', '.join(IMAGE_EXTENSIONS)}) found under data.root={self.root}"
            )

    def setup(self, stage: str | None = None) -> None:
        if stage == "fit":
            raise NoColorTargetsError(
                "data=family holds scans without color ground truth (most are gray), so a "
                "colorizer trained on it would only learn to output gray. Train on data=celeba, "
                "art, colorization or mix; use data=family to validate or test a trained model "
                "(panels and colorfulness), with predict.py to colorize the scans, or as a source "
                f"of denoising patches: model=dncnn data=denoise data.root={self.root} "
                "data.val_dir=<clean images>"
            )
        super().setup(stage)

    def make_dataset(self, split: str, transform: Any):
        if split != "val":
            return None
        return ReducedImageFiles(list_images(self.root), self.eval_tf, self.crop_size)
