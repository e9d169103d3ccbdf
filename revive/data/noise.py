"""DnCNN's synthetic noise on clean images, and the 8-bit rounding that scoring applies.

Sigmas are on the 0–255 scale, as in the DnCNN paper, for images in [0, 1].
"""

from __future__ import annotations

import numpy as np
import torch


def gaussian_noise(
    clean: torch.Tensor, sigma: float | torch.Tensor, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Noise of std ``sigma / 255`` shaped like ``clean``, drawn on ``clean``'s device.

    ``sigma`` is one number, or one per sample ([B]) for blind training.
    """
    noise = torch.randn(clean.shape, generator=generator, device=clean.device, dtype=clean.dtype)
    if isinstance(sigma, torch.Tensor):
        sigma = sigma.to(clean).view(-1, *([1] * (clean.ndim - 1)))
    return noise * (sigma / 255.0)


def sample_sigmas(
    batch_size: int,
    low: float,
    high: float,
    device: torch.device | str = "cpu",
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """One sigma per sample, uniform in [low, high] (DnCNN-B: [0, 55])."""
    return torch.empty(batch_size, device=device).uniform_(low, high, generator=generator)


def kair_noisy(image: np.ndarray, sigma: float, seed: int = 0) -> np.ndarray:
    """KAIR's test protocol: ``np.random.seed(seed)``, then N(0, sigma/255) added, not clipped.

    ``image`` is float32 HWC in [0, 1] (HxWx1 for gray), so color noise is drawn in HWC order as
    in KAIR's ``main_test_dncnn.py``. A private ``RandomState(seed)`` draws the same numbers as
    the global seed without touching global state.
    """
    noise = np.random.RandomState(seed).normal(0.0, sigma / 255.0, image.shape)
    return (image + noise).astype(np.float32)


def quantize(image: torch.Tensor) -> torch.Tensor:
    """Clip to [0, 1] and round to 8 bits, as an output is saved and scored."""
    return torch.round(image.clamp(0.0, 1.0) * 255.0) / 255.0
