"""Scoring denoisers: ``python eval.py weights=W data.test_dir=D sigma=25``.

Denoising follows KAIR's protocol (``main_test_dncnn.py``), which reproduces the DnCNN paper:
the seed is reset to 0 before each image, N(0, sigma/255) noise is added to the image in [0, 1]
(HWC for color) without clipping, and PSNR/SSIM are computed on the output clipped to [0, 1] and
rounded to 8 bits, over all channels, with no border cropped.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from revive.data.denoise import image_folder, read_clean
from revive.data.noise import kair_noisy, quantize
from revive.evaluation.metrics import psnr_8bit, ssim_8bit
from revive.nets.dncnn import DnCNN
from revive.restore.forward import denoising_forward

log = logging.getLogger(__name__)


def to_uint8(image: torch.Tensor) -> np.ndarray:
    """[1, C, H, W] in [0, 1] -> uint8 HWC, clipped and rounded."""
    return (quantize(image)[0] * 255.0).round().byte().permute(1, 2, 0).cpu().numpy()


@torch.inference_mode()
def evaluate_denoiser(
    net: DnCNN,
    test_dir: str | Path,
    sigma: float,
    seed: int = 0,
    device: torch.device | str = "cpu",
    progress: bool = True,
) -> pd.DataFrame:
    """Per-image PSNR/SSIM of ``net`` (channels as its first conv) on the images of ``test_dir``.

    Use a BN-fused net in eval mode (``load_denoiser`` returns one): it is faster and exact.
    """
    device = torch.device(device)
    forward = denoising_forward(net.to(device).eval(), device)
    rows = []
    paths = image_folder(test_dir, "data.test_dir")
    for path in tqdm(
        paths,
        desc=f"denoising {Path(test_dir).name}",
        unit="img",
        disable=None if progress else True,
    ):
        clean = read_clean(path, net.channels)
        noisy = kair_noisy(clean.astype(np.float32) / 255.0, sigma, seed)
        noisy_t = torch.from_numpy(noisy.transpose(2, 0, 1)).unsqueeze(0).to(device)
        denoised = to_uint8(forward(noisy_t))
        rows.append(
            {
                "image": path.name,
                "psnr": psnr_8bit(denoised, clean),
                "ssim": ssim_8bit(denoised, clean),
                "input_psnr": psnr_8bit(to_uint8(noisy_t), clean),
            }
        )
    return pd.DataFrame(rows)
