"""How far a network's output pixel sees: what tiling needs as overlap, and what an ONNX export
records, so it lives with the networks rather than with either user."""

from __future__ import annotations

from torch import nn


def receptive_radius(net: nn.Module) -> int:
    """How far (in input pixels) an output pixel of a plain conv stack can see, per side.

    The sum of ``dilation * (kernel - 1) / 2`` over its convolutions; 17 for DnCNN of depth 17
    (a 35x35 receptive field). Strided or pooled networks are not supported.
    """
    radius = 0
    for module in net.modules():
        if isinstance(module, nn.Conv2d):
            if max(module.stride) != 1:
                raise ValueError(f"{type(net).__name__} has a strided convolution; cannot tile it")
            k, d = max(module.kernel_size), max(module.dilation)
            radius += d * (k - 1) // 2
        elif isinstance(module, (nn.MaxPool2d, nn.AvgPool2d, nn.Upsample, nn.ConvTranspose2d)):
            raise ValueError(
                f"{type(net).__name__} resamples ({type(module).__name__}); cannot tile"
            )
    return radius
