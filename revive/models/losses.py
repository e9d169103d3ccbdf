"""GAN objectives for the PatchGAN's logit map.

Every loss answers three questions: the discriminator's loss on real and on fake logits, and the
generator's loss on fake logits. WGAN-GP also needs a gradient penalty on interpolates, which the
model adds when ``needs_gradient_penalty`` is true.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

GAN_MODES = ("vanilla", "lsgan", "hinge", "wgangp")


class GANLoss:
    """Loss of one GAN mode. ``vanilla`` is BCE-with-logits, as in the official pix2pix."""

    def __init__(self, mode: str = "vanilla", gp_weight: float = 10.0) -> None:
        if mode not in GAN_MODES:
            raise ValueError(f"unknown gan_mode {mode!r}; expected one of {GAN_MODES}")
        self.mode = mode
        self.gp_weight = gp_weight

    @property
    def needs_gradient_penalty(self) -> bool:
        return self.mode == "wgangp"

    def d_real(self, logits: torch.Tensor) -> torch.Tensor:
        """Discriminator loss on logits of real pairs."""
        if self.mode == "vanilla":
            return F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))
        if self.mode == "lsgan":
            return F.mse_loss(logits, torch.ones_like(logits))
        if self.mode == "hinge":
            return F.relu(1.0 - logits).mean()
        return -logits.mean()

    def d_fake(self, logits: torch.Tensor) -> torch.Tensor:
        """Discriminator loss on logits of generated pairs."""
        if self.mode == "vanilla":
            return F.binary_cross_entropy_with_logits(logits, torch.zeros_like(logits))
        if self.mode == "lsgan":
            return F.mse_loss(logits, torch.zeros_like(logits))
        if self.mode == "hinge":
            return F.relu(1.0 + logits).mean()
        return logits.mean()

    def g(self, logits: torch.Tensor) -> torch.Tensor:
        """Generator loss on the discriminator's logits of its own output."""
        if self.mode in ("vanilla", "lsgan"):
            return self.d_real(logits)
        return -logits.mean()


def gradient_penalty(
    critic: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor, fake: torch.Tensor
) -> torch.Tensor:
    """WGAN-GP penalty (Gulrajani et al.): (||grad critic(interp)||_2 - 1)^2 on random mixes."""
    alpha = torch.rand(real.shape[0], 1, 1, 1, device=real.device, dtype=real.dtype)
    mixed = (alpha * real + (1 - alpha) * fake.detach()).requires_grad_(True)
    out = critic(mixed)
    (grad,) = torch.autograd.grad(out.sum(), mixed, create_graph=True)
    return ((grad.flatten(1).norm(2, dim=1) - 1) ** 2).mean()
