"""DnCNN network: the paper's layer layout, residual output, He init, and exact BN folding."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from revive.nets.dncnn import DnCNN
from tests.conftest import assert_fp32_close


def layer_types(net: DnCNN) -> list[type]:
    return [type(m) for m in net.model]


@pytest.mark.parametrize(("depth", "channels"), [(17, 1), (20, 3)])
def test_layout_follows_the_paper(depth: int, channels: int) -> None:
    net = DnCNN(channels=channels, depth=depth)
    convs = [m for m in net.model if isinstance(m, nn.Conv2d)]
    assert len(convs) == depth
    assert sum(isinstance(m, nn.BatchNorm2d) for m in net.model) == depth - 2
    assert layer_types(net)[:5] == [nn.Conv2d, nn.ReLU, nn.Conv2d, nn.BatchNorm2d, nn.ReLU]
    assert (convs[0].in_channels, convs[-1].out_channels) == (channels, channels)
    assert all(c.kernel_size == (3, 3) and c.padding == (1, 1) for c in convs)
    # A bias only where no BN follows and the output is not the zero-mean noise (cszn's layout).
    assert [c.bias is not None for c in convs] == [True] + [False] * (depth - 1)


def test_any_size_and_residual_output() -> None:
    net = DnCNN(channels=3, depth=5, features=16).eval()
    y = torch.rand(2, 3, 37, 23)
    with torch.no_grad():
        out = net(y)
        assert out.shape == y.shape
        torch.testing.assert_close(out, y - net.residual(y))


def test_the_papers_initialization() -> None:
    """He normal convs (std sqrt(2 / (9 * 64))), small random BN scales (|gamma| >= 0.025)."""
    torch.manual_seed(0)
    net = DnCNN(depth=6)
    he = (2 / (9 * 64)) ** 0.5
    middle = torch.cat([net.model[i].weight.flatten() for i in (2, 5, 8)])
    assert middle.std().item() == pytest.approx(he, rel=0.03)
    assert net.model[0].bias.abs().max().item() == 0
    gammas = torch.cat([m.weight for m in net.modules() if isinstance(m, nn.BatchNorm2d)])
    assert gammas.abs().min().item() >= 0.025
    assert (gammas > 0).any() and (gammas < 0).any()
    assert gammas.abs().max().item() < 0.5
    # Small scales keep the first residuals small: the output starts near the noisy input.
    y = torch.rand(2, 1, 40, 40)
    with torch.no_grad():
        assert net.residual(y).abs().mean().item() < 0.1


def test_depth_below_three_is_refused() -> None:
    with pytest.raises(ValueError, match="depth >= 3"):
        DnCNN(depth=2)


def calibrate_bn(net: DnCNN, channels: int, seed: int = 0) -> None:
    """Real running statistics (from noisy-image batches) and non-trivial gamma/beta, as after
    training; the BN layers then see inputs of the scale their statistics describe."""
    gen = torch.Generator().manual_seed(seed)
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.momentum = None  # cumulative average over the calibration batches
            m.weight.data.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
            m.bias.data.copy_(torch.randn(m.num_features, generator=gen) * 0.1)
    net.train()
    with torch.no_grad():
        for _ in range(4):
            net(torch.rand(4, channels, 40, 40, generator=gen))


@pytest.mark.parametrize("channels", [1, 3])
def test_fuse_bn_gives_identical_outputs(channels: int) -> None:
    torch.manual_seed(1)
    net = DnCNN(channels=channels, depth=8, features=32)
    calibrate_bn(net, channels)
    net.eval()
    y = torch.rand(2, channels, 45, 31)
    with torch.no_grad():
        before = net(y)
        fused = net.fuse_bn()
        after = net(y)
    assert before.abs().max().item() > 0.5  # a real signal, so the tolerance means something
    assert fused is net and not net.bn
    assert not any(isinstance(m, nn.BatchNorm2d) for m in net.modules())
    # folding only reorders fp32 arithmetic: s*(Wx + b - mu) + beta vs (sW)x + s(b - mu) + beta
    assert_fp32_close(after, before)
    # The fused net has the no-BN layout (KAIR's merged keys), so its weights load there.
    plain = DnCNN(channels=channels, depth=8, features=32, bn=False).eval()
    plain.load_state_dict(net.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(plain(y), after)


def test_fuse_bn_twice_is_a_no_op() -> None:
    net = DnCNN(depth=4, features=8).eval().fuse_bn()
    state = {k: v.clone() for k, v in net.state_dict().items()}
    net.fuse_bn()
    assert all(torch.equal(state[k], v) for k, v in net.state_dict().items())
