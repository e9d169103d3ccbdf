"""The official pix2pix discriminators: the 70x70 PatchGAN (``NLayerDiscriminator``) and the
1x1 PixelGAN (``PixelDiscriminator``). Both return raw logits (no sigmoid): the GAN loss decides
how to squash them. ``norm=spectral`` wraps every conv in spectral normalization (SAGAN,
DeOldify) instead of following it with a norm layer."""

from __future__ import annotations

import torch
from torch import nn

from revive.nets.norm import conv_bias, norm_layer, with_norm


class PatchDiscriminator(nn.Module):
    """Classifies overlapping patches; with 3 layers each output sees a 70x70 receptive field."""

    def __init__(self, input_nc: int = 3, ndf: int = 64, n_layers: int = 3, norm: str = "batch"):
        super().__init__()
        bias = conv_bias(norm)
        layers: list[nn.Module] = [
            with_norm(norm, nn.Conv2d(input_nc, ndf, 4, stride=2, padding=1)),
            nn.LeakyReLU(0.2, True),
        ]
        mult = 1
        for n in range(1, n_layers + 1):
            prev, mult = mult, min(2**n, 8)
            stride = 2 if n < n_layers else 1
            conv = nn.Conv2d(ndf * prev, ndf * mult, 4, stride=stride, padding=1, bias=bias)
            layers += [with_norm(norm, conv), norm_layer(norm, ndf * mult), nn.LeakyReLU(0.2, True)]
        layers.append(with_norm(norm, nn.Conv2d(ndf * mult, 1, 4, stride=1, padding=1)))
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class PixelDiscriminator(nn.Module):
    """Judges each pixel alone (1x1 convs): it checks colors, not textures."""

    def __init__(self, input_nc: int = 3, ndf: int = 64, norm: str = "batch") -> None:
        super().__init__()
        bias = conv_bias(norm)
        self.net = nn.Sequential(
            with_norm(norm, nn.Conv2d(input_nc, ndf, 1)),
            nn.LeakyReLU(0.2, True),
            with_norm(norm, nn.Conv2d(ndf, ndf * 2, 1, bias=bias)),
            norm_layer(norm, ndf * 2),
            nn.LeakyReLU(0.2, True),
            with_norm(norm, nn.Conv2d(ndf * 2, 1, 1, bias=bias)),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
