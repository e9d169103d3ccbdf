"""Kaggle "Image Colorization Dataset" (shravankumar9892): 25,000 images stored as LAB arrays.

``l/gray_scale.npy`` is [N,224,224] uint8 and ``ab/ab/ab1.npy``, ``ab2.npy``, ``ab3.npy`` are
[n_i,224,224,2] uint8 whose rows, concatenated, match the L rows. The values are OpenCV's 8-bit
LAB encoding: L*255/100, a+128, b+128. The arrays are memory-mapped (the L file alone is
1.25 GB) and only the rows a worker asks for are read.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from revive.batch import ColorBatch
from revive.data.module import ImageDataModule
from revive.errors import UserError

COLORIZATION_URL = "https://www.kaggle.com/datasets/shravankumar9892/image-colorization"
L_FILE = "l/gray_scale.npy"
AB_DIRS = ("ab/ab", "ab")
OUTPUTS = ("lab", "rgb")


def decode_lab(lab8: np.ndarray) -> np.ndarray:
    """OpenCV 8-bit LAB [...,3] uint8 -> float32 LAB with L in [0,100], a and b in [-128,127].

    The stored values are (L*255/100, a+128, b+128). The arithmetic runs on whole channel
    planes: numpy broadcasting over a last axis of 3 is several times slower.
    """
    planes = np.ascontiguousarray(np.moveaxis(lab8, -1, 0), dtype=np.float32)
    planes[0] *= 100.0 / 255.0
    planes[1:] -= 128.0
    return np.ascontiguousarray(np.moveaxis(planes, 0, -1))


def lab_tensor(lab: np.ndarray) -> torch.Tensor:
    """float32 LAB [H,W,3] -> [3,H,W], clipped to the LAB range (cubic resampling overshoots)."""
    planes = np.ascontiguousarray(lab.transpose(2, 0, 1))
    np.clip(planes[0], 0.0, 100.0, out=planes[0])
    np.clip(planes[1:], -128.0, 127.0, out=planes[1:])
    return torch.from_numpy(planes)


def _natural_key(path: Path) -> list[Any]:
    """``ab2.npy`` before ``ab10.npy``."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", path.name)]


def _count(n: int, fraction: float) -> int:
    """Images for a held-out split: at least one whenever the fraction is not zero."""
    return max(1, int(round(n * fraction))) if fraction > 0 else 0


class LabArrays(Dataset):
    """Rows of the memory-mapped L and ab arrays, augmented jointly.

    Yields :class:`~revive.batch.ColorBatch` samples whose ``lab`` (float32 [3,H,W]) is decoded
    exactly from the stored encoding, or with ``output="rgb"`` whose ``rgb`` (uint8 [3,H,W]) is
    OpenCV's inverse of its encoding, so that the set can share batches with RGB datasets in a
    mix. The arrays are opened lazily in each worker and never pickled.
    """

    def __init__(
        self,
        l_path: Path,
        ab_paths: Sequence[Path],
        indices: Sequence[int],
        transform: Any = None,
        output: str = "lab",
    ) -> None:
        if output not in OUTPUTS:
            raise UserError(f"output={output!r}; expected one of {OUTPUTS}")
        self.l_path, self.ab_paths = Path(l_path), [Path(p) for p in ab_paths]
        self.indices = np.asarray(indices, dtype=np.int64)
        self.transform, self.output = transform, output
        self._arrays: tuple[np.ndarray, list[np.ndarray], list[int]] | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_arrays"] = None  # a pickled memmap would copy the whole array
        return state

    def _open(self) -> tuple[np.ndarray, list[np.ndarray], list[int]]:
        if self._arrays is None:
            light = np.load(self.l_path, mmap_mode="r")
            ab = [np.load(p, mmap_mode="r") for p in self.ab_paths]
            starts = np.cumsum([0] + [len(a) for a in ab[:-1]]).tolist()
            self._arrays = (light, ab, starts)
        return self._arrays

    def __len__(self) -> int:
        return len(self.indices)

    def encoded(self, index: int) -> np.ndarray:
        """Row ``index`` of this split as stored: uint8 [H,W,3] in OpenCV's LAB encoding."""
        light, ab, starts = self._open()
        row = int(self.indices[index])
        chunk = bisect.bisect_right(starts, row) - 1
        return np.dstack([light[row], ab[chunk][row - starts[chunk]]])

    def __getitem__(self, index: int) -> ColorBatch:
        lab8 = self.encoded(index)
        if self.output == "rgb":
            rgb = cv2.cvtColor(lab8, cv2.COLOR_LAB2RGB)
            if self.transform is not None:
                rgb = self.transform(image=rgb)["image"]
            return ColorBatch(rgb=torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1))))
        lab = decode_lab(lab8)
        if self.transform is not None:
            # Geometric steps on float LAB: L and ab move together, and nothing is re-quantized.
            lab = self.transform(image=lab)["image"]
        return ColorBatch(lab=lab_tensor(lab))


