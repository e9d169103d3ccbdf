"""Tiny random-weight networks and photos for the web page's tests (fast on a CPU)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from revive.data.fakes import fake_photos
from revive.nets import UnetGenerator
from revive.nets.dncnn import DnCNN

RENDER = 128  # the page's smallest "detail" for a 2^6 U-Net, and predict.py's render_size here


def save_weights(folder: Path) -> tuple[Path, Path]:
    """An official-layout LAB colorizer (ngf 8, 6 levels, BN statistics away from 0/1) and a
    5-layer gray DnCNN with BatchNorm."""
    torch.manual_seed(0)
    net = UnetGenerator(1, 2, num_downs=6, ngf=8)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.3, 0.3)
    folder.mkdir(parents=True, exist_ok=True)
    colorizer, denoiser = folder / "latest_net_G.pth", folder / "dncnn.pth"
    torch.save(net.state_dict(), colorizer)
    torch.save(DnCNN(channels=1, depth=5, features=8).state_dict(), denoiser)
    return colorizer, denoiser


def save_gray(path: Path, height: int = 150, width: int = 110, seed: int = 3) -> Path:
    """A smooth gray photo of an odd size."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(fake_photos(1, height, width, seed=seed)[0][..., 1]).save(path)
    return path


def save_corrupt(path: Path) -> Path:
    """A file named like a JPEG that holds no image."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg" + bytes(64))
    return path


def save_noise(path: Path, megabytes: float) -> Path:
    """A PNG of random pixels (incompressible) of about ``megabytes``."""
    side = int((megabytes * 1e6 / 3) ** 0.5) + 8
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (side, side, 3), dtype=np.uint8)).save(path)
    return path
