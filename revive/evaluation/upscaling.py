"""The super-resolution protocol's luminance scores: the network against a bicubic enlargement.

Each photo is shrunk s times, revived back to its size and scored against itself; its upscaled
luminance is scored against the photo's own with s pixels shaved off each border, as is
customary in the super-resolution literature.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from revive.evaluation.metrics import psnr_8bit, ssim_8bit


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
