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
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from revive.data.denoise import image_folder
from revive.errors import UserError
from revive.evaluation.averages import averages
from revive.evaluation.contact_sheet import SheetRow, thumbnail
from revive.evaluation.floors import folder_chroma, gray_baseline, wash_baseline
from revive.evaluation.metrics import (
    colorfulness_8bit,
    mean_deltae2000_8bit,
    psnr_8bit,
    ssim_8bit,
)
from revive.evaluation.perceptual import FidScore, PairMetric
from revive.evaluation.truth import cut_to_multiple, truth_of
from revive.evaluation.upscaling import resize_gray, upscaling_scores
from revive.io import ImageReadError, image_luminance, open_image
from revive.restore.restorer import Restorer

log = logging.getLogger(__name__)

REFERENCE_METRICS = ("psnr", "ssim", "deltae2000")


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
