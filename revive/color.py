"""Color spaces: turn an RGB batch into (network input, target) on the device, and back.

Batches are dicts. Image datasets yield ``"rgb"`` as uint8 [B,3,H,W]; the Image Colorization
dataset yields ``"lab"`` as float [B,3,H,W] (L in [0,100], a/b in about [-128,127]) so that its
stored LAB values reach the network without a lossy round trip through 8-bit RGB.
"""

from __future__ import annotations

from collections.abc import Mapping

import kornia.color as kc
import torch

# Official pix2pix colorization normalization (models/colorization_model.py).
L_SCALE, L_SHIFT, AB_SCALE = 50.0, 1.0, 110.0
# ITU-R 601-2 luma, the weights PIL's convert("L") uses: what a gray scan looks like.
LUMA = (0.299, 0.587, 0.114)


def batch_rgb(batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """The batch as float RGB in [0, 1], whatever form the dataset delivered."""
    if "rgb" in batch:
        rgb = batch["rgb"]
        return rgb.float().div_(255.0) if rgb.dtype == torch.uint8 else rgb.float()
    return kc.lab_to_rgb(batch["lab"].float(), clip=True)


def batch_lab(batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """The batch as float LAB (L in [0,100])."""
    if "lab" in batch:
        return batch["lab"].float()
    return kc.rgb_to_lab(batch_rgb(batch))


def luma(rgb: torch.Tensor) -> torch.Tensor:
    """Gray [B,1,H,W] in [0,1] from RGB in [0,1]."""
    w = rgb.new_tensor(LUMA).view(1, 3, 1, 1)
    return (rgb * w).sum(1, keepdim=True)


class ColorSpace:
    """How a colorizer sees color. Subclasses fix the channel counts and the normalization."""

    name: str
    in_channels: int = 1
    out_channels: int

    def split(self, batch: Mapping[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """(input, target), both in [-1, 1]."""
        raise NotImplementedError

    def input_from_gray(self, gray: torch.Tensor) -> torch.Tensor:
        """Network input from a gray image in [0,1] (what predict feeds a real scan)."""
        raise NotImplementedError

    def to_rgb(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """RGB in [0,1] from the input and an output (prediction or target)."""
        raise NotImplementedError

    def gray_rgb(self, x: torch.Tensor) -> torch.Tensor:
        """The network input shown as a 3-channel image in [0,1], for panels."""
        return ((x + 1) / 2).clamp(0, 1).expand(-1, 3, -1, -1)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.in_channels}->{self.out_channels})"


class LabSpace(ColorSpace):
    """Predict ab from L: input L/50-1, target ab/110 (the official colorization mode)."""

    name, out_channels = "lab", 2

    def split(self, batch):
        lab = batch_lab(batch)
        return lab[:, :1] / L_SCALE - L_SHIFT, lab[:, 1:] / AB_SCALE

    def input_from_gray(self, gray):
        # A gray pixel's L is the L of the equal-RGB color; kornia computes it exactly.
        return kc.rgb_to_lab(gray.expand(-1, 3, -1, -1))[:, :1] / L_SCALE - L_SHIFT

    def to_rgb(self, x, y):
        lab = torch.cat([(x + L_SHIFT) * L_SCALE, y * AB_SCALE], 1)
        return kc.lab_to_rgb(lab.float(), clip=True)

    def gray_rgb(self, x):
        return self.to_rgb(x, torch.zeros_like(x).expand(-1, 2, -1, -1))


class RgbSpace(ColorSpace):
    """Predict RGB from gray: input is the luma in [-1,1], target RGB in [-1,1]."""

    name, out_channels = "rgb", 3

    def split(self, batch):
        rgb = batch_rgb(batch)
        return luma(rgb) * 2 - 1, rgb * 2 - 1

    def input_from_gray(self, gray):
        return gray * 2 - 1

    def to_rgb(self, x, y):
        return ((y.float() + 1) / 2).clamp(0, 1)


COLOR_SPACES: dict[str, type[ColorSpace]] = {"lab": LabSpace, "rgb": RgbSpace}


def get_color_space(name: str) -> ColorSpace:
    """Look up a color space by its config name."""
    try:
        return COLOR_SPACES[name]()
    except KeyError:
        raise ValueError(
            f"unknown color space {name!r}; expected one of {sorted(COLOR_SPACES)}"
        ) from None
