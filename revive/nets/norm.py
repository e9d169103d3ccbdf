"""Normalization layers shared by the generators and the discriminators."""

from __future__ import annotations

from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

NORMS = ("batch", "instance", "layer", "none", "spectral")


def norm_layer(kind: str, channels: int) -> nn.Module:
    """The layer after a conv: official pix2pix batch / instance / none; ``layer`` normalizes
    each sample over (C, H, W), the WGAN-GP critic's choice; ``spectral`` acts on the conv's
    weight instead (:func:`with_norm`), so no layer follows."""
    if kind == "batch":
        return nn.BatchNorm2d(channels, affine=True, track_running_stats=True)
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)
    if kind == "layer":
        return nn.GroupNorm(1, channels)
    if kind in ("none", "spectral"):
        return nn.Identity()
    raise ValueError(f"unknown norm {kind!r}; expected one of {NORMS}")


def with_norm(kind: str, conv: nn.Module) -> nn.Module:
    """``conv`` with spectral normalization of its weight when ``kind`` is ``spectral``."""
    return spectral_norm(conv) if kind == "spectral" else conv


def conv_bias(kind: str) -> bool:
    """Convs carry a bias only when no BatchNorm follows them (BN's shift makes it redundant)."""
    return kind != "batch"
