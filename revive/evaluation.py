"""Scoring trained or published models on a test folder: ``python eval.py model=... weights=...``.

Each task has one evaluator that returns a per-image table; the model config's ``_target_``
picks it (:data:`EVALUATORS`), so colorizers can join with their own function. Averages are
named ``test/<column>`` like the test metrics of training.

Denoising follows KAIR's protocol (``main_test_dncnn.py``), which reproduces the DnCNN paper:
the seed is reset to 0 before each image, N(0, sigma/255) noise is added to the image in [0, 1]
(HWC for color) without clipping, and PSNR/SSIM are computed on the output clipped to [0, 1] and
rounded to 8 bits, over all channels, with no border cropped.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from omegaconf import DictConfig
from rich.console import Console
from rich.table import Table
from torchmetrics.functional.image import structural_similarity_index_measure
from tqdm import tqdm

from revive.data.degradations import kair_noisy, quantize
from revive.data.denoise import image_folder, read_clean
from revive.inference import denoising_forward
from revive.io import atomic_path
from revive.nets.dncnn import DnCNN

log = logging.getLogger(__name__)


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


def to_uint8(image: torch.Tensor) -> np.ndarray:
    """[1, C, H, W] in [0, 1] -> uint8 HWC, clipped and rounded."""
    return (quantize(image)[0] * 255.0).round().byte().permute(1, 2, 0).cpu().numpy()


def pick_device(name: str) -> torch.device:
    """``auto`` is CUDA when there is one, else the CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


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


def weights_path(cfg: DictConfig) -> Path:
    """``weights=`` or its alias ``ckpt=``: one file, which must exist."""
    given = {key: cfg.get(key) for key in ("weights", "ckpt") if cfg.get(key) is not None}
    if not given:
        raise ValueError(
            "no weights to evaluate: add weights=PATH (a train.py checkpoint or published "
            "weights, e.g. weights=../shared/data/weights/dncnn_25.pth)"
        )
    if len(set(given.values())) > 1:
        raise ValueError(f"weights= and ckpt= name different files: {given}; give only one")
    path = Path(next(iter(given.values()))).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"weights file not found: {path.resolve()}")
    return path


def test_folder(cfg: DictConfig) -> Path:
    """``data.test_dir``: required, and a folder."""
    test_dir = cfg.get("data", {}).get("test_dir")
    if test_dir is None:
        raise ValueError(
            "no test images: add data.test_dir=FOLDER of clean images, "
            "e.g. data.test_dir=../shared/data/Set12"
        )
    return Path(test_dir)


def evaluate_denoising(cfg: DictConfig) -> pd.DataFrame:
    """``eval.py model=dncnn*``: load the weights (any DnCNN layout) and score at ``sigma``."""
    from revive.weights.dncnn import load_denoiser

    test_dir, path = test_folder(cfg), weights_path(cfg)
    net = load_denoiser(path)
    log.info("%s: %s, sigma=%s on %s", path.name, net.extra_repr(), cfg.sigma, test_dir)
    return evaluate_denoiser(
        net, test_dir, float(cfg.sigma), int(cfg.get("seed", 0)), pick_device(cfg.device)
    )


# The model config's _target_ -> the function that scores that kind of model.
EVALUATORS: dict[str, Callable[[DictConfig], pd.DataFrame]] = {
    "revive.models.dncnn.DnCNNModule": evaluate_denoising,
}


def averages(table: pd.DataFrame) -> dict[str, float]:
    """``test/<column>`` means of every numeric column."""
    return {f"test/{k}": float(v) for k, v in table.mean(numeric_only=True).items()}


def print_metrics(metrics: dict[str, float], title: str, console: Console | None = None) -> None:
    table = Table(title=title)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name, value in metrics.items():
        table.add_row(name, f"{value:.4f}")
    (console or Console()).print(table)


def write_csv(table: pd.DataFrame, dest: str | Path) -> Path:
    """The per-image table, written atomically (a crash never leaves half a file)."""
    dest = Path(dest).expanduser()
    with atomic_path(dest) as tmp:
        table.to_csv(tmp, index=False, float_format="%.4f")
    return dest


def evaluate(cfg: DictConfig) -> dict[str, float]:
    """Score the model of ``cfg`` on ``data.test_dir``; print, optionally save, return averages."""
    target = cfg.model.get("_target_")
    if target not in EVALUATORS:
        known = ", ".join(EVALUATORS)
        raise ValueError(f"eval.py has no evaluator for model {target}; it evaluates: {known}")
    table = EVALUATORS[target](cfg)
    metrics = averages(table)
    print_metrics(metrics, f"{Path(str(cfg.data.test_dir)).name}: {len(table)} images")
    if cfg.get("csv"):
        log.info("per-image metrics written to %s", write_csv(table, cfg.csv))
    return metrics
