"""The official ResNet generator (Johnson et al.), as CycleGAN uses it: ``resnet_9blocks``.

Module order and nesting (``model.10.conv_block.1.weight`` …) follow
junyanz/pytorch-CycleGAN-and-pix2pix, so that official ``*_net_G.pth`` files load strictly.
"""

from __future__ import annotations

import torch
from torch import nn

from revive.nets.norm import conv_bias, norm_layer


class ResnetBlock(nn.Module):
    """Two reflection-padded 3x3 convs with a skip: the output is ``x + F(x)``."""

    def __init__(self, dim: int, norm: str, dropout: float, bias: bool) -> None:
        super().__init__()
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(1),
            nn.Conv2d(dim, dim, 3, bias=bias),
            norm_layer(norm, dim),
            nn.ReLU(True),
        ]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        layers += [nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, bias=bias), norm_layer(norm, dim)]
        self.conv_block = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv_block(x)


class ResnetGenerator(nn.Module):
    """7x7 stem, two stride-2 downsamplings, ``n_blocks`` residual blocks, two upsamplings.

    Fully convolutional: any size that is a multiple of 4 comes back at the same size.
    """

    size_multiple = 4

    def __init__(
        self,
        input_nc: int = 1,
        output_nc: int = 2,
        n_blocks: int = 9,
        ngf: int = 64,
        norm: str = "instance",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        bias = conv_bias(norm)
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(3),
            nn.Conv2d(input_nc, ngf, 7, bias=bias),
            norm_layer(norm, ngf),
            nn.ReLU(True),
        ]
        for mult in (1, 2):
            layers += [
                nn.Conv2d(ngf * mult, ngf * mult * 2, 3, stride=2, padding=1, bias=bias),
                norm_layer(norm, ngf * mult * 2),
                nn.ReLU(True),
            ]
        layers += [ResnetBlock(ngf * 4, norm, dropout, bias) for _ in range(n_blocks)]
        for mult in (4, 2):
            layers += [
                nn.ConvTranspose2d(
                    ngf * mult, ngf * mult // 2, 3, stride=2, padding=1, output_padding=1, bias=bias
                ),
                norm_layer(norm, ngf * mult // 2),
                nn.ReLU(True),
            ]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, output_nc, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)
