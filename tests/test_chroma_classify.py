"""Colorization as classification: the bins, their encoding and decoding, the class weights."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
import torch

from revive.models.chroma_loss import (
    RebalancedChromaLoss,
    bin_histogram,
    rebalance_weights,
    soft_encode,
)
from revive.nets.chroma_classifier import ChromaClassifier, annealed_mean, in_gamut_bins
from revive.safe.load import build_checked


def test_bins_cover_every_srgb_color_and_nothing_else():
    centers = in_gamut_bins()
    assert centers.shape == (262, 2)
    assert torch.all(centers % 10 == 0)
    # random 8-bit colors: the nearest of all grid centers is always one of the bins
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (1, 20000, 3), dtype=np.uint8).astype(np.float32) / 255
    ab = torch.from_numpy(cv2.cvtColor(rgb, cv2.COLOR_RGB2Lab)[0, :, 1:])
    nearest_grid = torch.round(ab / 10) * 10
    assert torch.cdist(nearest_grid, centers).min(1).values.max() == 0
    # a cell far outside sRGB (a*=-110, b*=+110) is not a bin
    assert torch.cdist(torch.tensor([[-110.0, 110.0]]), centers).min() > 0


def test_encoding_then_decoding_gives_the_color_back():
    centers = in_gamut_bins()
    ab = torch.tensor([[0.0, 0.0], [20.0, 30.0], [-17.0, 42.0], [33.3, -21.7]])
    soft, nearest = soft_encode(ab, centers, neighbours=5, sigma=5.0)
    assert torch.allclose(soft.sum(1), torch.ones(4))
    assert (soft > 0).sum(1).tolist() == [5, 5, 5, 5]
    assert torch.equal(centers[nearest], torch.round(ab / 10) * 10)
    # the mean of the soft target (annealed mean at T=1 of its log) lies near the color
    logits = soft.clamp(min=1e-12).log()[:, :, None, None]
    decoded = annealed_mean(logits, centers, 1.0)[:, :, 0, 0]
    assert (decoded - ab).norm(dim=1).max() < 4.0
    # a sharp distribution decodes to its bin's center at any temperature
    one_hot = torch.full((4, centers.shape[0], 1, 1), -30.0)
    one_hot[torch.arange(4), nearest] = 30.0
    for t in (1.0, 0.38, 0.1):
        assert torch.allclose(annealed_mean(one_hot, centers, t)[:, :, 0, 0], centers[nearest])


def test_lower_temperature_moves_towards_the_mode():
    centers = torch.tensor([[0.0, 0.0], [40.0, 0.0]])
    logits = torch.tensor([0.0, math.log(3.0)]).view(1, 2, 1, 1)  # p = 0.25, 0.75
    mean = annealed_mean(logits, centers, 1.0)[0, 0, 0, 0]
    sharp = annealed_mean(logits, centers, 0.38)[0, 0, 0, 0]
    assert float(mean) == pytest.approx(30.0)
    p = np.array([0.25, 0.75]) ** (1 / 0.38)
    assert float(sharp) == pytest.approx(40 * p[1] / p.sum(), rel=1e-5)


def test_class_weights_match_a_hand_computation():
    centers = torch.tensor([[0.0, 0.0], [10.0, 0.0], [50.0, 0.0]])
    counts = torch.tensor([6.0, 3.0, 1.0])
    sigma, mix = 5.0, 0.5
    # by hand: p = [.6, .3, .1]; smoothing kernel k(d) = exp(-d^2 / 50)
    k = {0: 1.0, 10: math.exp(-100 / 50), 40: math.exp(-1600 / 50), 50: math.exp(-2500 / 50)}
    p = [0.6, 0.3, 0.1]
    smooth = [
        p[0] * k[0] + p[1] * k[10] + p[2] * k[50],
        p[0] * k[10] + p[1] * k[0] + p[2] * k[40],
        p[0] * k[50] + p[1] * k[40] + p[2] * k[0],
    ]
    smooth = [s / sum(smooth) for s in smooth]
    raw = [1 / ((1 - mix) * s + mix / 3) for s in smooth]
    norm = sum(s * w for s, w in zip(smooth, raw, strict=True))
    expected = torch.tensor([w / norm for w in raw])
    got = rebalance_weights(counts, centers, mix=mix, sigma=sigma)
    assert torch.allclose(got, expected.float(), rtol=1e-6)
    # rare colors weigh more, and the expected weight under the smoothed prior is 1
    assert got[2] > got[1] > got[0]


def test_histogram_counts_nearest_bins():
    centers = torch.tensor([[0.0, 0.0], [10.0, 0.0], [50.0, 0.0]])
    ab = torch.tensor([[1.0, 1.0], [9.0, 0.0], [6.0, 0.0], [40.0, 3.0], [-3.0, 0.0]])
    assert bin_histogram(ab, centers).tolist() == [2.0, 2.0, 1.0]


def test_loss_weights_rare_colors_and_prefers_the_right_bin():
    centers = in_gamut_bins()
    loss = RebalancedChromaLoss(centers)
    target = torch.zeros(1, 2, 4, 4)  # gray everywhere
    target_bin = int(torch.cdist(torch.zeros(1, 2), centers).argmin())
    right = torch.full((1, centers.shape[0], 4, 4), -5.0)
    right[:, target_bin] = 5.0
    wrong = torch.roll(right, 17, dims=1)
    assert loss(right, target) < loss(wrong, target)
    before = loss(right, target)
    counts = torch.ones(centers.shape[0])
    counts[target_bin] = 1000.0  # gray is common: its pixels now weigh less
    loss.set_counts(counts)
    assert loss(right, target) < before
    assert loss.has_counts


def test_classifier_outputs_lab_chroma_and_rebuilds_from_its_state():
    cfg = {
        "_target_": "revive.nets.chroma_classifier.ChromaClassifier",
        "trunk": {"_target_": "revive.nets.unet.UnetGenerator", "num_downs": 5, "ngf": 8},
        "features": 8,
        "temperature": 0.38,
        "input_nc": 1,
        "output_nc": 2,
    }
    from revive.nets.build import build_net

    net = build_net(cfg).eval()
    x = torch.rand(2, 1, 32, 32) * 2 - 1
    out = net(x)
    assert out.shape == (2, 2, 32, 32) and out.abs().max() <= 1
    assert net.logits(x).shape == (2, 262, 32, 32)
    assert net.size_multiple == 32  # the U-Net trunk's: predict.py and compare size canvases by it
    # the trunk's output squashing is gone: bounded features would bound the logits
    assert not any(isinstance(m, torch.nn.Tanh) for m in net.modules())
    again = build_checked(lambda: build_net(cfg), net.state_dict(), "test")
    assert torch.equal(again.eval()(x), out)
    with pytest.raises(ValueError, match="a\\*b\\*"):
        ChromaClassifier(output_nc=3)
