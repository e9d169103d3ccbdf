"""GAN losses on inputs whose values are known in closed form."""

import math

import pytest
import torch

from revive.models.losses import GANLoss, gradient_penalty

ZEROS = torch.zeros(1, 1, 2, 2)
TWOS = torch.full((1, 1, 2, 2), 2.0)


def test_vanilla_is_bce_with_logits():
    loss = GANLoss("vanilla")
    assert loss.d_real(ZEROS).item() == pytest.approx(math.log(2))
    assert loss.d_fake(TWOS).item() == pytest.approx(math.log(1 + math.exp(2)))
    assert loss.g(TWOS).item() == pytest.approx(math.log(1 + math.exp(-2)))


def test_lsgan_is_mse():
    loss = GANLoss("lsgan")
    assert loss.d_real(TWOS).item() == pytest.approx(1.0)
    assert loss.d_fake(TWOS).item() == pytest.approx(4.0)
    assert loss.g(ZEROS).item() == pytest.approx(1.0)


def test_hinge():
    loss = GANLoss("hinge")
    assert loss.d_real(TWOS).item() == 0.0
    assert loss.d_real(ZEROS).item() == pytest.approx(1.0)
    assert loss.d_fake(TWOS).item() == pytest.approx(3.0)
    assert loss.g(TWOS).item() == pytest.approx(-2.0)


def test_wgangp_penalty_of_a_linear_critic():
    torch.manual_seed(0)
    w = torch.full((1, 3, 2, 2), 0.5)  # ||grad|| = sqrt(12 * 0.25) = sqrt(3)

    def critic(x):
        return (x * w).flatten(1).sum(1)

    gp = gradient_penalty(critic, torch.randn(4, 3, 2, 2), torch.randn(4, 3, 2, 2))
    assert gp.item() == pytest.approx((math.sqrt(3) - 1) ** 2, rel=1e-5)
    loss = GANLoss("wgangp")
    assert loss.needs_gradient_penalty and loss.d_real(TWOS).item() == -2.0


def test_unknown_mode_is_refused():
    with pytest.raises(ValueError, match="wasserstein"):
        GANLoss("wasserstein")
