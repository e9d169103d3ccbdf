"""CycleGAN (Zhu et al. 2017) for colorizing from *unpaired* photos, with manual optimization.

Domain A is gray (old scans: the network input of the color space, e.g. L/50-1), domain B is
color (any color photos, as the color space sees them: L and ab in LAB, RGB in RGB).
``generator`` (official G_A) colorizes A -> B: it is a colorizer like pix2pix's, so
``predict.py``, ``eval.py`` and the export take the checkpoint as is. ``generator_b`` (G_B)
turns color into gray; ``discriminator_b`` judges color images (official D_A) and
``discriminator_a`` gray ones (official D_B). Each batch takes one step of both generators
(GAN + cycle losses) and then one step of both discriminators on pooled fakes, as upstream.

The identity term of upstream (G_A(b) ~ b) needs equal channel counts on both sides; gray and
color never have them (1 vs 3 channels), so ``lambda_identity`` must stay 0 here.
"""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any

import torch
import torch.nn.functional as F

from revive.batch import ColorBatch
from revive.models.colorizer import (
    ColorizerModule,
    GANLosses,
    build_generator,
    gan_losses,
)
from revive.models.image_pool import ImagePool
from revive.models.losses import GANLoss
from revive.nets import init_weights
from revive.nets.build import build_net


class CycleGAN(ColorizerModule):
    """Two generators, two discriminators, cycle losses lambda_a and lambda_b, image pools.

    ``shared``: :class:`ColorizerModule`'s arguments (the networks' configs, the optimizers, the
    epochs, ``num_panels``)."""

    default_generator = "revive.nets.resnet.ResnetGenerator"

    def __init__(
        self,
        color_space: str = "lab",
        gan_mode: str = "lsgan",
        lambda_a: float = 10.0,
        lambda_b: float = 10.0,
        lambda_identity: float = 0.0,
        pool_size: int = 50,
        init_gain: float = 0.02,
        **shared: Any,
    ) -> None:
        if lambda_identity:
            raise ValueError(
                "model.lambda_identity must be 0: the identity loss G_A(b) ~ b needs the same "
                "channel count in both domains, and gray (1) -> color (3) has not"
            )
        super().__init__(color_space, **shared)
        gray, color = self.space.in_channels, self.color_channels
        g_cfg, d_cfg = self.hparams["generator"], self.hparams["discriminator"]
        self.generator_b = build_generator(g_cfg, input_nc=color, output_nc=gray)
        self.discriminator_b = build_net(d_cfg, input_nc=color)
        self.discriminator_a = build_net(d_cfg, input_nc=gray)
        for net in (self.generator, self.generator_b, self.discriminator_a, self.discriminator_b):
            init_weights(net, init_gain, skip=getattr(net, "encoder", None))
        self.pool_a, self.pool_b = ImagePool(pool_size), ImagePool(pool_size)
        self.gan = GANLoss(gan_mode)

    def make_generator(self) -> torch.nn.Module:
        """G_A, gray -> color (its weights are initialized with the other three networks')."""
        return build_generator(
            self.hparams["generator"],
            input_nc=self.space.in_channels,
            output_nc=self.space.out_channels,
        )

    def gan_parameters(self):
        return (
            itertools.chain(self.generator.parameters(), self.generator_b.parameters()),
            itertools.chain(self.discriminator_a.parameters(), self.discriminator_b.parameters()),
        )

    @property
    def color_channels(self) -> int:
        """Channels of a color image: L + ab in LAB, RGB in RGB."""
        return self.space.in_channels + self.space.out_channels if self.space.name == "lab" else 3

    def color(self, gray: torch.Tensor, output: torch.Tensor) -> torch.Tensor:
        """A color image from a gray input and a colorizer output (LAB keeps the input's L)."""
        return torch.cat([gray, output], 1) if self.space.name == "lab" else output

    def generator_losses(
        self, real_a: torch.Tensor, real_b: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """Both generators' GAN losses and both cycle losses, and the fakes for the D step."""
        fake_b = self.color(real_a, self.generator(real_a))
        fake_a = self.generator_b(real_b)
        rec_a = self.generator_b(fake_b)
        rec_b = self.color(fake_a, self.generator(fake_a))
        losses = {
            "g_a": self.gan.g(self.discriminator_b(fake_b)),
            "g_b": self.gan.g(self.discriminator_a(fake_a)),
            "cycle_a": self.hparams.lambda_a * F.l1_loss(rec_a, real_a),
            "cycle_b": self.hparams.lambda_b * F.l1_loss(rec_b, real_b),
        }
        losses["g"] = sum(losses.values())
        return losses | {"fake_a": fake_a, "fake_b": fake_b}

    def discriminator_loss(self, net, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        """Upstream's ``backward_D_basic``: half the sum of the real and the (pooled) fake loss."""
        return 0.5 * (self.gan.d_real(net(real)) + self.gan.d_fake(net(fake.detach())))

    def training_step(self, batch: ColorBatch, batch_idx: int) -> GANLosses:
        opt_g, opt_d = self.optimizers()
        real_a = self.split(batch.scan_photos())[0]
        photos = dataclasses.replace(batch, scans=None, degraded=None)  # B: the photos alone
        real_b = self.color(*self.split(photos))
        discriminators = (self.discriminator_a, self.discriminator_b)

        for net in discriminators:
            net.requires_grad_(False)
        losses = self.generator_losses(real_a, real_b)
        opt_g.zero_grad(set_to_none=True)
        self.manual_backward(losses["g"])
        opt_g.step()
        for net in discriminators:
            net.requires_grad_(True)

        d_a = self.discriminator_loss(
            self.discriminator_a, real_a, self.pool_a.query(losses["fake_a"])
        )
        d_b = self.discriminator_loss(
            self.discriminator_b, real_b, self.pool_b.query(losses["fake_b"])
        )
        opt_d.zero_grad(set_to_none=True)
        self.manual_backward(d_a + d_b)
        opt_d.step()

        names = ("g_a", "g_b", "cycle_a", "cycle_b")
        logs = {f"train/{k}": losses[k].detach() for k in names}
        self.log_dict(logs | {"train/d_a": d_a.detach(), "train/d_b": d_b.detach()})
        return gan_losses(losses["g"], d_a + d_b)
