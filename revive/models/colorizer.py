"""What every colorizer LightningModule shares: the color space, the network input and target of
a batch, the validation and test scores, the panels, the stop on a non-finite loss, and the
G and D optimizers with their linear decay, stepped once per epoch.

A subclass says what it must (:class:`ColorizerModule`'s abstract methods); one that leaves
one out cannot be built (``TypeError`` naming it), rather than failing at its first step.
"""

from __future__ import annotations

import copy
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar, TypedDict

import lightning as L
import torch
from torch.optim.lr_scheduler import LambdaLR
from torchmetrics.image import PeakSignalNoiseRatio

from revive.batch import ColorBatch
from revive.color import ColorSpace, get_color_space
from revive.evaluation.metrics import ColorfulnessGap, restoration_metrics
from revive.models.defaults import configured
from revive.models.schedules import linear_decay
from revive.nets.build import (
    DEFAULT_DISCRIMINATOR,
    DEFAULT_GENERATOR,
    NetSpec,
    build_net,
    net_config,
)

log = logging.getLogger(__name__)

OptimizerFactory = Callable[..., torch.optim.Optimizer]


class GANLosses(TypedDict):
    """What a colorizer's ``training_step`` returns: G's and D's losses of the step, detached.
    Lightning hands them to ``on_train_batch_end`` (its ``outputs``), which checks them."""

    loss_g: torch.Tensor
    loss_d: torch.Tensor


def gan_losses(loss_g: torch.Tensor, loss_d: torch.Tensor) -> GANLosses:
    """A step's :class:`GANLosses`, detached from their graphs."""
    return GANLosses(loss_g=loss_g.detach(), loss_d=loss_d.detach())


def build_generator(cfg: Mapping[str, Any], **channels: int) -> torch.nn.Module:
    """``build_net``, saying in the log when a pretrained encoder starts from random weights
    (loaders rebuild with ``encoder_weights=None`` too, but fill in the stored weights)."""
    if "encoder_weights" in cfg and cfg["encoder_weights"] is None:
        log.info(
            "generator encoder %s has random weights (encoder_weights=null); nothing is "
            "downloaded: set model.generator.encoder_weights=PATH for ImageNet weights",
            cfg.get("encoder"),
        )
    return build_net(cfg, **channels)


