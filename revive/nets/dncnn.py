"""DnCNN (Zhang et al., "Beyond a Gaussian Denoiser", TIP 2017): residual learning of the noise.

The layers live in one ``nn.Sequential`` called ``model`` so that the state-dict keys are those of
KAIR's model zoo: with ``bn=False`` (or after :meth:`DnCNN.fuse_bn`) a KAIR ``dncnn_*.pth`` file
loads as it is, and with ``bn=True`` the indices are those of the cszn and SaoYan PyTorch code
(conv 0, ReLU 1, then conv/BN/ReLU triples, the last conv at ``3 * depth - 4``).
"""

from __future__ import annotations

import torch
from torch import nn

# The paper's MatConvNet models and cszn's PyTorch port use eps 1e-4 (PyTorch's default is 1e-5).
BN_EPS = 1e-4


def _biased_like(conv: nn.Conv2d) -> nn.Conv2d:
    """An uninitialised conv of ``conv``'s shape, device and dtype, with a bias."""
    return nn.Conv2d(
        conv.in_channels,
        conv.out_channels,
        conv.kernel_size,
        padding=conv.padding,
        bias=True,
        device=conv.weight.device,
        dtype=conv.weight.dtype,
    )


@torch.no_grad()
def fold_bn(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> nn.Conv2d:
    """One conv with bias equal to ``bn(conv(x))`` in eval mode (running statistics).

    BN(Wx + b) = s * (Wx + b - mean) + beta with s = gamma / sqrt(var + eps), so the folded conv
    has weights s * W and bias s * (b - mean) + beta.
    """
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    bias = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
    fused = _biased_like(conv)
    fused.weight.copy_(conv.weight * scale.view(-1, 1, 1, 1))
    fused.bias.copy_((bias - bn.running_mean) * scale + bn.bias)
    return fused


@torch.no_grad()
def with_bias(conv: nn.Conv2d) -> nn.Conv2d:
    """``conv`` itself when it has a bias, else an equal conv with a zero bias (KAIR layout)."""
    if conv.bias is not None:
        return conv
    out = _biased_like(conv)
    out.weight.copy_(conv.weight)
    out.bias.zero_()
    return out


class DnCNN(nn.Module):
    """conv+ReLU, (depth-2) x [conv, BN, ReLU], conv; the output is ``y - R(y)``.

    Depth 17 is DnCNN-S (one sigma); depth 20 is DnCNN-B, CDnCNN-B and DnCNN-3. All convs are
    3x3 with padding 1, so any HxW works. With BN the convs before a BN have no bias (BN's beta
    is one) and neither has the last conv (the noise has zero mean), as in cszn's PyTorch code;
    without BN every conv has a bias, as in KAIR's merged files.
    """

    def __init__(
        self, channels: int = 1, depth: int = 17, features: int = 64, bn: bool = True
    ) -> None:
        super().__init__()
        if depth < 3:
            raise ValueError(f"DnCNN needs depth >= 3 (first, middle and last conv), got {depth}")
        self.channels, self.depth, self.features, self.bn = channels, depth, features, bn
        layers: list[nn.Module] = [nn.Conv2d(channels, features, 3, padding=1), nn.ReLU(True)]
        for _ in range(depth - 2):
            layers.append(nn.Conv2d(features, features, 3, padding=1, bias=not bn))
            if bn:
                layers.append(nn.BatchNorm2d(features, eps=BN_EPS))
            layers.append(nn.ReLU(True))
        layers.append(nn.Conv2d(features, channels, 3, padding=1, bias=not bn))
        self.model = nn.Sequential(*layers)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """The paper's init (He et al. 2015, as in cszn's MatConvNet ``DnCNN_init.m``).

        Every conv draws N(0, 2 / (9 * features)), the He std of a 3x3 conv over ``features``
        channels; biases are 0. BN starts with small random scales, N(0, 2 / (9 * 64)) pushed
        away from 0 to at least 0.025 in magnitude, and zero shifts, so the first residuals are
        small and the output starts near the noisy input. (KAIR and cszn's PyTorch port use
        orthogonal convs and BN scales of 1 instead.)
        """
        std = (2.0 / (9 * self.features)) ** 0.5
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.normal_(m.weight, 0.0, std)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                with torch.no_grad():
                    gamma = torch.randn_like(m.weight) * (2.0 / (9 * 64)) ** 0.5
                    m.weight.copy_(
                        torch.where(gamma >= 0, gamma.clamp(min=0.025), gamma.clamp(max=-0.025))
                    )
                nn.init.zeros_(m.bias)

    def residual(self, y: torch.Tensor) -> torch.Tensor:
        """R(y): the noise the network sees in ``y`` (what the loss compares to ``y - x``)."""
        return self.model(y)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        """Noisy [B, C, H, W] in [0, 1] -> denoised (not clipped)."""
        return y - self.model(y)

    @torch.no_grad()
    def fuse_bn(self) -> DnCNN:
        """Fold every BatchNorm into its conv, in place, for inference; returns ``self``.

        The result has the ``bn=False`` layout (KAIR's merged keys) and computes what the BN
        network computes in eval mode, up to float rounding. Training it afterwards trains a
        network without BN.
        """
        if not self.bn:
            return self
        fused: list[nn.Module] = []
        layers = list(self.model)
        i = 0
        while i < len(layers):
            layer = layers[i]
            if isinstance(layer, nn.Conv2d):
                nxt = layers[i + 1] if i + 1 < len(layers) else None
                if isinstance(nxt, nn.BatchNorm2d):
                    layer, i = fold_bn(layer, nxt), i + 1
                fused.append(with_bias(layer))
            else:
                fused.append(layer)
            i += 1
        self.model = nn.Sequential(*fused)
        self.bn = False
        return self

    def extra_repr(self) -> str:
        return (
            f"channels={self.channels}, depth={self.depth}, features={self.features}, bn={self.bn}"
        )
