"""Image-quality metrics used across training, evaluation and comparison.

PSNR and SSIM come from torchmetrics. Colorfulness is Hasler & Süsstrunk (2003), the measure
that tells a washed-out sepia colorization from a lively one when there is no ground truth.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torchmetrics import MeanMetric, Metric, MetricCollection
from torchmetrics.image import PeakSignalNoiseRatio, StructuralSimilarityIndexMeasure

# The SSIM window: Gaussian sigma 1.5 cut at 3.5 sigma, i.e. 11 taps (radius 5), as published.
SSIM_SIGMA = 1.5
SSIM_RADIUS = int(3.5 * SSIM_SIGMA + 0.5)


def colorfulness(rgb: torch.Tensor) -> torch.Tensor:
    """Hasler–Süsstrunk colorfulness per image, on the 0–255 scale.

    ``rgb``: a batch of shape (B, 3, H, W) with values from 0 to 1; returns shape (B,).

    M = sqrt(std_rg^2 + std_yb^2) + 0.3 * sqrt(mean_rg^2 + mean_yb^2) with rg = R-G and
    yb = (R+G)/2 - B. A gray image scores 0.
    """
    rgb = rgb.float() * 255.0
    r, g, b = rgb[:, 0].flatten(1), rgb[:, 1].flatten(1), rgb[:, 2].flatten(1)
    rg, yb = r - g, 0.5 * (r + g) - b
    std = torch.sqrt(rg.var(1, unbiased=False) + yb.var(1, unbiased=False))
    mean = torch.sqrt(rg.mean(1) ** 2 + yb.mean(1) ** 2)
    return std + 0.3 * mean


class ColorfulnessGap(Metric):
    """Mean colorfulness of predictions, and the signed gap to the truth (negative = too dull)."""

    full_state_update = False

    def __init__(self) -> None:
        super().__init__()
        self.add_state(
            "pred_sum", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum"
        )
        self.add_state(
            "gap_sum", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum"
        )
        self.add_state("count", default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, pred: torch.Tensor, target: torch.Tensor) -> None:
        cf_pred, cf_true = colorfulness(pred), colorfulness(target)
        self.pred_sum += cf_pred.sum().double()
        self.gap_sum += (cf_pred - cf_true).sum().double()
        self.count += pred.shape[0]

    def compute(self) -> dict[str, torch.Tensor]:
        n = self.count.clamp(min=1)
        return {"colorfulness": (self.pred_sum / n).float(), "delta_cf": (self.gap_sum / n).float()}


def restoration_metrics(prefix: str) -> MetricCollection:
    """PSNR and SSIM over images in [0,1], named ``<prefix>psnr`` / ``<prefix>ssim``."""
    return MetricCollection(
        {
            "psnr": PeakSignalNoiseRatio(data_range=1.0, dim=(1, 2, 3)),  # per image, then mean
            "ssim": StructuralSimilarityIndexMeasure(data_range=1.0),
        },
        prefix=prefix,
    )


__all__ = [
    "ColorfulnessGap",
    "MeanMetric",
    "colorfulness",
    "colorfulness_8bit",
    "deltae2000",
    "mean_deltae2000_8bit",
    "psnr_8bit",
    "restoration_metrics",
    "ssim_8bit",
]


# -- scores of 8-bit images, as published tables compute them ------------------------------------
def psnr_8bit(pred: np.ndarray, target: np.ndarray) -> float:
    """PSNR in dB of two uint8 images (peak 255), in float64; inf when they are equal."""
    mse = np.mean((pred.astype(np.float64) - target.astype(np.float64)) ** 2)
    return math.inf if mse == 0 else 10.0 * math.log10(255.0**2 / mse)


def ssim_8bit(pred: np.ndarray, target: np.ndarray) -> float:
    """SSIM of two uint8 HWC images: Gaussian window 11, sigma 1.5, borders of the window
    excluded ('valid'; NaN below 11 px), averaged over channels (Wang et al. 2004, as KAIR's
    ``calculate_ssim`` and skimage's ``structural_similarity(gaussian_weights=True,
    use_sample_covariance=False)``), in float64.

    Written out rather than torchmetrics' (which also averages the reflect-padded borders, and
    runs a 2-D float64 convolution 5x slower than this separable one).
    """
    border = SSIM_RADIUS
    if min(pred.shape[:2]) <= 2 * border:  # no window fits: SSIM is undefined
        return math.nan

    def planes(image: np.ndarray) -> torch.Tensor:  # channels as a batch of [1, H, W]
        return torch.from_numpy(np.array(image, np.float64).transpose(2, 0, 1))[:, None]

    x, y = planes(pred), planes(target)
    taps = torch.arange(-border, border + 1, dtype=torch.float64)
    kernel = torch.exp(-(taps**2) / (2 * SSIM_SIGMA**2))
    kernel /= kernel.sum()
    stack = torch.cat([x, y, x * x, y * y, x * y])
    blurred = F.conv2d(F.conv2d(stack, kernel.view(1, 1, 1, -1)), kernel.view(1, 1, -1, 1))
    mu_x, mu_y, xx, yy, xy = blurred.chunk(5)
    var_x, var_y, cov = xx - mu_x**2, yy - mu_y**2, xy - mu_x * mu_y
    c1, c2 = (0.01 * 255.0) ** 2, (0.03 * 255.0) ** 2
    ssim = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / (
        (mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2)
    )
    return float(ssim.mean())


def colorfulness_8bit(rgb: np.ndarray) -> float:
    """Hasler–Süsstrunk colorfulness of a uint8 RGB [H, W, 3] image (as :func:`colorfulness`)."""
    tensor = torch.from_numpy(np.array(rgb, np.float64)).permute(2, 0, 1)[None] / 255.0
    return float(colorfulness(tensor)[0])


# -- CIEDE2000 -----------------------------------------------------------------------------------
def _hue_degrees(b: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """Hue angle in [0, 360); 0 for achromatic pixels, as the standard asks."""
    return torch.rad2deg(torch.atan2(b, a)) % 360.0


def deltae2000(lab1: torch.Tensor, lab2: torch.Tensor) -> torch.Tensor:
    """CIEDE2000 color difference of two L*a*b* tensors [..., 3] (kL = kC = kH = 1).

    Written from Sharma, Wu & Dalal (2005), "The CIEDE2000 color-difference formula:
    implementation notes", including their rules for achromatic pixels and hue wrap-around.
    """
    l1, a1, b1 = lab1.unbind(-1)
    l2, a2, b2 = lab2.unbind(-1)
    c_bar = 0.5 * (torch.hypot(a1, b1) + torch.hypot(a2, b2))
    c7 = c_bar**7
    g = 0.5 * (1.0 - torch.sqrt(c7 / (c7 + 25.0**7)))
    a1p, a2p = (1.0 + g) * a1, (1.0 + g) * a2
    c1p, c2p = torch.hypot(a1p, b1), torch.hypot(a2p, b2)
    h1p, h2p = _hue_degrees(b1, a1p), _hue_degrees(b2, a2p)
    chromatic = (c1p * c2p) != 0

    dh = h2p - h1p
    dh = torch.where(dh > 180.0, dh - 360.0, torch.where(dh < -180.0, dh + 360.0, dh))
    dh = torch.where(chromatic, dh, torch.zeros_like(dh))
    d_l, d_c = l2 - l1, c2p - c1p
    d_h = 2.0 * torch.sqrt(c1p * c2p) * torch.sin(torch.deg2rad(dh) / 2.0)

    l_bar, cp_bar = 0.5 * (l1 + l2), 0.5 * (c1p + c2p)
    h_sum = h1p + h2p
    far = (h1p - h2p).abs() > 180.0
    h_bar = torch.where(far, torch.where(h_sum < 360.0, h_sum + 360.0, h_sum - 360.0), h_sum) / 2.0
    h_bar = torch.where(chromatic, h_bar, h_sum)

    def cos_deg(x: torch.Tensor) -> torch.Tensor:
        return torch.cos(torch.deg2rad(x))

    t = (
        1.0
        - 0.17 * cos_deg(h_bar - 30.0)
        + 0.24 * cos_deg(2.0 * h_bar)
        + 0.32 * cos_deg(3.0 * h_bar + 6.0)
        - 0.20 * cos_deg(4.0 * h_bar - 63.0)
    )
    d_theta = 30.0 * torch.exp(-(((h_bar - 275.0) / 25.0) ** 2))
    cp7 = cp_bar**7
    r_c = 2.0 * torch.sqrt(cp7 / (cp7 + 25.0**7))
    s_l = 1.0 + 0.015 * (l_bar - 50.0) ** 2 / torch.sqrt(20.0 + (l_bar - 50.0) ** 2)
    s_c = 1.0 + 0.045 * cp_bar
    s_h = 1.0 + 0.015 * cp_bar * t
    r_t = -torch.sin(torch.deg2rad(2.0 * d_theta)) * r_c
    term_c, term_h = d_c / s_c, d_h / s_h
    return torch.sqrt((d_l / s_l) ** 2 + term_c**2 + term_h**2 + r_t * term_c * term_h)


def mean_deltae2000_8bit(pred: np.ndarray, target: np.ndarray, band_pixels: int = 1 << 20) -> float:
    """Mean CIEDE2000 between two uint8 RGB [H, W, 3] images (sRGB, D65), in float64.

    Computed in bands of rows so that a large scan needs no full-size float64 temporaries.
    """
    import kornia.color as kc

    height, width = pred.shape[:2]
    step = max(1, band_pixels // max(width, 1))
    total = 0.0

    def lab(band: np.ndarray) -> torch.Tensor:
        rgb = torch.from_numpy(np.array(band, np.float64)) / 255.0
        return kc.rgb_to_lab(rgb.permute(2, 0, 1)).permute(1, 2, 0)

    for top in range(0, height, step):
        rows = slice(top, top + step)
        total += float(deltae2000(lab(pred[rows]), lab(target[rows])).sum())
    return total / (height * width)