class ColorizerModule(L.LightningModule, ABC):
    """Evaluation, panels and optimizers of a GAN colorizer whose generator is ``self.generator``.

    The constructor opening every colorizer shares is here: it saves the hyper-parameters (the
    subclasses' too), the networks' configs as plain dicts (``hparams.generator`` and
    ``hparams.discriminator``: the checkpoint alone rebuilds them), turns on manual
    optimization, keeps the optimizer factories, and sets ``self.generator`` from
    :meth:`make_generator`. A subclass provides:

    - :meth:`make_generator`: the colorizer network, which forward, validation, test, the
      weights average and the exports use;
    - :meth:`gan_parameters`: what ``optimizer_g`` and ``optimizer_d`` train;
    - ``training_step``: one manual step, returning its :class:`GANLosses`.

    ``optimizer_g`` and ``optimizer_d`` map parameters to an optimizer (Hydra's ``_partial_``);
    left out, both are ``conf/model/optimizer/<optimizer_config>.yaml``, what ``train.py``
    gives the model, so that a module built in Python trains as the command would.
    """

    #: The network ``hparams.generator`` names when the config gives no ``_target_``.
    default_generator: ClassVar[str] = DEFAULT_GENERATOR
    #: The default optimizers of G and D: ``conf/model/optimizer/<this>.yaml``.
    optimizer_config: ClassVar[str] = "official_adam"

    generator: torch.nn.Module

    def __init__(
        self,
        color_space: str = "lab",
        generator: NetSpec = None,
        discriminator: NetSpec = None,
        optimizer_g: OptimizerFactory | None = None,
        optimizer_d: OptimizerFactory | None = None,
        n_epochs: int = 100,
        n_epochs_decay: int = 100,
        num_panels: int = 4,
    ) -> None:
        super().__init__()
        self.space: ColorSpace = get_color_space(color_space)
        self.num_panels = num_panels
        self.memory_format = torch.contiguous_format
        self.val_metrics = restoration_metrics("val/")
        self.val_color = ColorfulnessGap()
        # The floor: the same validation images left gray (L*, or the luma for RGB, no chroma).
        self.val_gray_psnr = PeakSignalNoiseRatio(data_range=1.0, dim=(1, 2, 3))
        self.test_metrics = restoration_metrics("test/")
        self.test_color = ColorfulnessGap()
        self.panel: dict[str, torch.Tensor] = {}
        self.generator_ema: torch.nn.Module | None = None
        self.ema_decay, self.ema_updates = 0.0, 0
        # Every constructor argument of the class and its subclasses, but the objects.
        self.save_hyperparameters(
            ignore=["optimizer_g", "optimizer_d", "generator", "discriminator"]
        )
        self.hparams["generator"] = net_config(generator, self.default_generator)
        self.hparams["discriminator"] = net_config(discriminator, DEFAULT_DISCRIMINATOR)
        self.automatic_optimization = False
        self.optimizer_g, self.optimizer_d = optimizer_g, optimizer_d
        self.generator = self.make_generator()

    # -- what a subclass provides -------------------------------------------------------------
    @abstractmethod
    def make_generator(self) -> torch.nn.Module:
        """The colorizer (network input in [-1, 1] -> color output in [-1, 1]: ab/110 or RGB),
        built from ``self.hparams`` (``hparams.generator`` is its config). The constructor
        keeps it as ``self.generator``."""

    @abstractmethod
    def gan_parameters(
        self,
    ) -> tuple[Iterable[torch.nn.Parameter], Iterable[torch.nn.Parameter]]:
        """(G's parameters, D's parameters): what ``optimizer_g`` and ``optimizer_d`` train."""

    @abstractmethod
    def training_step(self, batch: Any, batch_idx: int) -> GANLosses:
        """One manual-optimization step of G and D; its losses (:func:`gan_losses`) let
        ``on_train_batch_end`` stop a run whose loss is no longer finite."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Network input in [-1,1] -> colour output in [-1,1] (ab/110 or RGB)."""
        return self.generator(x)

    # -- the exponential moving average of the generator's weights ------------------------------
    def enable_ema(self, decay: float) -> None:
        """Keep ``generator_ema``, an average of the generator's weights over the last
        ~1/(1-decay) steps (0: off). Validation, test, panels and exports use it: the average
        of a noisy late trajectory scores better than its last point, with no extra steps."""
        if not 0 <= decay < 1:
            raise ValueError(f"model.ema_decay must be in [0, 1), got {decay}")
        self.ema_decay = decay
        self.ema_updates = 0
        self.generator_ema = (
            copy.deepcopy(self.generator).requires_grad_(False).eval() if decay else None
        )

    @property
    def scoring_generator(self) -> torch.nn.Module:
        """The generator that validation, test and exports use: the average when kept."""
        return self.generator_ema if self.generator_ema is not None else self.generator

    @torch.no_grad()
    def update_ema(self) -> None:
        """One averaging step, after each generator update. Early on the average uses
        ``min(decay, (1 + n) / (10 + n))`` so that it is not dominated by the random start."""
        if self.generator_ema is None:
            return
        self.ema_updates += 1
        decay = min(self.ema_decay, (1 + self.ema_updates) / (10 + self.ema_updates))
        ema = list(self.generator_ema.parameters())
        torch._foreach_lerp_(ema, [p.detach() for p in self.generator.parameters()], 1 - decay)
        for mine, theirs in zip(
            self.generator_ema.buffers(), self.generator.buffers(), strict=True
        ):
            mine.copy_(theirs)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["ema_updates"] = getattr(self, "ema_updates", 0)

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.ema_updates = int(checkpoint.get("ema_updates", 0))

    def configure_optimizers(self):
        """G's and D's optimizers, each with the official linear decay (constant for
        ``n_epochs``, then to zero over ``n_epochs_decay``)."""
        g_params, d_params = self.gan_parameters()
        default = f"model/optimizer/{self.optimizer_config}"
        make_g = self.optimizer_g or configured(default)
        make_d = self.optimizer_d or configured(default)
        opt_g, opt_d = make_g(g_params), make_d(d_params)
        decay = linear_decay(self.hparams.n_epochs, self.hparams.n_epochs_decay)
        return [opt_g, opt_d], [LambdaLR(opt_g, decay), LambdaLR(opt_d, decay)]

    def on_train_epoch_end(self) -> None:
        # Manual optimization: Lightning leaves the schedulers to the module.
        for scheduler in self.lr_schedulers():
            scheduler.step()

    def split(self, batch: ColorBatch) -> tuple[torch.Tensor, torch.Tensor]:
        """(input, target) of a batch in the networks' memory format.

        The color conversion runs in fp32 even under autocast: in bf16 it would round the
        inputs and targets themselves (L and ab to ~3 significant digits).
        """
        with torch.autocast(device_type=batch.photo.device.type, enabled=False):
            x, y = self.space.split(batch)
        return x.contiguous(memory_format=self.memory_format), y.contiguous(
            memory_format=self.memory_format
        )

    def on_train_batch_end(self, outputs: GANLosses, batch, batch_idx: int) -> None:
        # A finiteness check forces a host sync, so it runs only at the logging cadence.
        if batch_idx % max(1, self.trainer.log_every_n_steps) == 0:
            loss_g, loss_d = outputs["loss_g"], outputs["loss_d"]
            if not (torch.isfinite(loss_g) and torch.isfinite(loss_d)):
                raise FloatingPointError(
                    f"{type(self).__name__} loss is not finite at epoch {self.current_epoch}, step "
                    f"{self.global_step} (G={loss_g.item()}, D={loss_d.item()}). Lower the learning "
                    "rates, check the data, or train in fp32 (trainer.precision=32)."
                )

    # -- evaluation -----------------------------------------------------------------------------
    def _evaluate(self, batch: ColorBatch, metrics, color, stage: str) -> None:
        x, y = self.split(batch)
        fake = self.scoring_generator(x)
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
        need = self.num_panels - have
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
