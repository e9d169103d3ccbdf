"""Restoring a photo or a whole tree of them into an output folder: ``predict.py``'s work.

Each input becomes ``<name>_revived.png`` (the input's exact size) and ``<name>_compare.jpg``
(before | after) in a tree that mirrors the input's. Everything that can be checked up front
raises :class:`SetupError` before any file is read; afterwards a bad file is recorded in the
:class:`RestoreSummary` and the run goes on. Photos are read and denoised one by one, then
colorized in batches, and written atomically; an existing output is never replaced unless asked.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm.auto import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from revive.errors import SetupError
from revive.io import IMAGE_EXTENSIONS, pixel_limit, save_image, walk_images
from revive.restore.canvas import Canvas
from revive.restore.options import RestoreOptions
from revive.restore.photo import read_photo
from revive.restore.restorer import Restorer, load_restorer

log = logging.getLogger(__name__)

REVIVED_SUFFIX = "_revived.png"
COMPARE_SUFFIX = "_compare.jpg"
# Luminance held while a batch of files fills up: with the merge's bands of rows, it bounds the
# memory of a run, whatever the size of the scans.
PENDING_PIXELS = 16_000_000


@dataclass(frozen=True)
class Job:
    """One input file and the two files it becomes."""

    source: Path
    revived: Path
    compare: Path

    @property
    def outputs(self) -> tuple[Path, Path]:
        return self.revived, self.compare


def plan_jobs(sources: list[Path], root: Path, output: Path) -> list[Job]:
    """Output paths mirroring ``root``'s tree under ``output``, never two alike.

    Names are compared case-insensitively, whole relative path included, as macOS and Windows
    disks compare them. A name is the input's stem; stems shared within a folder (``a.jpg``,
    ``a.png``) keep their extension (``a_jpg``, ``a_png``); what still collides (``b.png`` and
    ``b.PNG``, or ``a.jpg`` and ``a_jpg.png``) gets ``_2``, ``_3`` … in sorted order, plain
    stems first.
    """
    rels = [src.relative_to(root) for src in sources]
    stems = Counter(_key(rel.with_suffix("")) for rel in rels)
    wanted = [
        rel.with_suffix("")
        if stems[_key(rel.with_suffix(""))] == 1
        else rel.parent / f"{rel.stem}_{rel.suffix.lstrip('.').lower()}"
        for rel in rels
    ]
    taken: set[str] = set()
    names: dict[int, Path] = {}
    plain_first = sorted(range(len(rels)), key=lambda i: (wanted[i] != rels[i].with_suffix(""), i))
    for i in plain_first:
        name, n = wanted[i], 1
        while _key(name) in taken:
            n += 1
            name = wanted[i].parent / f"{wanted[i].name}_{n}"
        taken.add(_key(name))
        names[i] = name
    return [
        Job(
            src,
            output / names[i].parent / f"{names[i].name}{REVIVED_SUFFIX}",
            output / names[i].parent / f"{names[i].name}{COMPARE_SUFFIX}",
        )
        for i, src in enumerate(sources)
    ]


def _key(name: Path) -> str:
    """How a case-insensitive disk compares names (casefold also folds ß and friends)."""
    return name.as_posix().casefold()


@dataclass
class RestoreSummary:
    """What a run did: files revived, skipped (outputs existed) and failed, with reasons."""

    done: list[Path] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)
    written: list[Path] = field(default_factory=list)
    upscaled: str | None = None  # how the super-resolution stage ran, when there was one

    @property
    def ok(self) -> bool:
        return not self.failed

    def __str__(self) -> str:
        lines = [
            f"revived {len(self.done)}, skipped {len(self.skipped)}, failed {len(self.failed)}"
            f" ({len(self.written)} files written)"
        ]
        if self.upscaled:
            lines.append(f"  {self.upscaled}")
        lines += [f"  skipped {path}: {reason}" for path, reason in self.skipped]
        lines += [f"  FAILED  {path}: {reason}" for path, reason in self.failed]
        return "\n".join(lines)


@dataclass
class _Pending:
    """A file read and denoised, waiting for its batch to be colorized."""

    job: Job
    gray: torch.Tensor
    canvas: torch.Tensor
    box: Canvas
    before: np.ndarray


def compare_size(height: int, width: int, max_side: int) -> tuple[int, int]:
    """(width, height) of each half of a before|after image whose long side is <= max_side."""
    scale = min(1.0, max_side / max(2 * width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def write_outputs(job: Job, revived: np.ndarray, before: np.ndarray, overwrite: bool) -> list[Path]:
    """Write the revived PNG and the before|after JPEG (atomically), never replacing a file
    that exists unless ``overwrite``. Returns the paths written."""
    written = []
    if overwrite or not job.revived.exists():
        written.append(save_image(revived, job.revived))
    if overwrite or not job.compare.exists():
        height, width = before.shape[:2]
        after = np.asarray(Image.fromarray(revived).resize((width, height), Image.Resampling.BOX))
        written.append(save_image(np.concatenate([before, after], 1), job.compare, quality=90))
    return written


def _read(job: Job, restorer: Restorer, compare_max_side: int) -> _Pending:
    photo = read_photo(job.source, restorer, lambda w, h: compare_size(h, w, compare_max_side))
    gray = restorer.denoise(photo.gray, desc=f"denoising {job.source.name}")
    gray = restorer.upscale(gray, desc=f"upscaling {job.source.name}")
    canvas, box = restorer.render(gray)
    return _Pending(job, gray, canvas, box, photo.before)


def _finish(batch: list[_Pending], restorer: Restorer, overwrite: bool, summary, bar) -> None:
    """Colorize a batch together, then merge and write each file."""
    try:
        ab = restorer.colorize(torch.stack([p.canvas for p in batch]))
    except (RuntimeError, ValueError, MemoryError) as e:  # e.g. out of memory: all of them
        for item in batch:
            _record_failure(summary, item.job.source, e)
        bar.update(len(batch))
        return
    for i, item in enumerate(batch):
        try:
            revived = restorer.merge(item.gray, ab[i], item.box)
            summary.written += write_outputs(item.job, revived, item.before, overwrite)
            summary.done.append(item.job.source)
        except (OSError, ValueError, RuntimeError, MemoryError) as e:
            _record_failure(summary, item.job.source, e)
        bar.update()


def _record_failure(summary: RestoreSummary, path: Path, error: BaseException) -> None:
    reason = str(error) or type(error).__name__
    summary.failed.append((path, reason))
    log.warning("failed %s: %s", path, reason)


def find_jobs(
    input: Path, output: Path, follow_links: bool = False
) -> tuple[list[Job], list[tuple[Path, str]]]:
    """The jobs for a file or a folder, and the folders that could not be listed."""
    if not input.exists() and not input.is_symlink():
        raise SetupError(f"input={input} does not exist")
    if output.exists() and not output.is_dir():
        raise SetupError(f"output={output} is a file; give a folder (it is created if missing)")
    if input.is_dir():
        if output.resolve() == input.resolve():
            raise SetupError(
                f"output={output} is the input folder; choose another folder so that revived "
                "files are not mixed with (and later re-read as) the originals"
            )
        sources, errors = walk_images(input, exclude=output, follow_links=follow_links)
        return plan_jobs(sources, input, output), errors
    return plan_jobs([input], input.parent, output), []


def restore_paths(
    input: str | os.PathLike,
    output: str | os.PathLike,
    options: RestoreOptions | None = None,
    *,
    overwrite: bool = False,
    batch_size: int = 8,
    compare_max_side: int = 2048,
    follow_links: bool = False,
    progress: bool = True,
) -> RestoreSummary:
    """Revive a photo or a folder of photos (recursively) into ``output``, mirroring its tree.

    ``options`` are the networks and how they run (:class:`RestoreOptions`); the rest is about
    files. Everything that can be checked up front (paths, checkpoints, device, options) raises
    :class:`SetupError` before any file is read; afterwards a bad file is recorded in the
    summary and the run goes on. ``options.max_pixels`` is also PIL's decompression-bomb limit
    for the input (``None``: PIL's default of 89,478,485); a photo whose output would be over a
    cap is refused from its header, before it is decoded. ``batch_size`` photos are colorized
    together on the device. ``follow_links`` enters links to folders (each real folder once;
    see :func:`walk_images`). An existing output is replaced only with ``overwrite``.
    """
    options = options or RestoreOptions()
    max_pixels = options.max_pixels
    if batch_size < 1 or compare_max_side < 1:
        raise SetupError("batch_size and compare_max_side must be positive")
    if max_pixels is not None and max_pixels < 1:
        raise SetupError(f"max_pixels must be positive or null (got {max_pixels})")
    input, output = Path(input).expanduser(), Path(output).expanduser()
    jobs, listing_errors = find_jobs(input, output, follow_links)
    restorer = load_restorer(options)
    log.info(
        "reviving %d file(s) from %s into %s on %s (%s colorizer, render %d px%s)",
        len(jobs),
        input,
        output,
        restorer.device,
        restorer.space.name,
        restorer.render_size,
        f", denoising in {restorer.denoise_dtype}" if restorer.denoiser is not None else "",
    )
    if not jobs:
        log.warning("no images under %s (looked for %s)", input, ", ".join(IMAGE_EXTENSIONS))
    summary = RestoreSummary(upscaled=None if restorer.upscaler is None else str(restorer.upscaler))
    for path, reason in listing_errors:
        _record_failure(summary, path, RuntimeError(reason))

    batch: list[_Pending] = []
    bar = tqdm(total=len(jobs), desc="reviving", unit="photo", disable=not progress)
    with logging_redirect_tqdm(), pixel_limit(max_pixels), bar:
        for job in jobs:
            if not overwrite and all(p.exists() for p in job.outputs):
                summary.skipped.append((job.source, "outputs exist (overwrite=true replaces them)"))
                bar.update()
                continue
            try:
                batch.append(_read(job, restorer, compare_max_side))
            except (OSError, ValueError, RuntimeError, MemoryError) as e:  # ImageReadError too
                _record_failure(summary, job.source, e)
                bar.update()
                continue
            if len(batch) >= batch_size or sum(p.gray.numel() for p in batch) >= PENDING_PIXELS:
                _finish(batch, restorer, overwrite, summary, bar)
                batch = []
        if batch:
            _finish(batch, restorer, overwrite, summary, bar)
    log.info("%s", summary)
    return summary


def restore_config(cfg: Mapping) -> RestoreSummary:
    """``predict.py``: :func:`restore_paths` with a composed ``conf/predict.yaml``."""
    return restore_paths(
        cfg["input"],
        cfg["output"],
        RestoreOptions.from_config(cfg),
        overwrite=bool(cfg["overwrite"]),
        batch_size=int(cfg["batch_size"]),
        compare_max_side=int(cfg["compare_max_side"]),
        follow_links=bool(cfg["follow_links"]),
    )
