"""Normalization layer factory shared by the U-Net and the PatchGAN."""

from __future__ import annotations

from torch import nn

NORMS = ("batch", "instance", "none")


def norm_layer(kind: str, channels: int) -> nn.Module:
    """Return the official pix2pix norm layer for ``kind`` (batch / instance / none)."""
    if kind == "batch":
        return nn.BatchNorm2d(channels, affine=True, track_running_stats=True)
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"unknown norm {kind!r}; expected one of {NORMS}")


def conv_bias(kind: str) -> bool:
    """Convs carry a bias only when no BatchNorm follows them (BN's shift makes it redundant)."""
    return kind != "batch"
