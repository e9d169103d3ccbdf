"""Scoring colorizers on a folder of photos, against the gray baseline.

Each photo goes through :class:`revive.restore.Restorer`, the code ``predict.py`` runs: its
luminance at full resolution, the colorizer on the render canvas, the chroma merged back at full
size. The output is scored at the photo's own size, in 8-bit sRGB, against the photo itself.

The **gray baseline** is the honest floor of colorization: the same luminance merged with zero
chroma (L* kept, a* = b* = 0), through the same merge. The **wash** is the second floor: the same
luminance with one constant a*b* everywhere, the folder's mean chroma over all its truth pixels
(on faces a constant skin tone beats gray by several dB). A colorizer earns its place only by
beating both. All three are scored in the same pass (the wash's chroma in a first, cheap one).

A photo with no color of its own (a gray scan, a 16-bit gray TIFF) has no truth: only the
colorfulness of the output is reported for it, with the reason.

With a super-resolution stage (``upscaler=``, scale s) the test follows the super-resolution
literature: each photo, cut to a multiple of s, is shrunk s times (antialiased bicubic, rounded
to 8 bits like a file), revived back to its size, and scored against itself. The upscaled
luminance is also scored against the photo's own (``sr_y_psnr``, ``sr_y_ssim``, s pixels shaved
off each border as is customary) beside a plain bicubic enlargement (``bicubic_y_*``), so that the
network has to beat interpolation; the gray baseline takes the network's upscaled luminance.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from PIL import Image
from tqdm.auto import tqdm

from revive.data.denoise import image_folder
from revive.errors import UserError
from revive.evaluation.averages import averages
from revive.evaluation.metrics import (
    colorfulness_8bit,
    mean_deltae2000_8bit,
    psnr_8bit,
    ssim_8bit,
)
from revive.evaluation.perceptual import FidScore, PairMetric
from revive.io import GRAY_MODES, ImageReadError, image_luminance, open_image, to_rgb
from revive.restore.restorer import Restorer

log = logging.getLogger(__name__)

# Below this Hasler–Süsstrunk colorfulness (0-255 scale) a color file is a gray picture: JPEG
# chroma noise on a gray photo stays under 1, while Hasler & Süsstrunk's least colorful class of
# real photos ("not colorful") starts at 0 and "slightly colorful" at 15.
GRAY_COLORFULNESS = 2.0
# A toned print (sepia, cyanotype) is no truth for colors: its chroma has one hue, and it is set
# by the lightness alone. Both must hold (measured on scikit-image's photos toned sepia or blue,
# PNG and JPEG q75, and on CBSD68): hue concentration 0.992-0.9999 toned, 0.877-0.984 for
# untoned scenes but 0.992-0.998 for three CBSD68 photos of one dominant hue (lake, sand,
# grass); chroma spread at equal L* 0.2-2.6 toned, 6.3-19 untoned, except 1.7 for CBSD68's
# snake on sand (196073), which is therefore read as toned.
TONED_HUE_CONCENTRATION = 0.99
TONED_CHROMA_SPREAD = 3.0
# Modes that hold no color at all, whatever the pixels.
NO_COLOR_MODES = (*GRAY_MODES, "LA", "1")
REFERENCE_METRICS = ("psnr", "ssim", "deltae2000")
SHEET_SIDE = 192  # long side of each cell of the contact sheet


@dataclass
class SheetRow:
    """One photo of the contact sheet: gray baseline | revived | truth (None without truth)."""

    name: str
    gray: np.ndarray
    revived: np.ndarray
    truth: np.ndarray | None


def truth_of(img: Image.Image) -> tuple[np.ndarray | None, str]:
    """The photo's own colors as uint8 RGB, or None and why it holds no truth."""
    if img.mode in NO_COLOR_MODES:
        return None, f"gray file (mode {img.mode})"
    rgb = to_rgb(img)
    cf = colorfulness_8bit(rgb)
    if cf < GRAY_COLORFULNESS:
        return None, f"gray picture (colorfulness {cf:.2f} < {GRAY_COLORFULNESS})"
    concentration, spread = tone_measures(rgb)
    if concentration > TONED_HUE_CONCENTRATION and spread < TONED_CHROMA_SPREAD:
        return None, (
            f"toned print (one hue: concentration {concentration:.3f}; chroma set by L*: "
            f"spread {spread:.2f})"
        )
    return rgb, ""


