"""Reading any image safely, and writing outputs atomically.

Old scans arrive in every shape: 16-bit TIFFs, palettes, CMYK, RGBA, EXIF-rotated phone shots.
Everything funnels through :func:`open_image` (then :func:`to_rgb` or :func:`image_luminance`)
so that datasets and ``predict.py`` see the same pixels.
"""

from __future__ import annotations

import logging
import os
import secrets
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from revive.color import luminance

T = TypeVar("T")
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
log = logging.getLogger(__name__)


class ImageReadError(RuntimeError):
    """An image that exists but cannot be decoded (corrupt, truncated, too large, …)."""


def list_images(root: str | os.PathLike, recursive: bool = True) -> list[Path]:
    """Image files under ``root`` (by extension, case-insensitive), sorted for determinism.

    The files :func:`walk_images` finds for ``predict.py`` (hidden entries skipped, links to
    folders not entered, each real file once), less those that cannot be opened (broken
    links), so that training, eval and predict see the same photos.
    """
    if recursive:
        return [p for p in walk_images(root)[0] if p.is_file()]
    if not Path(root).is_dir():
        return []
    return sorted(
        p
        for p in Path(root).iterdir()
        if p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith(".") and p.is_file()
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


def read_as(path: str | os.PathLike, convert: Callable[[Image.Image], T], what: str) -> T:
    """Decode ``path`` and ``convert`` it; any failure is an ImageReadError naming the file."""
    img = open_image(path)
    try:
        return convert(img)
    except (OSError, ValueError) as e:
        raise ImageReadError(f"cannot convert {path} (mode {img.mode}) to {what}: {e}") from e
    finally:
        img.close()


def read_rgb(path: str | os.PathLike) -> np.ndarray:
    """Decode ``path`` to uint8 RGB [H, W, 3] whatever its mode. Raises ImageReadError."""
    return read_as(path, to_rgb, "RGB")


@contextmanager
def atomic_path(dest: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``dest``; move it over ``dest`` only if the block succeeds.

    A crash mid-write therefore never leaves a truncated file under the final name. The file
    gets the permissions of a plainly created one (mkstemp's are private, 0600).
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp_path = _new_file_beside(dest)
    ordinary = tmp_path.stat().st_mode & 0o777  # 0666 less the umask, as the kernel made it
    try:
        yield tmp_path
        tmp_path.chmod(ordinary)  # some writers (safetensors) recreate the file private
        os.replace(tmp_path, dest)
    finally:
        tmp_path.unlink(missing_ok=True)


def _new_file_beside(dest: Path) -> Path:
    """A new empty file ``.<stem>.<random><suffix>`` beside ``dest``, created with mode 0666 so
    the kernel applies the process's umask (mkstemp's 0600 would need the umask read, and
    reading it means setting it, a process-wide change)."""
    for _ in range(100):
        tmp = dest.parent / f".{dest.stem}.{secrets.token_hex(4)}{dest.suffix}"
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            continue
        return tmp
    raise FileExistsError(f"no free temporary name beside {dest}")


def save_image(array: np.ndarray, dest: str | os.PathLike, **save_kwargs) -> Path:
    """Atomically write a uint8 HxW or HxWx3 array; the format follows ``dest``'s suffix."""
    dest = Path(dest)
    with atomic_path(dest) as tmp:
        Image.fromarray(array).save(
            tmp, format=Image.registered_extensions()[dest.suffix.lower()], **save_kwargs
        )
    return dest


# -- luminance ------------------------------------------------------------------------------------
# Every photo is reduced to one number per pixel before it is revived: the gray level, sRGB-encoded
# in [0, 1], whose CIE luminance Y equals the pixel's (revive.color.luminance).
# Modes whose single channel is already the gray level, read at their full precision.
GRAY_MODES = ("L", "I;16", "I;16L", "I;16B", "I;16N", "I", "F")


def _gray_peak(img: Image.Image, arr: np.ndarray) -> float:
    """The value that means white for a single-channel image of ``img.mode``."""
    if img.mode.startswith("I;16"):
        return 65535.0  # the container says 16 bits, whatever the content
    if img.mode == "F":
        return 1.0 if arr.max(initial=0) <= 1.0 else 255.0
    if img.mode == "I":  # 32-bit ints: 16-bit data in practice, 8-bit if it fits (as _to_8bit)
        return 65535.0 if arr.max(initial=0) > 255 else 255.0
    return 255.0


def image_luminance(img: Image.Image) -> np.ndarray:
    """Any PIL image -> float32 gray [H, W] in [0, 1] (see :func:`revive.color.luminance`).

    Gray modes keep their precision (a 16-bit scan gives 65536 levels, not 256). Color modes,
    sepia or faded prints included, become the gray of the same luminance; transparency is
    composited onto white first, as in :func:`to_rgb`.
    """
    if img.mode in GRAY_MODES:
        gray = np.asarray(img).astype(np.float32)
        gray *= np.float32(1.0 / _gray_peak(img, gray))
        return np.clip(gray, 0.0, 1.0, out=gray)
    return luminance(np.asarray(img) if img.mode == "RGB" else to_rgb(img))


def read_luminance(path: str | os.PathLike) -> np.ndarray:
    """Decode ``path`` to float32 gray [H, W] in [0, 1]. Raises ImageReadError."""
    return read_as(path, image_luminance, "gray")


def preview_rgb(img: Image.Image, size: tuple[int, int]) -> np.ndarray:
    """``img`` as uint8 RGB resized to ``size`` = (width, height), without a full-size RGB copy.

    Used for the "before" half of a comparison: the original's own colors (a sepia print stays
    sepia), at a size that is cheap to keep while the photo is being revived.
    """
    if img.mode in GRAY_MODES:
        small = Image.fromarray(image_luminance(img), mode="F").resize(size, Image.Resampling.BOX)
        gray = np.clip(np.asarray(small) * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return np.repeat(gray[..., None], 3, axis=2)
    if img.mode in ("P", "PA", "1"):  # palettes cannot be resampled in place
        return np.asarray(Image.fromarray(to_rgb(img)).resize(size, Image.Resampling.LANCZOS))
    return to_rgb(img.resize(size, Image.Resampling.LANCZOS))


# -- finding inputs ---------------------------------------------------------------------------------
def walk_images(
    root: str | os.PathLike,
    exclude: str | os.PathLike | None = None,
    follow_links: bool = False,
) -> tuple[list[Path], list[tuple[Path, str]]]:
    """Image files under ``root`` (recursive, sorted) and the folders that could not be listed.

    Unlike :func:`list_images`, a broken link or unreadable file with an image extension is kept,
    so that its failure is reported instead of silently dropped. Hidden entries (``.name``, e.g.
    macOS ``._photo.jpg`` companions) and everything under ``exclude`` are skipped.

    Each real file is listed once, however many links or hard links lead to it. Links to
    folders are not entered unless ``follow_links``, and even then each real folder is entered
    once, so that a link loop (``loop -> .``) neither hangs the walk nor multiplies the work.
    """
    root, errors, found = Path(root), [], []
    skip = Path(exclude).resolve() if exclude is not None else None
    folders_seen: set[tuple[int, int]] = set()
    files_seen: set[tuple[int, int] | Path] = set()

    def on_error(err: OSError) -> None:
        errors.append((Path(err.filename or root), f"cannot list folder: {err.strerror or err}"))

    def enter(here: Path, name: str) -> bool:
        path = here / name
        if name.startswith(".") or (skip is not None and path.resolve() == skip):
            return False
        if path.is_symlink() and not follow_links:
            log.info("not following the link to a folder %s (follow_links=true does)", path)
            return False
        return _first_visit(path, folders_seen)

    _first_visit(root, folders_seen)
    for folder, dirs, files in os.walk(root, onerror=on_error, followlinks=follow_links):
        here = Path(folder)
        dirs[:] = sorted(d for d in dirs if enter(here, d))
        for name in sorted(files):
            path = here / name
            if name.startswith(".") or path.suffix.lower() not in IMAGE_EXTENSIONS:
                continue
            try:
                info = path.stat()
                identity: tuple[int, int] | Path = (info.st_dev, info.st_ino)
            except OSError:  # a broken link: kept, so that its failure is reported
                identity = path
            if identity not in files_seen:
                files_seen.add(identity)
                found.append(path)
    return sorted(found), errors


def _first_visit(folder: Path, seen: set[tuple[int, int]]) -> bool:
    """Record the real folder behind ``folder``; False if it was seen already (or is gone)."""
    try:
        info = folder.stat()
    except OSError:
        return True  # let os.walk report it
    key = (info.st_dev, info.st_ino)
    if key in seen:
        return False
    seen.add(key)
    return True


@contextmanager
def pixel_limit(max_pixels: int | None) -> Iterator[None]:
    """Temporarily set PIL's decompression-bomb limit (``None`` keeps the current one)."""
    previous = Image.MAX_IMAGE_PIXELS
    if max_pixels is not None:
        if max_pixels <= 0:
            raise ValueError(f"max_pixels must be positive (got {max_pixels})")
        Image.MAX_IMAGE_PIXELS = int(max_pixels)
    try:
        yield
    finally:
        Image.MAX_IMAGE_PIXELS = previous
