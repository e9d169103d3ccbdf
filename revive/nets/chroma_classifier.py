"""Colorization as classification (Zhang, Isola and Efros, ECCV 2016): any generator trunk
predicts, per pixel, a distribution over quantized a*b* bins, decoded by the annealed mean.

Regression to a*b* with L1 or L2 averages the plausible colors of an object (a red or a blue
car) into a dull brown-gray. A distribution keeps them apart, and the annealed mean picks a
point between its mean (safe, dull) and its mode (vivid, sometimes wrong): ``temperature`` 1
is the mean, towards 0 the mode; Zhang et al. use 0.38.

:class:`ChromaClassifier`'s ``forward`` returns the decoded a*b*/110 in [-1, 1], exactly what a
LAB regression generator returns, so predict, eval, ONNX export and the web page use it with no
change; training reads :meth:`ChromaClassifier.logits`.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import cv2
import numpy as np
import torch
from torch import nn

from revive.nets.build import DEFAULT_GENERATOR, build_net

# a*b* are stored divided by this (LabSpace's target scale)
AB_SCALE = 110.0
GRID = 10.0  # bin side in a*b* units (Zhang et al.)


@functools.cache
def _bins(grid: float) -> torch.Tensor:
    levels = np.arange(256, dtype=np.float32) / 255.0
    rgb = np.stack(np.meshgrid(levels, levels, levels, indexing="ij"), -1).reshape(4096, 4096, 3)
    ab = cv2.cvtColor(rgb, cv2.COLOR_RGB2Lab)[..., 1:].reshape(-1, 2)
    half = int(np.ceil(AB_SCALE / grid))
    side = 2 * half + 1
    cell = np.rint(ab / grid).astype(np.int64) + half
    hit = np.bincount(cell[:, 0] * side + cell[:, 1], minlength=side * side) > 0
    a, b = np.divmod(np.flatnonzero(hit), side)
    return torch.from_numpy(np.stack([a - half, b - half], 1) * grid).float()


def in_gamut_bins(grid: float = GRID) -> torch.Tensor:
    """Centers [Q, 2] (a*b* units) of the ``grid``-sided a*b* cells that hold the nearest
    center of some 8-bit sRGB color: every color a photo can hold has its nearest bin here.

    With ``grid=10`` this gives 262 bins (Zhang et al.'s 313 come from a looser gamut estimate).
    Built on the CPU, also when a network is built on the meta device.
    """
    return _bins(float(grid)).clone()


def annealed_mean(logits: torch.Tensor, centers: torch.Tensor, temperature: float) -> torch.Tensor:
    """Logits [B, Q, H, W] -> a*b* [B, 2, H, W] (same units as ``centers`` [Q, 2]).

    ``softmax(log p / T)`` equals ``softmax(logits / T)``, so no log of a softmax is needed.
    """
    weights = torch.softmax(logits.float() / temperature, dim=1)
    return torch.einsum("bqhw,qc->bchw", weights, centers.to(weights.dtype))


def _without_final_tanh(net: nn.Module) -> nn.Module:
    """``net`` with its last ``nn.Tanh`` (a generator's output squashing) made an identity."""
    names = [name for name, m in net.named_modules() if isinstance(m, nn.Tanh)]
    if names:
        parent_name, _, child = names[-1].rpartition(".")
        setattr(net.get_submodule(parent_name) if parent_name else net, child, nn.Identity())
    return net


class ChromaClassifier(nn.Module):
    """A trunk (by default the U-Net) giving ``features`` channels, a 1x1 conv to the bin
    logits, and the annealed-mean decoding to a*b*/110.

    The head works at full resolution on few channels (``features``), so its cost is small
    beside the trunk's: a 262-channel last layer of the U-Net itself would cost several times
    the whole network. The trunk's final tanh is dropped: bounded features would bound the
    logits, and the distribution would stay nearly flat (a gray-brown mean) for thousands of
    steps. The head keeps PyTorch's default initialization (:meth:`reset_head`), not the
    pix2pix N(0, 0.02), for the same reason.
    """

    def __init__(
        self,
        input_nc: int = 1,
        output_nc: int = 2,
        trunk: Mapping[str, Any] | None = None,
        features: int = 32,
        temperature: float = 0.38,
    ) -> None:
        super().__init__()
        if output_nc != 2:
            raise ValueError("a chroma classifier predicts LAB a*b* (color_space=lab)")
        if not 0 < temperature <= 1:
            raise ValueError(f"temperature must be in (0, 1], got {temperature}")
        trunk = dict(trunk or {"_target_": DEFAULT_GENERATOR})
        self.trunk = _without_final_tanh(build_net(trunk, input_nc=input_nc, output_nc=features))
        self.register_buffer("centers", in_gamut_bins())
        self.head = nn.Conv2d(features, self.centers.shape[0], kernel_size=1)
        self.temperature = temperature

    def reset_head(self) -> None:
        """PyTorch's default initialization of the head (after a model-wide init)."""
        self.head.reset_parameters()

    @property
    def num_bins(self) -> int:
        return self.centers.shape[0]

    @property
    def size_multiple(self) -> int:
        """The trunk's: the sides it accepts are multiples of this (2^num_downs for a U-Net)."""
        return int(getattr(self.trunk, "size_multiple", 1))

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Bin logits [B, Q, H, W]."""
        return self.head(self.trunk(x))

    def decode(self, logits: torch.Tensor) -> torch.Tensor:
        """Logits -> a*b*/110 in [-1, 1]."""
        return annealed_mean(logits, self.centers, self.temperature).div(AB_SCALE).clamp(-1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.logits(x))
