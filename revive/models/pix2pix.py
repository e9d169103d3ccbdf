"""Pix2Pix (Isola et al. 2017) as a LightningModule with manual optimization.

Each batch takes one discriminator step and then one generator step, exactly as the official
``pix2pix_model.optimize_parameters``: D sees the detached fake, then G is scored by the freshly
updated D, plus ``lambda_l1`` times the L1 distance to the target.

Speed options leave that arithmetic alone: ``channels_last`` stores weights and activations
NHWC (what cuDNN's tensor cores and oneDNN's bf16 kernels prefer), ``compile`` hands both
networks to ``torch.compile``. Mixed precision comes from the Trainer (``trainer.precision``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
from torch.optim.lr_scheduler import LambdaLR
from torchmetrics.image import PeakSignalNoiseRatio

from revive.color import ColorSpace, get_color_space
from revive.evaluation.metrics import ColorfulnessGap, restoration_metrics
from revive.losses import GANLoss, gradient_penalty
from revive.models.schedules import linear_decay
from revive.nets import PatchDiscriminator, UnetGenerator, init_weights

OptimizerFactory = Callable[..., torch.optim.Optimizer]


def _default_adam(params) -> torch.optim.Optimizer:
    return torch.optim.Adam(params, lr=2e-4, betas=(0.5, 0.999))


class Pix2Pix(L.LightningModule):
    """Conditional GAN colorizer: U-Net generator, PatchGAN discriminator, GAN + lambda * L1."""

    def __init__(
        self,
        color_space: str = "lab",
        generator: Mapping[str, Any] | None = None,
        discriminator: Mapping[str, Any] | None = None,
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
    ) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["optimizer_g", "optimizer_d"])
        self.automatic_optimization = False
        self.space: ColorSpace = get_color_space(color_space)
        self.generator = init_weights(
            UnetGenerator(self.space.in_channels, self.space.out_channels, **(generator or {})),
            init_gain,
        )
        d_in = self.space.in_channels + self.space.out_channels
        self.discriminator = init_weights(
            PatchDiscriminator(d_in, **(discriminator or {})), init_gain
        )
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        for net in (self.generator, self.discriminator):
            net.to(memory_format=self.memory_format)
            if compile:
                net.compile()  # in place: state-dict keys stay those of the official nets
        self.gan = GANLoss(gan_mode)
        self.lambda_l1 = lambda_l1
        self.optimizer_g = optimizer_g or _default_adam
        self.optimizer_d = optimizer_d or _default_adam
        self.val_metrics = restoration_metrics("val/")
        self.val_color = ColorfulnessGap()
        # The floor: the same validation images left gray (L*, or the luma for RGB, no chroma).
        self.val_gray_psnr = PeakSignalNoiseRatio(data_range=1.0, dim=(1, 2, 3))
        self.test_metrics = restoration_metrics("test/")
        self.test_color = ColorfulnessGap()
        self.panel: dict[str, torch.Tensor] = {}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Network input in [-1,1] -> colour output in [-1,1] (ab/110 or RGB)."""
        return self.generator(x)

    def split(self, batch: Mapping[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """(input, target) of a batch in the networks' memory format.

        The color conversion runs in fp32 even under autocast: in bf16 it would round the
        inputs and targets themselves (L and ab to ~3 significant digits).
        """
        device = next(iter(batch.values())).device
        with torch.autocast(device_type=device.type, enabled=False):
            x, y = self.space.split(batch)
        return x.contiguous(memory_format=self.memory_format), y.contiguous(
            memory_format=self.memory_format
        )

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

        # G's backward needs no D weight grads. Frozen weights also bypass autocast's cast
        # cache, which still holds bf16 copies of D from before opt_d.step().
        self.discriminator.requires_grad_(False)
        loss_g, loss_gan, loss_l1 = self.generator_loss(x, y, fake)
        opt_g.zero_grad(set_to_none=True)
        self.manual_backward(loss_g)
        opt_g.step()
        self.discriminator.requires_grad_(True)

        self.log_dict(
            {
                "train/g_gan": loss_gan.detach(),
                "train/g_l1": loss_l1.detach(),
                "train/d_real": loss_real.detach(),
                "train/d_fake": loss_fake.detach(),
            },
            prog_bar=False,
        )
        self.last_losses = (loss_g.detach(), loss_d.detach())

    def on_train_batch_end(self, outputs, batch, batch_idx: int) -> None:
        # A finiteness check forces a host sync, so it runs only at the logging cadence.
        if batch_idx % max(1, self.trainer.log_every_n_steps) == 0:
            loss_g, loss_d = self.last_losses
            if not (torch.isfinite(loss_g) and torch.isfinite(loss_d)):
                raise FloatingPointError(
                    f"Pix2Pix loss is not finite at epoch {self.current_epoch}, step "
                    f"{self.global_step} (G={loss_g.item()}, D={loss_d.item()}). Lower the learning "
                    "rates, check the data, or train in fp32 (trainer.precision=32)."
                )

    def on_train_epoch_end(self) -> None:
        for scheduler in self.lr_schedulers():
            scheduler.step()

    def configure_optimizers(self):
        opt_g = self.optimizer_g(self.generator.parameters())
        opt_d = self.optimizer_d(self.discriminator.parameters())
        decay = linear_decay(self.hparams.n_epochs, self.hparams.n_epochs_decay)
        return [opt_g, opt_d], [LambdaLR(opt_g, decay), LambdaLR(opt_d, decay)]

    # -- evaluation -----------------------------------------------------------------------------
    def _evaluate(self, batch, metrics, color, stage: str) -> None:
        x, y = self.split(batch)
        fake = self.generator(x)
        # Score in fp32 outside autocast: under bf16 the SSIM's Gaussian convolutions and the
        # LAB->RGB conversion lose precision (SSIM near 1 drops by several hundredths).
        with torch.autocast(device_type=x.device.type, enabled=False):
            pred_rgb, true_rgb = self.space.to_rgb(x, fake.float()), self.space.to_rgb(x, y)
            metrics.update(pred_rgb, true_rgb)
            color.update(pred_rgb, true_rgb)
            gray_rgb = self.space.gray_rgb(x).float() if stage == "val" else None
            if gray_rgb is not None:
                self.val_gray_psnr.update(gray_rgb, true_rgb)
        self.log_dict(metrics, on_epoch=True, batch_size=x.shape[0])
        if gray_rgb is not None:
            self.log("val/gray_psnr", self.val_gray_psnr, on_epoch=True, batch_size=x.shape[0])
            self._collect_panel(gray_rgb, pred_rgb, true_rgb)

    def _collect_panel(self, gray_rgb, pred_rgb, true_rgb) -> None:
        """Keep the first ``num_panels`` validation images (gray | prediction | truth)."""
        have = self.panel.get("pred", pred_rgb[:0]).shape[0]
        need = self.hparams.num_panels - have
        if need <= 0:
            return
        rows = {"gray": gray_rgb, "pred": pred_rgb, "truth": true_rgb}
        for key, value in rows.items():
            value = value[:need].detach().float().cpu()
            self.panel[key] = torch.cat([self.panel[key], value]) if key in self.panel else value

    def on_validation_epoch_start(self) -> None:
        self.panel = {}

    def validation_step(self, batch, batch_idx: int) -> None:
        self._evaluate(batch, self.val_metrics, self.val_color, "val")

    def on_validation_epoch_end(self) -> None:
        self._log_color(self.val_color, "val/")

    def test_step(self, batch, batch_idx: int) -> None:
        self._evaluate(batch, self.test_metrics, self.test_color, "test")

    def on_test_epoch_end(self) -> None:
        self._log_color(self.test_color, "test/")

    def _log_color(self, metric: ColorfulnessGap, prefix: str) -> None:
        values = metric.compute()
        self.log_dict({prefix + k: v for k, v in values.items()}, sync_dist=False)
        metric.reset()
