"""Image-quality metrics used across training, evaluation and comparison.

PSNR and SSIM come from torchmetrics. Colorfulness is Hasler & Süsstrunk (2003), the measure
that tells a washed-out sepia colorization from a lively one when there is no ground truth.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torchmetrics import MeanMetric, Metric, MetricCollection
from torchmetrics.functional.image import structural_similarity_index_measure
from torchmetrics.image import PeakSignalNoiseRatio, StructuralSimilarityIndexMeasure


def colorfulness(rgb: torch.Tensor) -> torch.Tensor:
    """Hasler–Süsstrunk colorfulness per image, for RGB in [0,1] [B,3,H,W], on the 0–255 scale.

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


__all__ = ["ColorfulnessGap", "MeanMetric", "colorfulness", "restoration_metrics"]


# -- scores of 8-bit images, as published tables compute them ------------------------------------
def psnr_8bit(pred: np.ndarray, target: np.ndarray) -> float:
    """PSNR in dB of two uint8 images (peak 255), in float64; inf when they are equal."""
    mse = np.mean((pred.astype(np.float64) - target.astype(np.float64)) ** 2)
    return math.inf if mse == 0 else 10.0 * math.log10(255.0**2 / mse)


def ssim_8bit(pred: np.ndarray, target: np.ndarray) -> float:
    """SSIM of two uint8 HWC images: Gaussian window 11, sigma 1.5, borders of the window
    excluded ('valid'), averaged over channels (Wang et al. 2004, as KAIR's ``calculate_ssim``)."""

    def to_tensor(image: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(image.astype(np.float64).transpose(2, 0, 1)).unsqueeze(0)

    value = structural_similarity_index_measure(
        to_tensor(pred), to_tensor(target), data_range=255.0, gaussian_kernel=True
    )
    return float(value)
