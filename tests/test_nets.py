"""The pix2pix networks match the official unet_256 and 70x70 PatchGAN."""

import pytest
import torch
from torch import nn

from revive.nets import PatchDiscriminator, UnetGenerator, init_weights


def n_params(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


@pytest.mark.parametrize(
    ("net", "expected"),
    [
        (lambda: UnetGenerator(1, 2), 54_409_858),
        (lambda: UnetGenerator(3, 3), 54_413_955),
        (lambda: PatchDiscriminator(3), 2_765_633),
        (lambda: PatchDiscriminator(6), 2_768_705),
    ],
)
def test_parameter_counts_equal_official(net, expected):
    assert n_params(net()) == expected


def test_unet_structure_follows_unet_256():
    g = UnetGenerator(1, 2)
    convs = [m for m in g.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 8  # eight downsamplings
    assert all(c.bias is None for c in convs)  # official: no down-conv bias with BatchNorm
    dropouts = [m for m in g.modules() if isinstance(m, nn.Dropout)]
    assert len(dropouts) == 3 and all(d.p == 0.5 for d in dropouts)
    assert isinstance(g.model.model[-1], nn.Tanh)
    outer_up = g.model.model[3]
    assert isinstance(outer_up, nn.ConvTranspose2d) and outer_up.bias is not None
    leaky = [m for m in g.modules() if isinstance(m, nn.LeakyReLU)]
    assert len(leaky) == 7 and all(m.negative_slope == 0.2 for m in leaky)


def test_unet_output_shape_and_range():
    g = UnetGenerator(1, 2).eval()
    with torch.no_grad():
        y = g(torch.randn(1, 1, 256, 256))
    assert y.shape == (1, 2, 256, 256)
    assert y.abs().max() <= 1.0


def test_patchgan_gives_30x30_logits():
    d = PatchDiscriminator(3).eval()
    out = d(torch.randn(2, 3, 256, 256))
    assert out.shape == (2, 1, 30, 30)
    assert not isinstance(d.model[-1], nn.Sigmoid)


@pytest.mark.parametrize("norm", ["batch", "instance", "none"])
def test_norm_is_configurable(norm):
    g = UnetGenerator(1, 3, num_downs=6, ngf=8, norm=norm)
    has_bn = any(isinstance(m, nn.BatchNorm2d) for m in g.modules())
    has_in = any(isinstance(m, nn.InstanceNorm2d) for m in g.modules())
    assert has_bn == (norm == "batch") and has_in == (norm == "instance")
    assert g(torch.randn(1, 1, 64, 64)).shape == (1, 3, 64, 64)


def test_init_is_normal_002():
    torch.manual_seed(0)
    g = init_weights(UnetGenerator(1, 2))
    conv_w = torch.cat([m.weight.flatten() for m in g.modules() if isinstance(m, nn.Conv2d)])
    bn_w = torch.cat([m.weight.flatten() for m in g.modules() if isinstance(m, nn.BatchNorm2d)])
    assert conv_w.mean().abs() < 1e-3 and abs(conv_w.std().item() - 0.02) < 1e-3
    assert abs(bn_w.mean().item() - 1.0) < 5e-3 and abs(bn_w.std().item() - 0.02) < 5e-3
