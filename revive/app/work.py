"""One request of the web page: its limits, and its photos through ``predict.py``'s pipeline.

Each photo is read like ``predict.py`` reads it (:func:`revive.io.open_image`, EXIF, any mode),
restored by the same :class:`revive.restore.Restorer` (:meth:`~revive.restore.Restorer.restore`:
denoise, render, colorize, full-resolution merge) and written atomically as
``<name>_revived.png``. A photo over a limit or that cannot be read becomes one line in
:attr:`Outcome.problems` and the others still go through; only a request with too many photos is
refused as a whole (:class:`LimitError`). Messages name the photo as the family named it, never a
server path.
"""

from __future__ import annotations

import shutil
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from PIL import Image, UnidentifiedImageError

from revive.io import atomic_path, image_luminance, open_image, pixel_limit, preview_rgb, save_image
from revive.restore import Restorer
from revive.restore.walk import REVIVED_SUFFIX

ARCHIVE_NAME = "revived_photos.zip"


class LimitError(ValueError):
    """A request refused as a whole (e.g. too many photos), with the message to show."""


@dataclass(frozen=True)
class Limits:
    """What one request may hold: bytes per upload, pixels per photo, photos per request."""

    max_upload_mb: float = 50.0
    max_megapixels: float = 40.0
    max_photos: int = 20

    def __post_init__(self) -> None:
        if min(self.max_upload_mb, self.max_megapixels, self.max_photos) <= 0:
            raise ValueError(f"every limit must be positive ({self})")

    @property
    def max_pixels(self) -> int:
        return int(self.max_megapixels * 1e6)

    @property
    def max_upload_bytes(self) -> int:
        """In binary megabytes, as Gradio counts the upload limit that it enforces first."""
        return int(self.max_upload_mb * 2**20)


@dataclass(frozen=True)
class Revived:
    """One photo done: its name as uploaded, the before/after PNGs, and its size (w, h)."""

    name: str
    before: Path
    after: Path
    size: tuple[int, int]


@dataclass
class Outcome:
    """What a request gave: the photos revived, one line per photo that was not, the ZIP."""

    revived: list[Revived] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    archive: Path | None = None


def unique_stems(names: list[str]) -> list[str]:
    """Output stems for the uploaded names; repeated names get `` (2)``, `` (3)`` …"""
    seen: dict[str, int] = {}
    stems = []
    for name in names:
        stem = Path(name).stem or "photo"
        seen[stem] = seen.get(stem, 0) + 1
        stems.append(stem if seen[stem] == 1 else f"{stem} ({seen[stem]})")
    return stems


def check_count(count: int, limits: Limits) -> None:
    if count == 0:
        raise LimitError("Add one or more photos first (drag them in, or click to pick them).")
    if count > limits.max_photos:
        raise LimitError(
            f"{count} photos is more than the {limits.max_photos} this page takes at a time: "
            f"please send them in groups of {limits.max_photos} or fewer."
        )


def check_photo(path: Path, name: str, limits: Limits) -> None:
    """Size on disk and pixel count (read from the header, before any decoding)."""
    size = path.stat().st_size
    megabytes = size / 2**20
    if size > limits.max_upload_bytes:
        raise LimitError(
            f"{name} is {megabytes:.1f} MB, over the {limits.max_upload_mb:g} MB limit per photo."
        )
    try:
        with Image.open(path) as img:
            width, height = img.size
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as e:
        raise LimitError(f"{name} could not be read as a photo (damaged or not an image).") from e
    if width * height > limits.max_pixels:
        raise LimitError(
            f"{name} is {width}x{height} ({width * height / 1e6:.3g} megapixels), over the "
            f"{limits.max_megapixels:g} megapixel limit per photo."
        )


def revive_one(restorer: Restorer, path: Path, name: str, stem: str, folder: Path) -> Revived:
    """Read, restore and write one photo: the before and the revived PNG at full size."""
    img = open_image(path)
    try:
        restorer.check_size(img.height, img.width)  # an enlarged output over the cap: refused
        # the original's own colors, at the size of the result, for the slider
        before = preview_rgb(img, (img.width * restorer.scale, img.height * restorer.scale))
        gray = torch.from_numpy(image_luminance(img))
    finally:
        img.close()
    revived = restorer.restore(gray)
    before_path = save_image(before, folder / f"{stem}_before.png")
    after_path = save_image(revived, folder / f"{stem}{REVIVED_SUFFIX}")
    return Revived(name, before_path, after_path, (revived.shape[1], revived.shape[0]))


def write_archive(items: list[Revived], dest: Path) -> Path:
    """A ZIP of the revived PNGs (stored, not recompressed: PNG is compressed already)."""
    with atomic_path(dest) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as archive:
        for item in items:
            archive.write(item.after, item.after.name)
    return dest


def revive_uploads(
    restorer: Restorer,
    uploads: list[tuple[Path, str]],
    folder: Path,
    limits: Limits,
    progress: Callable[[int, int, str], None] | None = None,
) -> Outcome:
    """Revive ``uploads`` (server path, name as uploaded) into a new subfolder of ``folder``.

    Raises :class:`LimitError` only for the whole request (no photos, too many); every other
    problem is one line of :attr:`Outcome.problems` and the other photos go on.
    """
    check_count(len(uploads), limits)
    index = sum(1 for p in folder.glob("request_*")) if folder.exists() else 0
    out = folder / f"request_{index:03d}"
    (out / "uploads").mkdir(parents=True, mode=0o700)
    outcome = Outcome()
    stems = unique_stems([name for _, name in uploads])
    total = len(uploads)
    for i, ((path, name), stem) in enumerate(zip(uploads, stems, strict=True)):
        if progress is not None:
            progress(i, total, f"photo {i + 1} of {total}")
        try:
            check_photo(path, name, limits)
            path = keep_upload(path, out / "uploads", i)
            with pixel_limit(limits.max_pixels):
                outcome.revived.append(revive_one(restorer, path, name, stem, out))
        except LimitError as e:
            outcome.problems.append(str(e))
        except (OSError, ValueError, RuntimeError, MemoryError) as e:  # ImageReadError too
            reason = str(e).replace(str(path), name).splitlines()[0] if str(e) else type(e).__name__
            outcome.problems.append(f"{name} could not be revived: {reason}")
    if progress is not None:
        progress(total, total, "done")
    if outcome.revived:
        outcome.archive = write_archive(outcome.revived, out / ARCHIVE_NAME)
    return outcome


def keep_upload(source: Path, folder: Path, index: int) -> Path:
    """The session's own copy of an upload (Gradio's copy is deleted with the session)."""
    dest = folder / f"{index:03d}{source.suffix.lower()}"
    shutil.copyfile(source, dest)
    return dest
