"""Pix2Pix (Isola et al. 2017) as a LightningModule with manual optimization.

Each batch takes one discriminator step and then one generator step, exactly as the official
``pix2pix_model.optimize_parameters``: D sees the detached fake, then G is scored by the freshly
updated D, plus ``lambda_l1`` times the L1 distance to the target.

Speed options leave that arithmetic alone: ``channels_last`` stores weights and activations
NHWC (what cuDNN's tensor cores and oneDNN's bf16 kernels prefer), ``compile`` hands both
networks to ``torch.compile``. Mixed precision comes from the Trainer (``trainer.precision``).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F

from revive.models.colorizer import (
    ColorizerModule,
    OptimizerFactory,
    build_generator,
    official_adam,
)
from revive.models.losses import GANLoss, gradient_penalty
from revive.nets import init_weights
from revive.nets.build import (
    DEFAULT_DISCRIMINATOR,
    DEFAULT_GENERATOR,
    NetSpec,
    build_net,
    net_config,
)


class Pix2Pix(ColorizerModule):
    """Conditional GAN colorizer: GAN + lambda * L1. The networks come from their configs
    (``model/generator``, ``model/discriminator``): by default the official U-Net and PatchGAN."""

    def __init__(
        self,
        color_space: str = "lab",
        generator: NetSpec = None,
        discriminator: NetSpec = None,
        gan_mode: str = "vanilla",
        lambda_l1: float = 100.0,
        optimizer_g: OptimizerFactory | None = None,
        optimizer_d: OptimizerFactory | None = None,
        n_epochs: int = 100,
        n_epochs_decay: int = 100,
        init_gain: float = 0.02,
        num_panels: int = 4,
        channels_last: bool = False,
        compile: bool = False,
        freeze_encoder_epochs: int = 0,
    ) -> None:
        super().__init__(color_space, num_panels)
        self.save_hyperparameters(
            ignore=["optimizer_g", "optimizer_d", "generator", "discriminator"]
        )
        # The networks' configs as plain dicts: the checkpoint alone rebuilds them.
        self.hparams["generator"] = net_config(generator, DEFAULT_GENERATOR)
        self.hparams["discriminator"] = net_config(discriminator, DEFAULT_DISCRIMINATOR)
        self.automatic_optimization = False
        self.generator = build_generator(
            self.hparams["generator"],
            input_nc=self.space.in_channels,
            output_nc=self.space.out_channels,
        )
        init_weights(self.generator, init_gain, skip=getattr(self.generator, "encoder", None))
        if freeze_encoder_epochs and not hasattr(self.generator, "encoder"):
            raise ValueError(
                "model.freeze_encoder_epochs needs a generator with a pretrained encoder "
                "(model/generator=pretrained_unet)"
            )
        d_in = self.space.in_channels + self.space.out_channels
        self.discriminator = init_weights(
            build_net(self.hparams["discriminator"], input_nc=d_in), init_gain
        )
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        for net in (self.generator, self.discriminator):
            net.to(memory_format=self.memory_format)
            if compile:
                net.compile()  # in place: state-dict keys stay those of the official nets
        self.gan = GANLoss(gan_mode)
        self.lambda_l1 = lambda_l1
        self.optimizer_g = optimizer_g or official_adam
        self.optimizer_d = optimizer_d or official_adam

    # -- training -------------------------------------------------------------------------------
    def discriminator_loss(self, x, y, fake) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        real_pair, fake_pair = torch.cat([x, y], 1), torch.cat([x, fake.detach()], 1)
        # fake before real, as upstream: BatchNorm's running statistics depend on the order
        loss_fake = self.gan.d_fake(self.discriminator(fake_pair))
        loss_real = self.gan.d_real(self.discriminator(real_pair))
        loss = 0.5 * (loss_real + loss_fake)
        if self.gan.needs_gradient_penalty:
            loss = loss + self.gan.gp_weight * gradient_penalty(
                self.discriminator, real_pair, fake_pair
            )
        return loss, loss_real, loss_fake

    def generator_loss(self, x, y, fake) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        loss_gan = self.gan.g(self.discriminator(torch.cat([x, fake], 1)))
        loss_l1 = F.l1_loss(fake, y)
        return loss_gan + self.lambda_l1 * loss_l1, loss_gan, loss_l1

    def training_step(self, batch: Mapping[str, torch.Tensor], batch_idx: int) -> None:
        opt_g, opt_d = self.optimizers()
        x, y = self.split(batch)
        fake = self.generator(x)

        self.discriminator.requires_grad_(True)
        loss_d, loss_real, loss_fake = self.discriminator_loss(x, y, fake)
        opt_d.zero_grad(set_to_none=True)
        self.manual_backward(loss_d)
        opt_d.step()

        loss_g, logs = self.generator_step(opt_g, x, y, fake)
        logs |= {"train/d_real": loss_real.detach(), "train/d_fake": loss_fake.detach()}
        self.log_dict(logs, prog_bar=False)
        self.last_losses = (loss_g.detach(), loss_d.detach())

    def generator_step(
        self, opt_g: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor, fake: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """One update of G against the current D: (its loss, its logged terms)."""
        # G's backward needs no D weight grads. Frozen weights also bypass autocast's cast
        # cache, which still holds bf16 copies of D from before opt_d.step().
        self.discriminator.requires_grad_(False)
        loss_g, loss_gan, loss_l1 = self.generator_loss(x, y, fake)
        opt_g.zero_grad(set_to_none=True)
        self.manual_backward(loss_g)
        opt_g.step()
        self.discriminator.requires_grad_(True)
        return loss_g, {"train/g_gan": loss_gan.detach(), "train/g_l1": loss_l1.detach()}

    def on_train_epoch_start(self) -> None:
        # DeOldify's recipe: the decoder learns on the frozen pretrained encoder first.
        if self.hparams.freeze_encoder_epochs:
            trainable = self.current_epoch >= self.hparams.freeze_encoder_epochs
            self.generator.encoder.requires_grad_(trainable)

    def configure_optimizers(self):
        return self.gan_optimizers(self.generator.parameters(), self.discriminator.parameters())
