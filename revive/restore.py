"""Reviving photos: denoise -> colorize -> full-resolution merge, for one file or a whole tree.

How a photo of any size is revived (the approach of DeOldify, DDColor and Zhang et al.):

1. Its luminance (:func:`revive.io.image_luminance`: the gray with the pixel's CIE luminance,
   float32, 16-bit precision kept) is taken at full resolution.
2. The optional DnCNN denoises that luminance at full resolution, in overlapping tiles.
3. The colorizer sees the luminance shrunk so that its long side is ``render_size``, centered on
   a square canvas (a multiple of the U-Net's ``size_multiple``) whose margins mirror the
   picture: the aspect ratio is kept, never squashed.
4. Only the predicted chroma (LAB a*b*; an RGB model's output is converted to LAB and only its
   a*b* kept) is upsampled bilinearly to the full resolution and recombined with the
   full-resolution luminance, so the output has the input's exact size and detail.

The recombination keeps the luminance exactly: a*b* are applied to the pixel's CIE luminance Y,
and a color that falls outside sRGB is desaturated toward the gray of the same Y (in linear
light, where mixing preserves Y) instead of being clipped channel by channel, which would change
its brightness. So without a denoiser the output's luminance equals the input's up to 8-bit
rounding (within 1/255).
"""

from __future__ import annotations

import inspect
import logging
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import kornia.color as kc
import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn
from tqdm.auto import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from revive.color import AB_SCALE, ColorSpace
from revive.inference import denoising_forward, inference_dtype
from revive.io import (
    IMAGE_EXTENSIONS,
    LUMINANCE_WEIGHTS,
    ImageReadError,
    image_luminance,
    open_image,
    pixel_limit,
    preview_rgb,
    save_image,
    walk_images,
)
from revive.tiling import receptive_radius, run_tiled

log = logging.getLogger(__name__)

REVIVED_SUFFIX = "_revived.png"
COMPARE_SUFFIX = "_compare.jpg"
# Full-resolution pixels merged per step, and luminance held while a batch of files fills up:
# together they bound the memory of a revival, whatever the size of the scans.
MERGE_PIXELS = 1 << 20  # bands of 1 MP: cache-friendly, few enough to keep thread sync cheap
PENDING_PIXELS = 16_000_000


class SetupError(RuntimeError):
    """A problem found before any file is touched: input path, checkpoint, device or option."""


# -- color math: float32 torch, on the device --------------------------------------------------------
_RGB_TO_XYZ = torch.tensor(
    [[0.412453, 0.357580, 0.180423], LUMINANCE_WEIGHTS, [0.019334, 0.119193, 0.950227]],
    dtype=torch.float64,
)
# The exact inverse, and the XYZ of RGB white: a*b* = 0 then gives R = G = B exactly.
_XYZ_TO_RGB = torch.linalg.inv(_RGB_TO_XYZ).float()
_WHITE = _RGB_TO_XYZ.sum(1).float()
_LAB_EPS, _LAB_KAPPA, _LAB_F0 = 0.008856, 7.787, 4.0 / 29.0  # kornia's, as in training


def srgb_to_linear(x: torch.Tensor) -> torch.Tensor:
    return torch.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055).pow(2.4))


def linear_to_srgb(y: torch.Tensor) -> torch.Tensor:
    y = y.clamp(0.0, 1.0)
    return torch.where(y <= 0.0031308, y * 12.92, 1.055 * y.pow(1 / 2.4) - 0.055)


def _lab_f(t: torch.Tensor) -> torch.Tensor:
    return torch.where(t > _LAB_EPS, t.clamp(min=_LAB_EPS).pow(1 / 3), _LAB_KAPPA * t + _LAB_F0)


def _lab_f_inv(f: torch.Tensor) -> torch.Tensor:
    return torch.where(f > 0.2068966, f.pow(3), (f - _LAB_F0) / _LAB_KAPPA)