class ColorizationDataModule(ImageDataModule):
    """The Kaggle LAB arrays, split at random by ``seed``, ``val_fraction``, ``test_fraction``."""

    def __init__(
        self,
        root: str,
        val_fraction: float = 0.05,
        test_fraction: float = 0.05,
        output: str = "lab",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if output not in OUTPUTS:
            raise UserError(f"data.output={output!r}; expected one of {OUTPUTS}")
        if val_fraction < 0 or test_fraction < 0 or val_fraction + test_fraction >= 1:
            raise UserError(
                f"data.val_fraction={val_fraction} and data.test_fraction={test_fraction} must be "
                ">= 0 and leave some images for training"
            )
        self.root = Path(root).expanduser().absolute()
        self.val_fraction, self.test_fraction = val_fraction, test_fraction
        self.output = output
        self._split_rows: dict[str, np.ndarray] | None = None

    @property
    def l_path(self) -> Path:
        return self.root / L_FILE

    def ab_paths(self) -> list[Path]:
        """``ab1.npy``, ``ab2.npy``, … from ``ab/ab/`` (the Kaggle zip) or ``ab/``."""
        for folder in AB_DIRS:
            found = sorted((self.root / folder).glob("ab*.npy"), key=_natural_key)
            if found:
                return found
        return []

    def check_layout(self) -> None:
        if not self.l_path.is_file() or not self.ab_paths():
            raise UserError(
                f"Image Colorization Dataset not found under data.root={self.root}. Expected\n"
                f"  {self.l_path} (N x 224 x 224 uint8)\n"
                f"  {self.root / AB_DIRS[0]}/ab1.npy, ab2.npy, ab3.npy (n x 224 x 224 x 2 uint8; "
                f"{self.root / AB_DIRS[1]}/ also works)\n"
                f'Download "Image Colorization Dataset" (shravankumar9892) from '
                f"{COLORIZATION_URL} and unzip it into {self.root}."
            )
        self._check_shapes()

    def _check_shapes(self) -> None:
        """Headers only (mmap reads no pixels): the arrays must line up row for row."""
        light = np.load(self.l_path, mmap_mode="r")
        ab = [np.load(p, mmap_mode="r") for p in self.ab_paths()]
        if light.ndim != 3 or light.dtype != np.uint8:
            raise UserError(
                f"{self.l_path}: expected uint8 [N,H,W], got {light.dtype} {light.shape}"
            )
        for path, arr in zip(self.ab_paths(), ab, strict=True):
            if arr.dtype != np.uint8 or arr.shape[1:] != (*light.shape[1:], 2):
                raise UserError(
                    f"{path}: expected uint8 [n,{light.shape[1]},{light.shape[2]},2] to match "
                    f"{self.l_path}, got {arr.dtype} {arr.shape}"
                )
        n_ab = sum(len(a) for a in ab)
        if n_ab != len(light):
            names = ", ".join(p.name for p in self.ab_paths())
            raise UserError(
                f"{self.l_path} holds {len(light)} images but the ab files ({names}) hold {n_ab}: "
                "is one of ab1/ab2/ab3.npy missing or truncated?"
            )

    def split_rows(self) -> dict[str, np.ndarray]:
        """Row indices per split: a permutation drawn from ``seed``, each split sorted so that
        reads stay local in the memory-mapped files."""
        if self._split_rows is None:
            n = len(np.load(self.l_path, mmap_mode="r"))
            order = np.random.default_rng(self.seed).permutation(n)
            n_test, n_val = _count(n, self.test_fraction), _count(n, self.val_fraction)
            if n_test + n_val >= n:
                raise UserError(
                    f"{n} images leave none for training with data.val_fraction="
                    f"{self.val_fraction} and data.test_fraction={self.test_fraction}"
                )
            self._split_rows = {
                "test": np.sort(order[:n_test]),
                "val": np.sort(order[n_test : n_test + n_val]),
                "train": np.sort(order[n_test + n_val :]),
            }
        return self._split_rows

    def make_dataset(self, split: str, transform: Any):
        rows = self.split_rows()[split]
        if len(rows) == 0:
            return None
        return LabArrays(self.l_path, self.ab_paths(), rows, transform, self.output)
