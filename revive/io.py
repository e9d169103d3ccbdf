"""Reading any image safely, and writing outputs atomically.

Old scans arrive in every shape: 16-bit TIFFs, palettes, CMYK, RGBA, EXIF-rotated phone shots.
Everything funnels through :func:`read_image` so that datasets and ``predict.py`` see the same
pixels.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


class ImageReadError(RuntimeError):
    """An image that exists but cannot be decoded (corrupt, truncated, too large, …)."""


def list_images(root: str | os.PathLike, recursive: bool = True) -> list[Path]:
    """Image files under ``root`` (by extension, case-insensitive), sorted for determinism."""
    root = Path(root)
    pattern = "**/*" if recursive else "*"
    return sorted(
        p for p in root.glob(pattern) if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS
    )


def _to_8bit(img: Image.Image) -> Image.Image:
    """Scale 16/32-bit integer and float images to 8 bits instead of PIL's clipping."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        if img.mode == "F":
            peak = 1.0 if arr.max(initial=0) <= 1.0 else 255.0
        else:
            peak = 65535.0 if arr.max(initial=0) > 255 else 255.0
        arr = np.clip(arr / peak * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return Image.fromarray(arr, mode="L")
    return img


def _flatten_alpha(img: Image.Image) -> Image.Image:
    """Composite transparent pixels onto white, the way a print would show them."""
    rgba = img.convert("RGBA")
    white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(white, rgba)


def open_image(path: str | os.PathLike) -> Image.Image:
    """Open and fully decode ``path``, honouring EXIF orientation. Raises ImageReadError."""
    path = Path(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                img.load()
                img = ImageOps.exif_transpose(img)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as e:
        raise ImageReadError(f"cannot read image {path}: {e}") from e
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise ImageReadError(
            f"{path} is larger than the decompression-bomb limit ({Image.MAX_IMAGE_PIXELS} px): {e}"
        ) from e
    return img


def to_rgb(img: Image.Image) -> np.ndarray:
    """Any PIL mode as uint8 RGB [H, W, 3]."""
    img = _to_8bit(img)
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        img = _flatten_alpha(img)
    return np.asarray(img.convert("RGB"), dtype=np.uint8)


def read_rgb(path: str | os.PathLike) -> np.ndarray:
    """Decode ``path`` to uint8 RGB [H, W, 3] whatever its mode. Raises ImageReadError."""
    img = open_image(path)
    try:
        return to_rgb(img)
    except (OSError, ValueError) as e:
        raise ImageReadError(f"cannot convert {path} (mode {img.mode}) to RGB: {e}") from e


@contextmanager
def atomic_path(dest: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``dest``; move it over ``dest`` only if the block succeeds.

    A crash mid-write therefore never leaves a truncated file under the final name.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.stem}.", suffix=dest.suffix, dir=dest.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, dest)
    finally:
        tmp_path.unlink(missing_ok=True)


def save_image(array: np.ndarray, dest: str | os.PathLike, **save_kwargs) -> Path:
    """Atomically write a uint8 HxW or HxWx3 array; the format follows ``dest``'s suffix."""
    dest = Path(dest)
    with atomic_path(dest) as tmp:
        Image.fromarray(array).save(
            tmp, format=Image.registered_extensions()[dest.suffix.lower()], **save_kwargs
        )
    return dest