def colorize_luminance(gray: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
    """Gray [h, w] in [0, 1] and LAB a*b* [2, h, w] -> uint8 RGB [h, w, 3] of the same luminance.

    ``gray`` fixes the CIE luminance Y; a*b* set the color around it (LAB -> XYZ -> linear RGB).
    Out-of-gamut colors move toward the gray of equal Y until they fit, so Y survives exactly
    and only the saturation of impossible colors is reduced.
    """
    y = srgb_to_linear(gray.clamp(0.0, 1.0))
    fy = _lab_f(y)
    white = _WHITE.to(gray.device)
    x = white[0] * _lab_f_inv(fy + ab[0] / 500.0)
    z = white[2] * _lab_f_inv(fy - ab[1] / 200.0)
    rgb = torch.einsum("cx,xhw->chw", _XYZ_TO_RGB.to(gray.device), torch.stack([x, y, z]))
    offset = rgb - y  # the color's departure from the gray of the same luminance
    room = torch.where(offset > 0, 1.0 - y, y)  # how far each channel may move from the gray
    scale = torch.where(offset.abs() > room, room / offset.abs().clamp(min=1e-12), 1.0)
    rgb = y + offset * scale.amin(0, keepdim=True)
    return (linear_to_srgb(rgb) * 255.0 + 0.5).to(torch.uint8).permute(1, 2, 0)


def upsample_rows(small: torch.Tensor, height: int, top: int, bottom: int) -> torch.Tensor:
    """Rows ``top:bottom`` of ``small`` [C, h, W] bilinearly resized to height ``height``.

    The same half-pixel sampling as ``F.interpolate(mode="bilinear", align_corners=False)``,
    computed for a band of rows only so that full-resolution chroma never exists at once.
    """
    rows = small.shape[1]
    src = torch.arange(top, bottom, device=small.device, dtype=torch.float32) + 0.5
    src = (src * (rows / height) - 0.5).clamp(min=0.0)
    lo = src.floor().long().clamp(max=rows - 1)
    hi = (lo + 1).clamp(max=rows - 1)
    weight = (src - lo).view(1, -1, 1)
    return small[:, lo] * (1 - weight) + small[:, hi] * weight


# -- rendering: the picture inside the network's square canvas ---------------------------------------
@dataclass(frozen=True)
class Canvas:
    """Where a picture of ``height`` x ``width`` render pixels sits in a ``side``-square canvas."""

    side: int
    top: int
    left: int
    height: int
    width: int


def fit_canvas(height: int, width: int, render_size: int, multiple: int) -> Canvas:
    """Scale the long side to ``render_size`` (aspect kept) and center it in the canvas.

    The canvas side is ``render_size`` rounded up to the U-Net's size multiple, so every photo of
    a run shares one canvas size and can be batched.
    """
    side = math.ceil(render_size / multiple) * multiple
    scale = render_size / max(height, width)
    h, w = max(1, round(height * scale)), max(1, round(width * scale))
    return Canvas(side, (side - h) // 2, (side - w) // 2, h, w)


def mirror_indices(side: int, length: int, offset: int) -> torch.Tensor:
    """Indices into ``length`` pixels that fill ``side`` by repeated mirroring around ``offset``.

    Unlike ``F.pad(mode="reflect")`` this works for any margin, even around a 1-pixel picture.
    """
    i = (torch.arange(side) - offset) % (2 * length)
    return torch.where(i >= length, 2 * length - 1 - i, i)


# -- the reviver -------------------------------------------------------------------------------------
def resolve_device(name: str) -> torch.device:
    """``auto`` -> CUDA when present, else CPU; an unavailable device is a SetupError."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as e:
        raise SetupError(f"device={name!r} is not a device ({e}); use auto, cpu or cuda[:N]") from e
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SetupError(f"device={name} but PyTorch sees no CUDA GPU; use device=auto or cpu")
    return device


def prepare_denoiser(net: nn.Module) -> nn.Module:
    """Eval mode, BatchNorm folded into the convolutions (same output, fewer passes).

    Only gray denoisers fit: a scan's noise lives in its luminance, and a color DnCNN fed the
    gray as three equal channels sees perfectly correlated noise that it was never trained on
    (the official CDnCNN-B gains 0.2 dB there, against 5 dB for the gray DnCNN-S).
    """
    channels = getattr(net, "channels", 1)
    if channels != 1:
        raise SetupError(
            f"the denoiser is a {channels}-channel (color) DnCNN; photos are denoised on their "
            "gray luminance, so give a gray model (e.g. the official dncnn_25.pth)"
        )
    fuse = getattr(net, "fuse_bn", None)
    return (fuse() if callable(fuse) else net).eval()


class Reviver:
    """A colorizer (and optionally a denoiser) ready to revive luminance images of any size."""

    def __init__(
        self,
        colorizer: nn.Module,
        space: ColorSpace,
        denoiser: nn.Module | None = None,
        render_size: int = 256,
        device: str | torch.device = "cpu",
        tile_size: int = 512,
        precision: str = "auto",
    ) -> None:
        if render_size < 1 or tile_size < 1:
            raise SetupError(
                f"render_size and tile_size must be positive ({render_size}, {tile_size})"
            )
        self.device = torch.device(device)
        self.colorizer = colorizer.eval().to(self.device)
        self.space = space
        self.multiple = int(getattr(colorizer, "size_multiple", 1))
        self.render_size, self.tile_size = render_size, tile_size
        self.denoiser = None if denoiser is None else prepare_denoiser(denoiser).to(self.device)
        self.overlap = 0 if denoiser is None else receptive_radius(self.denoiser)
        try:
            self.denoise_dtype = inference_dtype(str(precision), self.device)
        except ValueError as e:
            raise SetupError(str(e)) from e
        self._denoise = (
            None
            if self.denoiser is None
            else denoising_forward(self.denoiser, self.device, self.denoise_dtype)
        )

    def canvas(self, height: int, width: int) -> Canvas:
        return fit_canvas(height, width, self.render_size, self.multiple)

    @torch.inference_mode()
    def denoise(self, gray: torch.Tensor, desc: str | None = None) -> torch.Tensor:
        """Full-resolution gray [H, W] -> denoised, clipped to [0, 1]; tiled, result on the CPU."""
        if self.denoiser is None:
            return gray
        out = run_tiled(
            self._denoise, gray[None], self.tile_size, self.overlap, self.device, desc=desc
        )[0]
        return out.clamp_(0.0, 1.0)

    @torch.inference_mode()
    def render(self, gray: torch.Tensor) -> tuple[torch.Tensor, Canvas]:
        """The colorizer's view of a full-resolution gray [H, W]: a [1, side, side] canvas."""
        box = self.canvas(*gray.shape)
        small = F.interpolate(
            gray[None, None], size=(box.height, box.width), mode="bilinear", antialias=True
        )[0, 0]
        rows = mirror_indices(box.side, box.height, box.top)
        cols = mirror_indices(box.side, box.width, box.left)
        return small[rows][:, cols].clamp(0.0, 1.0)[None], box

    @torch.inference_mode()
    def colorize(self, canvases: torch.Tensor) -> torch.Tensor:
        """Gray canvases [B, 1, S, S] in [0, 1] -> predicted LAB a*b* [B, 2, S, S] on the device."""
        x = self.space.input_from_gray(canvases.to(self.device))
        y = self.colorizer(x).float()
        if self.space.out_channels == 2:  # LAB model: the chroma itself
            return y * AB_SCALE
        return kc.rgb_to_lab(self.space.to_rgb(x, y))[:, 1:]  # RGB model: keep only its chroma

    @torch.inference_mode()
    def merge(self, gray: torch.Tensor, ab: torch.Tensor, box: Canvas) -> np.ndarray:
        """Full-res gray [H, W] + canvas chroma [2, S, S] -> uint8 RGB [H, W, 3], in row bands."""
        height, width = gray.shape
        content = ab[:, box.top : box.top + box.height, box.left : box.left + box.width]
        # Bilinear is separable: widen every render row once, then each band of output rows.
        wide = F.interpolate(content[None], size=(box.height, width), mode="bilinear")[0]
        out = np.empty((height, width, 3), np.uint8)
        step = max(1, MERGE_PIXELS // width)
        for top in range(0, height, step):
            bottom = min(top + step, height)
            band = gray[top:bottom].to(self.device)
            chroma = upsample_rows(wide, height, top, bottom)
            out[top:bottom] = colorize_luminance(band, chroma).cpu().numpy()
        return out

    def revive(self, gray: torch.Tensor) -> np.ndarray:
        """One full-resolution gray [H, W] -> uint8 RGB [H, W, 3]: all steps, no files."""
        gray = self.denoise(gray)
        canvas, box = self.render(gray)
        return self.merge(gray, self.colorize(canvas[None])[0], box)


def load_reviver(
    colorizer: str | os.PathLike,
    denoiser: str | os.PathLike | None = None,
    device: str = "auto",
    **kwargs,
) -> Reviver:
    """Load both checkpoints; every problem becomes one SetupError that names the argument."""
    from revive.weights.pix2pix import load_colorizer

    torch_device = resolve_device(device)
    try:
        net, space = load_colorizer(colorizer)
    except (OSError, ValueError, RuntimeError, KeyError, TypeError) as e:
        raise SetupError(f"colorizer={colorizer}: {e}") from e
    if space.in_channels != 1:
        raise SetupError(f"colorizer={colorizer} takes {space.in_channels} channels, not 1 gray")
    noise_net = None
    if denoiser is not None:
        from revive.weights.dncnn import load_denoiser

        try:
            noise_net = prepare_denoiser(load_denoiser(denoiser))
        except (OSError, ValueError, RuntimeError, KeyError, TypeError) as e:
            raise SetupError(f"denoiser={denoiser}: {e}") from e
    return Reviver(net, space, noise_net, device=torch_device, **kwargs)


# -- files -------------------------------------------------------------------------------------------
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
    """Output paths mirroring ``root``'s tree under ``output``.

    Two inputs with the same stem in one folder (``a.jpg``, ``a.png``) would write the same
    files, so such names keep their extension: ``a_jpg_revived.png``, ``a_png_revived.png``.
    """
    stems: dict[Path, int] = {}
    for src in sources:
        key = src.relative_to(root).with_suffix("")
        stems[key] = stems.get(key, 0) + 1
    jobs = []
    for src in sources:
        rel = src.relative_to(root)
        name = rel.stem
        if stems[rel.with_suffix("")] > 1:
            name = f"{rel.stem}_{rel.suffix.lstrip('.').lower()}"
        folder = output / rel.parent
        jobs.append(
            Job(src, folder / f"{name}{REVIVED_SUFFIX}", folder / f"{name}{COMPARE_SUFFIX}")
        )
    return jobs


@dataclass
class RevivalSummary:
    """What a run did: files revived, skipped (outputs existed) and failed, with reasons."""

    done: list[Path] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)
    written: list[Path] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed

    def __str__(self) -> str:
        lines = [
            f"revived {len(self.done)}, skipped {len(self.skipped)}, failed {len(self.failed)}"
            f" ({len(self.written)} files written)"
        ]
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


def _read(job: Job, reviver: Reviver, compare_max_side: int) -> _Pending:
    img = open_image(job.source)
    try:
        size = compare_size(img.height, img.width, compare_max_side)
        before = preview_rgb(img, size)
        gray = torch.from_numpy(image_luminance(img))
    except (OSError, ValueError) as e:
        raise ImageReadError(f"cannot convert {job.source} (mode {img.mode}): {e}") from e
    finally:
        img.close()
    gray = reviver.denoise(gray, desc=f"denoising {job.source.name}")
    canvas, box = reviver.render(gray)
    return _Pending(job, gray, canvas, box, before)


def _finish(batch: list[_Pending], reviver: Reviver, overwrite: bool, summary, bar) -> None:
    """Colorize a batch together, then merge and write each file."""
    try:
        ab = reviver.colorize(torch.stack([p.canvas for p in batch]))
    except (RuntimeError, ValueError, MemoryError) as e:  # e.g. out of memory: all of them
        for item in batch:
            _record_failure(summary, item.job.source, e)
        bar.update(len(batch))
        return
    for i, item in enumerate(batch):
        try:
            revived = reviver.merge(item.gray, ab[i], item.box)
            summary.written += write_outputs(item.job, revived, item.before, overwrite)
            summary.done.append(item.job.source)
        except (OSError, ValueError, RuntimeError, MemoryError) as e:
            _record_failure(summary, item.job.source, e)
        bar.update()


def _record_failure(summary: RevivalSummary, path: Path, error: BaseException) -> None:
    reason = str(error) or type(error).__name__
    summary.failed.append((path, reason))
    log.warning("failed %s: %s", path, reason)


def find_jobs(input: Path, output: Path) -> tuple[list[Job], list[tuple[Path, str]]]:
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
        sources, errors = walk_images(input, exclude=output)
        return plan_jobs(sources, input, output), errors
    return plan_jobs([input], input.parent, output), []


def revive_paths(
    input: str | os.PathLike,
    output: str | os.PathLike,
    colorizer: str | os.PathLike,
    denoiser: str | os.PathLike | None = None,
    render_size: int = 256,
    device: str = "auto",
    overwrite: bool = False,
    max_pixels: int | None = None,
    batch_size: int = 8,
    tile_size: int = 512,
    compare_max_side: int = 2048,
    precision: str = "auto",
    progress: bool = True,
) -> RevivalSummary:
    """Revive a photo or a folder of photos (recursively) into ``output``, mirroring its tree.

    Everything that can be checked up front (paths, checkpoints, device, options) raises
    :class:`SetupError` before any file is read; afterwards a bad file is recorded in the
    summary and the run goes on. ``max_pixels`` is PIL's decompression-bomb limit (``None``:
    PIL's default of 89,478,485). ``batch_size`` photos are colorized together on the device.
    ``precision`` is the denoiser's (:func:`revive.inference.inference_dtype`).
    """
    if batch_size < 1 or compare_max_side < 1:
        raise SetupError("batch_size and compare_max_side must be positive")
    if max_pixels is not None and max_pixels < 1:
        raise SetupError(f"max_pixels must be positive or null (got {max_pixels})")
    input, output = Path(input).expanduser(), Path(output).expanduser()
    jobs, listing_errors = find_jobs(input, output)
    reviver = load_reviver(
        colorizer,
        denoiser,
        device,
        render_size=render_size,
        tile_size=tile_size,
        precision=precision,
    )
    log.info(
        "reviving %d file(s) from %s into %s on %s (%s colorizer, render %d px%s)",
        len(jobs),
        input,
        output,
        reviver.device,
        reviver.space.name,
        render_size,
        f", denoising in {reviver.denoise_dtype}" if reviver.denoiser is not None else "",
    )
    if not jobs:
        log.warning("no images under %s (looked for %s)", input, ", ".join(IMAGE_EXTENSIONS))
    summary = RevivalSummary()
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
                batch.append(_read(job, reviver, compare_max_side))
            except (OSError, ValueError, RuntimeError, MemoryError) as e:  # ImageReadError too
                _record_failure(summary, job.source, e)
                bar.update()
                continue
            if len(batch) >= batch_size or sum(p.gray.numel() for p in batch) >= PENDING_PIXELS:
                _finish(batch, reviver, overwrite, summary, bar)
                batch = []
        if batch:
            _finish(batch, reviver, overwrite, summary, bar)
    log.info("%s", summary)
    return summary


def revive_config(cfg: Mapping) -> RevivalSummary:
    """:func:`revive_paths` with the options found in ``cfg`` (e.g. predict.yaml); others ignored."""
    names = inspect.signature(revive_paths).parameters
    return revive_paths(**{k: cfg[k] for k in names if k in cfg})