def tone_measures(rgb: np.ndarray) -> tuple[float, float]:
    """(hue concentration, chroma spread at equal lightness) of a uint8 RGB image.

    Hue concentration: |sum of the a*b* vectors| / sum of their lengths; 1.0 when every colored
    pixel has the same hue. Chroma spread: the RMS deviation of a*b* from their mean within
    each of 64 bands of L*; near 0 when the color is a function of the lightness, as in a print
    toned after it was made.
    """
    import kornia.color as kc

    tensor = torch.from_numpy(np.array(rgb, np.float32)).permute(2, 0, 1) / 255.0
    lab = kc.rgb_to_lab(tensor).flatten(1).double()
    lightness, ab = lab[0], lab[1:]
    total = ab.norm(dim=0).sum()
    concentration = float(ab.sum(1).norm() / total) if total > 0 else 0.0
    bands = (lightness * 0.64).long().clamp(0, 63)
    counts = torch.bincount(bands, minlength=64).clamp(min=1).double()
    mean = torch.stack([torch.bincount(bands, c, 64) for c in ab]) / counts
    spread = float((ab - mean[:, bands]).pow(2).sum(0).mean().sqrt())
    return concentration, spread


def score(
    output: np.ndarray,
    truth: np.ndarray | None,
    truth_cf: float,
    extra: Mapping[str, PairMetric] | None = None,
) -> dict[str, float]:
    """The metrics of one uint8 RGB output; reference metrics are NaN without a truth.

    ``extra`` holds optional reference metrics (e.g. LPIPS, :mod:`revive.evaluation.perceptual`).
    """
    extra = extra or {}
    cf = colorfulness_8bit(output)
    if truth is None:
        return {**dict.fromkeys([*REFERENCE_METRICS, *extra], math.nan), "colorfulness": cf}
    return {
        "psnr": psnr_8bit(output, truth),
        "ssim": ssim_8bit(output, truth),
        "deltae2000": mean_deltae2000_8bit(output, truth),
        "colorfulness": cf,
        "delta_cf": cf - truth_cf,
        **{name: metric(output, truth) for name, metric in extra.items()},
    }


def gray_baseline(restorer: Restorer, light: torch.Tensor) -> np.ndarray:
    """The output's luminance kept, chroma zero: the restorer's own merge fed an all-zero
    chroma canvas."""
    box = restorer.canvas(*light.shape)
    return restorer.merge(light, torch.zeros(2, box.side, box.side), box)


def wash_baseline(restorer: Restorer, light: torch.Tensor, mean_ab: torch.Tensor) -> np.ndarray:
    """The output's luminance kept, every pixel given the chroma ``mean_ab`` [2] (a*b* units),
    through the restorer's own merge."""
    box = restorer.canvas(*light.shape)
    return restorer.merge(light, mean_ab.view(2, 1, 1).expand(2, box.side, box.side), box)


def mean_chroma(photos: list[np.ndarray]) -> torch.Tensor:
    """The mean a*b* [2] over every pixel of ``photos`` (uint8 RGB): each pixel counts once,
    so a large photo weighs more than a small one."""
    import kornia.color as kc

    total, count = torch.zeros(2, dtype=torch.float64), 0
    for rgb in photos:
        tensor = torch.from_numpy(np.array(rgb, np.float32)).permute(2, 0, 1) / 255.0
        ab = kc.rgb_to_lab(tensor)[1:].flatten(1).double()
        total += ab.sum(1)
        count += ab.shape[1]
    return (total / max(count, 1)).float()


