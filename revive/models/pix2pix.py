"""Pix2Pix (Isola et al. 2017) as a LightningModule with manual optimization.

Each batch takes one discriminator step and then one generator step, exactly as the official
``pix2pix_model.optimize_parameters``: D sees the detached fake, then G is scored by the freshly
updated D, plus ``lambda_l1`` times the L1 distance to the target.

Speed options leave that arithmetic alone: ``channels_last`` stores weights and activations
NHWC (what cuDNN's tensor cores and oneDNN's bf16 kernels prefer), ``compile`` hands both
networks to ``torch.compile``. Mixed precision comes from the Trainer (``trainer.precision``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F

from revive.batch import ColorBatch, collate
from revive.color import get_color_space
from revive.models.chroma_loss import RebalancedChromaLoss, bin_histogram
from revive.models.colorizer import (
    ColorizerModule,
    GANLosses,
    build_generator,
    gan_losses,
)
from revive.models.losses import GANLoss, gradient_penalty
from revive.nets import init_weights
from revive.nets.build import build_net
from revive.nets.chroma_classifier import ChromaClassifier

log = logging.getLogger(__name__)

COLOR_LOSSES = ("l1", "classify")
CLASSIFIER = "revive.nets.chroma_classifier.ChromaClassifier"
# model.classify: the head's width, the decoding temperature, the uniform share of the class
# prior, the Gaussian (a*b* units) of the soft targets and of the prior's smoothing, and the
# seed of the photos the prior is counted on.
CLASSIFY_STRIDE = 2
CLASSIFY_DEFAULTS = {"features": 32, "temperature": 0.38, "mix": 0.5, "sigma": 5.0, "seed": 0}


class Pix2Pix(ColorizerModule):
    """Conditional GAN colorizer: GAN + lambda * L1. The networks come from their configs
    (``model/generator``, ``model/discriminator``): by default the official U-Net and PatchGAN.

    ``shared``: :class:`ColorizerModule`'s arguments (the networks' configs, the optimizers, the
    epochs, ``num_panels``)."""

    def __init__(
        self,
        color_space: str = "lab",
        gan_mode: str = "vanilla",
        lambda_l1: float = 100.0,
        init_gain: float = 0.02,
        channels_last: bool = False,
        compile: bool = False,
        freeze_encoder_epochs: int = 0,
        lambda_gan: float = 1.0,
        color_loss: str = "l1",
        lambda_classify: float = 1.0,
        classify: Mapping[str, Any] | None = None,
        ema_decay: float = 0.0,
        gan_start_epoch: int = 0,
        **shared: Any,
    ) -> None:
        if gan_mode == "wgangp" and type(self) is Pix2Pix:
            raise ValueError(
                "model.gan_mode=wgangp needs WGAN-GP's critic schedule and critic norm: use "
                "model=pix2pix_wgangp (model.gan_mode is vanilla, lsgan or hinge)"
            )
        if gan_start_epoch < 0:
            raise ValueError(f"model.gan_start_epoch must be >= 0, not {gan_start_epoch}")
        if color_loss not in COLOR_LOSSES:
            raise ValueError(f"model.color_loss must be one of {COLOR_LOSSES}, not {color_loss!r}")
        if color_loss == "classify" and get_color_space(color_space).name != "lab":
            raise ValueError("model.color_loss=classify predicts a*b* bins: use color_space=lab")
        super().__init__(color_space, **shared)
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
        self.lambda_l1, self.lambda_gan, self.lambda_classify = (
            lambda_l1,
            lambda_gan,
            lambda_classify,
        )
        classify = self.hparams["classify"]
        self.classifier_loss = (
            RebalancedChromaLoss(self.generator.centers, classify["mix"], classify["sigma"])
            if color_loss == "classify"
            else None
        )
        self.gan_start_epoch = gan_start_epoch
        self.enable_ema(ema_decay)

    def make_generator(self) -> torch.nn.Module:
        """The configured generator, initialized as upstream (a pretrained encoder keeps its
        weights); with ``color_loss=classify`` it is the trunk of an a*b* bin classifier, whose
        config ``hparams.generator`` then holds, with ``hparams.classify`` filled in."""
        classify = dict(CLASSIFY_DEFAULTS | dict(self.hparams.get("classify") or {}))
        self.hparams["classify"] = classify
        if (
            self.hparams.color_loss == "classify"
            and self.hparams["generator"]["_target_"] != CLASSIFIER
        ):
            # the configured generator becomes the trunk of a bin classifier
            self.hparams["generator"] = {
                "_target_": CLASSIFIER,
                "trunk": self.hparams["generator"],
                "features": classify["features"],
                "temperature": classify["temperature"],
            }
        generator = build_generator(
            self.hparams["generator"],
            input_nc=self.space.in_channels,
            output_nc=self.space.out_channels,
        )
        init_weights(generator, self.hparams.init_gain, skip=getattr(generator, "encoder", None))
        if isinstance(generator, ChromaClassifier):
            generator.reset_head()
        return generator

    def gan_parameters(self):
        return self.generator.parameters(), self.discriminator.parameters()

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

    @property
    def uses_gan(self) -> bool:
        """``lambda_gan=0`` trains the generator alone (regression or classification), and so
        do the epochs before ``gan_start_epoch``: the GAN then only sharpens the colors of a
        generator that regression has already taught, which costs far less fidelity than a
        GAN from the first step (the NoGAN idea of DeOldify)."""
        return self.lambda_gan > 0 and self.current_epoch >= self.gan_start_epoch

    def generate(
        self, x: torch.Tensor
    ) -> tuple[torch.Tensor | None, torch.Tensor | None, tuple[int, int]]:
        """(the generator's output, its bin logits when it is a classifier, else None, and the
        pixel phase the logits were taken at).

        A classifier's loss reads one pixel in each 2x2 block (:data:`CLASSIFY_STRIDE`;
        neighbours carry nearly the same color), so its 1x1 head runs on those pixels only; the
        block's corner is drawn anew each step, since a U-Net's last transposed convolution
        computes each of the four with its own weights, and all four must learn. Without a GAN
        nothing needs the decoded colors, and the output is None.
        """
        if self.classifier_loss is None:
            return self.generator(x), None, (0, 0)
        s = CLASSIFY_STRIDE
        dy, dx = (int(v) for v in torch.randint(0, s, (2,)))
        features = self.generator.trunk(x)
        if not self.uses_gan:
            return None, self.generator.head(features[:, :, dy::s, dx::s]), (dy, dx)
        logits = self.generator.head(features)
        return self.generator.decode(logits), logits[:, :, dy::s, dx::s], (dy, dx)

    def generator_loss(
        self, x, y, fake, logits: torch.Tensor | None = None, phase: tuple[int, int] = (0, 0)
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """G's loss: ``lambda_gan`` x GAN + ``lambda_l1`` x L1 (or ``lambda_classify`` x the
        rebalanced cross-entropy); (total, the terms to log)."""
        terms: dict[str, torch.Tensor] = {}
        total = x.new_zeros((), dtype=torch.float32)
        if self.uses_gan:
            terms["train/g_gan"] = self.gan.g(self.discriminator(torch.cat([x, fake], 1)))
            total = total + self.lambda_gan * terms["train/g_gan"]
        if fake is not None:
            terms["train/g_l1"] = F.l1_loss(fake, y)
        if logits is None:
            total = total + self.lambda_l1 * terms["train/g_l1"]
        else:
            (dy, dx), s = phase, CLASSIFY_STRIDE
            terms["train/g_classify"] = self.classifier_loss(logits, y[:, :, dy::s, dx::s])
            total = total + self.lambda_classify * terms["train/g_classify"]
        return total, terms

    def training_step(self, batch: ColorBatch, batch_idx: int) -> GANLosses:
        opt_g, opt_d = self.optimizers()
        x, y = self.split(batch)
        fake, logits, phase = self.generate(x)

        logs: dict[str, torch.Tensor] = {}
        loss_d = x.new_zeros((), dtype=torch.float32)
        if self.uses_gan:
            self.discriminator.requires_grad_(True)
            loss_d, loss_real, loss_fake = self.discriminator_loss(x, y, fake)
            opt_d.zero_grad(set_to_none=True)
            self.manual_backward(loss_d)
            opt_d.step()
            logs = {"train/d_real": loss_real.detach(), "train/d_fake": loss_fake.detach()}

        loss_g, generator_logs = self.generator_step(opt_g, x, y, fake, logits, phase)
        self.log_dict(logs | generator_logs, prog_bar=False)
        return gan_losses(loss_g, loss_d)

    def generator_step(
        self,
        opt_g: torch.optim.Optimizer,
        x: torch.Tensor,
        y: torch.Tensor,
        fake: torch.Tensor,
        logits: torch.Tensor | None = None,
        phase: tuple[int, int] = (0, 0),
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """One update of G against the current D: (its loss, its logged terms)."""
        # G's backward needs no D weight grads. Frozen weights also bypass autocast's cast
        # cache, which still holds bf16 copies of D from before opt_d.step().
        self.discriminator.requires_grad_(False)
        loss_g, terms = self.generator_loss(x, y, fake, logits, phase)
        opt_g.zero_grad(set_to_none=True)
        self.manual_backward(loss_g)
        opt_g.step()
        self.update_ema()
        self.discriminator.requires_grad_(True)
        return loss_g, {k: v.detach() for k, v in terms.items()}

    def on_fit_start(self) -> None:
        if self.classifier_loss is not None and not self.classifier_loss.has_counts:
            self.classifier_loss.set_counts(self.training_bin_counts())

    def training_bin_counts(self, photos: int = 512) -> torch.Tensor:
        """The a*b* bin histogram of ``photos`` training photos drawn with the run's seed (the
        prior behind the class weights), read from the datamodule's training set."""
        datamodule = getattr(self.trainer, "datamodule", None)
        dataset = getattr(datamodule, "datasets", {}).get("train") if datamodule else None
        if dataset is None:
            raise RuntimeError("model.color_loss=classify needs a datamodule with a train split")
        generator = torch.Generator().manual_seed(int(self.hparams.get("classify")["seed"]))
        picks = torch.randperm(len(dataset), generator=generator)[:photos].tolist()
        counts = torch.zeros(self.generator.num_bins)
        centers = self.generator.centers.cpu()
        for start in range(0, len(picks), 32):
            _, y = self.space.split(collate([dataset[i] for i in picks[start : start + 32]]))
            ab = y.permute(0, 2, 3, 1).reshape(-1, 2) * 110.0
            counts += bin_histogram(ab, centers)
        log.info(
            "class prior from %d training photos: %d of %d bins seen",
            len(picks),
            int((counts > 0).sum()),
            counts.numel(),
        )
        return counts.to(self.device)

    def on_train_epoch_start(self) -> None:
        # DeOldify's recipe: the decoder learns on the frozen pretrained encoder first.
        if self.hparams.freeze_encoder_epochs:
            trainable = self.current_epoch >= self.hparams.freeze_encoder_epochs
            self.generator.encoder.requires_grad_(trainable)
