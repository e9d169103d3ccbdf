"""Pix2Pix with a Wasserstein critic and gradient penalty (Gulrajani et al. 2017, WGAN-GP).

What changes from :class:`~revive.models.pix2pix.Pix2Pix`: the critic takes ``n_critic`` steps
for each generator step, each on a fresh batch (a critic step per batch, a generator step every
``n_critic``-th batch); its loss is E[D(fake)] - E[D(real)] + lambda_gp * (||grad D(mix)|| - 1)^2
on random interpolates, without pix2pix's 0.5; and the critic has no BatchNorm, which would
couple the samples whose gradients the penalty treats one by one. The logs show the Wasserstein
estimate E[D(real)] - E[D(fake)] as ``train/wasserstein``.
"""

from __future__ import annotations

from typing import Any

import torch

from revive.batch import ColorBatch
from revive.models.colorizer import GANLosses, gan_losses
from revive.models.losses import GANLoss, gradient_penalty
from revive.models.pix2pix import Pix2Pix

CRITIC_NORMS = ("layer", "instance", "none", "spectral")


class Pix2PixWGANGP(Pix2Pix):
    """The critic/generator schedule and losses of WGAN-GP on pix2pix's networks."""

    optimizer_config = "wgangp_adam"  # the paper's Adam(1e-4, betas (0, 0.9))

    def __init__(
        self,
        *args: Any,
        n_critic: int = 5,
        lambda_gp: float = 10.0,
        gan_mode: str = "wgangp",
        **kwargs: Any,
    ):
        if gan_mode != "wgangp":
            raise ValueError(
                f"model=pix2pix_wgangp trains a Wasserstein critic; for gan_mode={gan_mode!r} "
                "use model=pix2pix"
            )
        super().__init__(*args, gan_mode=gan_mode, **kwargs)
        norm = self.hparams["discriminator"].get("norm", "batch")
        if norm not in CRITIC_NORMS:
            raise ValueError(
                f"a WGAN-GP critic cannot use norm={norm!r}: set model.discriminator.norm to one "
                f"of {CRITIC_NORMS} (the penalty needs each sample's gradient on its own)"
            )
        if n_critic < 1:
            raise ValueError(f"model.n_critic must be >= 1 (got {n_critic})")
        self.n_critic = n_critic
        self.gan = GANLoss("wgangp", gp_weight=lambda_gp)
        self.critic_steps = 0

    def critic_loss(self, x, y, fake) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(loss, Wasserstein estimate, gradient penalty) of one critic step."""
        real_pair, fake_pair = torch.cat([x, y], 1), torch.cat([x, fake.detach()], 1)
        wasserstein = self.discriminator(real_pair).mean() - self.discriminator(fake_pair).mean()
        penalty = gradient_penalty(self.discriminator, real_pair, fake_pair)
        return -wasserstein + self.gan.gp_weight * penalty, wasserstein, penalty

    def training_step(self, batch: ColorBatch, batch_idx: int) -> GANLosses:
        opt_g, opt_d = self.optimizers()
        x, y = self.split(batch)
        generator_turn = (self.critic_steps + 1) % self.n_critic == 0
        with torch.set_grad_enabled(generator_turn):  # critic-only steps need no G graph
            fake = self.generator(x)

        loss_d, wasserstein, penalty = self.critic_loss(x, y, fake)
        opt_d.zero_grad(set_to_none=True)
        self.manual_backward(loss_d)
        opt_d.step()
        self.critic_steps += 1
        logs = {"train/wasserstein": wasserstein.detach(), "train/gp": penalty.detach()}
        loss_g = loss_d.new_zeros(())

        if generator_turn:
            loss_g, generator_logs = self.generator_step(opt_g, x, y, fake)
            logs |= generator_logs
        self.log_dict(logs)
        return gan_losses(loss_g, loss_d)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        # a resumed run keeps its place in the n_critic cycle
        super().on_save_checkpoint(checkpoint)
        checkpoint["critic_steps"] = self.critic_steps

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        super().on_load_checkpoint(checkpoint)
        self.critic_steps = int(checkpoint.get("critic_steps", 0))