def folder_chroma(paths: list[Path], scale: int, progress: bool) -> torch.Tensor:
    """:func:`mean_chroma` of the truths of ``paths`` (read as the scoring pass reads them;
    unreadable files and photos without truth are left out)."""

    def truths():
        for path in tqdm(paths, desc="mean chroma", unit="photo", disable=not progress):
            try:
                img = open_image(path)
                truth, _ = truth_of(cut_to_multiple(img, scale) if scale > 1 else img)
            except (ImageReadError, OSError, ValueError):
                continue
            if truth is not None:
                yield truth

    return mean_chroma(truths())


def cut_to_multiple(img: Image.Image, scale: int) -> Image.Image:
    """The top-left part of ``img`` whose sides are multiples of ``scale``."""
    width, height = img.size
    if width < scale or height < scale:
        raise ValueError(f"{width}x{height} is smaller than the upscaler's scale {scale}")
    return img.crop((0, 0, width - width % scale, height - height % scale))


def resize_gray(gray: np.ndarray, height: int, width: int) -> np.ndarray:
    """Float gray [h, w] in [0, 1] -> [height, width] by PIL's bicubic (antialiased when it
    shrinks), rounded to 8 bits as a saved file would be."""
    out = Image.fromarray(gray.astype(np.float32), mode="F").resize(
        (width, height), Image.Resampling.BICUBIC
    )
    return np.round(np.clip(np.asarray(out), 0.0, 1.0) * 255.0).astype(np.float32) / 255.0


def luminance_scores(light: np.ndarray, truth: np.ndarray, shave: int) -> dict[str, float]:
    """PSNR and SSIM of a luminance [H, W] in [0, 1] against the photo's, in 8 bits, with
    ``shave`` pixels left out at every border."""
    inner = (slice(shave, -shave or None), slice(shave, -shave or None))
    a, b = (np.round(np.clip(x[inner], 0.0, 1.0) * 255.0).astype(np.uint8) for x in (light, truth))
    return {"y_psnr": psnr_8bit(a, b), "y_ssim": ssim_8bit(a[..., None], b[..., None])}


def upscaling_scores(light: torch.Tensor, gray: torch.Tensor, given: torch.Tensor, scale: int):
    """``sr_y_*`` of the network's upscaled luminance and ``bicubic_y_*`` of a bicubic
    enlargement of the same input, both against the photo's own luminance ``gray``."""
    truth = gray.numpy()
    bicubic = resize_gray(given.numpy(), *truth.shape)
    scores = {f"sr_{k}": v for k, v in luminance_scores(light.numpy(), truth, scale).items()}
    scores.update({f"bicubic_{k}": v for k, v in luminance_scores(bicubic, truth, scale).items()})
    return scores


def thumbnail(image: np.ndarray, side: int = SHEET_SIDE) -> np.ndarray:
    """``image`` shrunk (never enlarged) so that its long side is at most ``side``."""
    height, width = image.shape[:2]
    scale = min(1.0, side / max(height, width))
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    if size == (width, height):
        return image
    return np.asarray(Image.fromarray(image).resize(size, Image.Resampling.LANCZOS))


