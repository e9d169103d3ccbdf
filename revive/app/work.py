"""One request of the web page: its limits, and its photos through ``predict.py``'s pipeline.

Each photo is read as ``predict.py`` reads it (:func:`revive.restore.photo.read_photo`: EXIF,
any mode), restored by the same :class:`revive.restore.Restorer`
(:meth:`~revive.restore.Restorer.restore`: denoise, render, colorize, full-resolution merge) and
written atomically as ``<name>_revived.png``. A photo over a limit or that cannot be read becomes one line in
:attr:`Outcome.problems` and the others still go through; only a request with too many photos is
refused as a whole (:class:`LimitError`). Messages name the photo as the family named it, never a
server path.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from revive.io import ImageReadError, atomic_path, pixel_limit, save_image
from revive.restore import Restorer
from revive.restore.files import REVIVED_SUFFIX
from revive.restore.photo import read_photo

ARCHIVE_NAME = "revived_photos.zip"


class Cancelled(Exception):
    """Raised by a ``writing()`` context to stop a request: nothing more is written."""


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
    except Image.DecompressionBombError as e:  # a header claiming over twice PIL's own limit
        raise LimitError(too_large(name, limits)) from e
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as e:
        if isinstance(e, FileNotFoundError):
            raise
        raise LimitError(f"{name} could not be read as a photo (damaged or not an image).") from e
    if width * height > limits.max_pixels:
        raise LimitError(
            f"{name} is {width}x{height} ({width * height / 1e6:.3g} megapixels), over the "
            f"{limits.max_megapixels:g} megapixel limit per photo."
        )


def too_large(name: str, limits: Limits) -> str:
    """A photo whose header claims more pixels than PIL will even size up (a bomb, or a huge
    scan): its exact size is not worth decoding to tell."""
    return (
        f"{name} claims to be far larger than the {limits.max_megapixels:g} megapixel limit per "
        f"photo (a damaged or deliberately oversized file), so it was not opened."
    )


def problem(name: str, error: BaseException, limits: Limits) -> str:
    """One line in the family's words for a photo that failed, naming it, never a server path."""
    if isinstance(error, LimitError):
        return str(error)
    if isinstance(error, FileNotFoundError):
        return f"{name} was no longer on the server (the page may have been reloaded): please add it again."
    if isinstance(error, Image.DecompressionBombError):
        return too_large(name, limits)
    if isinstance(error, (UnidentifiedImageError, SyntaxError, ImageReadError)) or (
        "truncated" in str(error)
    ):
        return f"{name} could not be read as a photo (damaged, cut short or not an image)."
    if isinstance(error, MemoryError):
        return f"{name} needs more memory than this computer has free: try a smaller scan."
    if isinstance(error, (OSError, ValueError, RuntimeError)) and str(error):
        first = str(error).splitlines()[0]
        if (
            "/" not in first and "\\" not in first
        ):  # ImageReadError, the upscaler's cap: plain words
            return f"{name} could not be revived: {first}"
    return f"{name} could not be revived (an unexpected error; the other photos went on)."


def revive_one(
    restorer: Restorer,
    path: Path,
    name: str,
    stem: str,
    writing: Callable[[], AbstractContextManager[Path]],
) -> Revived:
    """Read, restore and write one photo: the before and the revived PNG at full size (0600),
    written inside ``writing()``, which yields the folder and refuses once the page closed."""
    scale = restorer.scale  # the before at the size of the result, for the slider
    photo = read_photo(path, restorer, lambda w, h: (w * scale, h * scale))
    revived = restorer.restore(photo.gray)
    with writing() as folder:
        before_path = private(save_image(photo.before, folder / f"{stem}_before.png"))
        after_path = private(save_image(revived, folder / f"{stem}{REVIVED_SUFFIX}"))
    return Revived(name, before_path, after_path, (revived.shape[1], revived.shape[0]))


def private(path: Path) -> Path:
    """``path``, readable by this user only (the README promises 0600 files)."""
    path.chmod(0o600)
    return path


def write_archive(items: list[Revived], dest: Path) -> Path:
    """A ZIP of the revived PNGs (stored, not recompressed: PNG is compressed already)."""
    with atomic_path(dest) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as archive:
        for item in items:
            archive.write(item.after, item.after.name)
    return private(dest)


def request_folder(folder: Path) -> Path:
    """A new ``request_NNN`` folder in ``folder`` (0700): each request's files apart."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    index = sum(1 for _ in folder.glob("request_*"))
    while True:
        out = folder / f"request_{index:03d}"
        try:
            out.mkdir(mode=0o700)
            return out
        except FileExistsError:
            index += 1


def revive_steps(
    restorer: Restorer,
    uploads: list[tuple[Path, str]],
    folder: Path,
    limits: Limits,
    writing: Callable[[], AbstractContextManager[Path]] | None = None,
) -> Iterator[tuple[int, int, Outcome]]:
    """Revive ``uploads`` (server path, name as uploaded) into a new subfolder of ``folder``,
    yielding (photos done, total, outcome so far) before each photo and once at the end, so a
    page can show each result as soon as it is done.

    Raises :class:`LimitError` only for the whole request (no photos, too many); every other
    problem (over a limit, damaged, cut short, a bomb, gone) is one line of
    :attr:`Outcome.problems` and the other photos go on. Every write happens inside
    ``writing()`` (default: the folder, always open); an exception it raises (the page closed)
    ends the request at once, with nothing more written.
    """
    check_count(len(uploads), limits)
    out_holder: list[Path] = []

    @contextmanager
    def into_request() -> Iterator[Path]:
        with writing() if writing is not None else nullcontext(folder) as base:
            if not out_holder:
                out_holder.append(request_folder(Path(base)))
            yield out_holder[0]

    outcome = Outcome()
    stems = unique_stems([name for _, name in uploads])
    total = len(uploads)
    for i, ((path, name), stem) in enumerate(zip(uploads, stems, strict=True)):
        yield i, total, outcome
        try:
            check_photo(path, name, limits)
            with pixel_limit(limits.max_pixels):
                outcome.revived.append(revive_one(restorer, path, name, stem, into_request))
        except Exception as e:  # noqa: BLE001 (each photo's failure is its own line)
            if isinstance(e, Cancelled):
                raise
            outcome.problems.append(problem(name, e, limits))
    if outcome.revived:
        with into_request() as out:
            outcome.archive = write_archive(outcome.revived, out / ARCHIVE_NAME)
    yield total, total, outcome


def revive_uploads(
    restorer: Restorer,
    uploads: list[tuple[Path, str]],
    folder: Path,
    limits: Limits,
    progress: Callable[[int, int, str], None] | None = None,
    writing: Callable[[], AbstractContextManager[Path]] | None = None,
) -> Outcome:
    """:func:`revive_steps` to its end; ``progress(done, total, what)`` before each photo."""
    outcome = Outcome()
    for done, total, so_far in revive_steps(restorer, uploads, folder, limits, writing):
        outcome = so_far
        if progress is not None:
            progress(done, total, "done" if done == total else f"photo {done + 1} of {total}")
    return outcome
