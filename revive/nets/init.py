"""Weight initialization of the official pix2pix ("normal", gain 0.02)."""

from __future__ import annotations

from torch import nn


def init_weights(net: nn.Module, gain: float = 0.02, skip: nn.Module | None = None) -> nn.Module:
    """Conv weights ~ N(0, gain), BatchNorm weights ~ N(1, gain), all biases 0.

    The modules of ``skip`` (a pretrained encoder) keep the weights they have.
    """
    keep = set(skip.modules()) if skip is not None else set()
    for m in net.modules():
        if m in keep:
            continue
        if isinstance(m, nn.Conv2d | nn.ConvTranspose2d | nn.Linear):
            nn.init.normal_(m.weight, 0.0, gain)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, gain)
            nn.init.zeros_(m.bias)
    return net