def evaluate_colorizer(
    restorer: Restorer,
    test_dir: str | Path,
    sheet_count: int = 0,
    progress: bool = True,
    extra: Mapping[str, PairMetric] | None = None,
    fid: FidScore | None = None,
) -> tuple[pd.DataFrame, list[SheetRow]]:
    """Per-photo metrics of the colorizer (``psnr`` ...), of the gray baseline (``gray_psnr``
    ...) and of the wash (``wash_psnr`` ...) on every image under ``test_dir``, and the first
    ``sheet_count`` photos as sheet rows. ``table.attrs["wash_ab"]`` is the wash's a*b*.
    ``extra``: optional reference metrics, scored for both. ``fid``: collects the photos with
    truth; its folder-level scores land in ``table.attrs["set_metrics"]``.

    Unreadable files are skipped with a warning that names them.
    """
    root = Path(test_dir).expanduser()
    paths = image_folder(root, "data.test_dir")
    scale = restorer.scale
    wash_ab = folder_chroma(paths, scale, progress)
    rows, sheet = [], []
    for path in tqdm(paths, desc=f"colorizing {root.name}", unit="photo", disable=not progress):
        try:
            img = open_image(path)
            if scale > 1:  # the photo is the truth of an input `scale` times smaller
                img = cut_to_multiple(img, scale)
            truth, note = truth_of(img)
            gray = torch.from_numpy(image_luminance(img))
        except (ImageReadError, OSError, ValueError) as e:
            log.warning("skipped %s: %s", path, e)
            continue
        given = gray
        if scale > 1:
            height, width = (side // scale for side in gray.shape)
            given = torch.from_numpy(resize_gray(gray.numpy(), height, width))
        light = restorer.upscale(restorer.denoise(given))
        revived = restorer.paint(light)
        baseline = gray_baseline(restorer, light)
        truth_cf = math.nan if truth is None else colorfulness_8bit(truth)
        row = {
            "image": str(path.relative_to(root)),
            "width": gray.shape[1],
            "height": gray.shape[0],
            "truth": truth is not None,
            "note": note,
            **score(revived, truth, truth_cf, extra),
            "truth_colorfulness": truth_cf,
        }
        row.update({f"gray_{k}": v for k, v in score(baseline, truth, truth_cf, extra).items()})
        wash = wash_baseline(restorer, light, wash_ab)
        row.update({f"wash_{k}": v for k, v in score(wash, truth, truth_cf, extra).items()})
        if scale > 1:
            row.update(upscaling_scores(light, gray, given, scale))
        rows.append(row)
        if fid is not None and truth is not None:
            for stream, image in (("test", revived), ("gray", baseline), ("truth", truth)):
                fid.add(stream, image)
        if len(sheet) < sheet_count:
            shown = None if truth is None else thumbnail(truth)
            sheet.append(SheetRow(row["image"], thumbnail(baseline), thumbnail(revived), shown))
    if not rows:
        raise UserError(f"no readable image in data.test_dir={test_dir} (see the warnings)")
    table = pd.DataFrame(rows)
    table.attrs["wash_ab"] = wash_ab.tolist()
    if fid is not None:
        table.attrs["set_metrics"] = fid.compute()
    return table, sheet


def contact_sheet(rows: list[SheetRow]) -> np.ndarray:
    """gray | revived | truth, one photo per row (rows without truth have two cells)."""
    from revive.visual import grid

    return grid([[r.gray, r.revived] + ([] if r.truth is None else [r.truth]) for r in rows])


def score_folders(
    restorer: Restorer, test_dirs: Mapping[str, str | Path], progress: bool = True
) -> dict[str, float]:
    """Averages on named test folders, as eval.py computes them: ``<name>/test/<metric>`` and
    ``<name>/gray/<metric>`` (an empty name gives plain ``test/...`` and ``gray/...``)."""

    out = {}
    for name, folder in test_dirs.items():
        table, _ = evaluate_colorizer(restorer, folder, progress=progress)
        prefix = f"{name}/" if name else ""
        out.update({prefix + k: v for k, v in averages(table).items()})
    return out


def score_checkpoint(
    checkpoint: str | Path,
    test_dirs: Mapping[str, str | Path],
    device: str = "auto",
    render_size: int | None = None,
    progress: bool = True,
) -> dict[str, float]:
    """:func:`score_folders` of the colorizer in ``checkpoint`` (any format predict.py reads),
    at ``render_size`` (None: the size the file records, else 256)."""
    from revive.restore.options import RestoreOptions
    from revive.restore.restorer import load_restorer

    options = RestoreOptions(colorizer=checkpoint, device=device, render_size=render_size)
    return score_folders(load_restorer(options), test_dirs, progress)
