"""The pix2pix U-Net generator, module for module the official ``unet_256``.

The nesting (``model.model.1.model.…``) mirrors junyanz/pytorch-CycleGAN-and-pix2pix so that
official ``*_net_G.pth`` state dicts load strictly.
"""

from __future__ import annotations

import torch
from torch import nn

from revive.nets.norm import conv_bias, norm_layer


class UnetSkipBlock(nn.Module):
    """One U-Net level: down-conv, the inner submodule, up-conv, and the skip concatenation."""

    def __init__(
        self,
        outer_nc: int,
        inner_nc: int,
        input_nc: int | None = None,
        submodule: nn.Module | None = None,
        outermost: bool = False,
        innermost: bool = False,
        norm: str = "batch",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.outermost = outermost
        bias = conv_bias(norm)
        input_nc = outer_nc if input_nc is None else input_nc
        downconv = nn.Conv2d(input_nc, inner_nc, 4, stride=2, padding=1, bias=bias)
        downrelu = nn.LeakyReLU(0.2, True)
        uprelu = nn.ReLU(True)
        if outermost:
            upconv = nn.ConvTranspose2d(inner_nc * 2, outer_nc, 4, stride=2, padding=1)
            layers = [downconv, submodule, uprelu, upconv, nn.Tanh()]
        elif innermost:
            upconv = nn.ConvTranspose2d(inner_nc, outer_nc, 4, stride=2, padding=1, bias=bias)
            layers = [downrelu, downconv, uprelu, upconv, norm_layer(norm, outer_nc)]
        else:
            upconv = nn.ConvTranspose2d(inner_nc * 2, outer_nc, 4, stride=2, padding=1, bias=bias)
            layers = [downrelu, downconv, norm_layer(norm, inner_nc), submodule]
            layers += [uprelu, upconv, norm_layer(norm, outer_nc)]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.outermost:
            return self.model(x)
        return torch.cat([x, self.model(x)], 1)


class UnetGenerator(nn.Module):
    """U-Net with ``num_downs`` halvings: 8 gives ``unet_256`` (inputs must be multiples of 256)."""

    def __init__(
        self,
        input_nc: int = 1,
        output_nc: int = 2,
        num_downs: int = 8,
        ngf: int = 64,
        norm: str = "batch",
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        if num_downs < 5:
            raise ValueError(f"num_downs must be >= 5 (got {num_downs})")
        self.input_nc, self.output_nc, self.num_downs = input_nc, output_nc, num_downs
        block = UnetSkipBlock(ngf * 8, ngf * 8, norm=norm, innermost=True)
        for _ in range(num_downs - 5):  # the 3 inner 512-wide levels of unet_256 carry dropout
            block = UnetSkipBlock(ngf * 8, ngf * 8, submodule=block, norm=norm, dropout=dropout)
        block = UnetSkipBlock(ngf * 4, ngf * 8, submodule=block, norm=norm)
        block = UnetSkipBlock(ngf * 2, ngf * 4, submodule=block, norm=norm)
        block = UnetSkipBlock(ngf, ngf * 2, submodule=block, norm=norm)
        self.model = UnetSkipBlock(
            output_nc, ngf, input_nc=input_nc, submodule=block, outermost=True, norm=norm
        )

    @property
    def size_multiple(self) -> int:
        """Height and width must be multiples of this for the skips to line up."""
        return 2**self.num_downs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)
