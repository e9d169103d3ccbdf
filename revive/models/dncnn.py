"""DnCNN training (Zhang et al., TIP 2017): clean patches in, noise drawn on the device.

The network predicts the noise R(y) of y = x + v and is trained on the paper's loss
1/(2N) * sum_i ||R(y_i) - (y_i - x_i)||^2 over a batch of N patches. A fixed ``sigma`` trains
DnCNN-S; ``sigma_range`` draws one sigma per patch (DnCNN-B and CDnCNN-B: [0, 55]).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import lightning as L
import torch
import torch.nn.functional as F

from revive.batch import DenoiseBatch
from revive.data.noise import gaussian_noise, quantize, sample_sigmas
from revive.evaluation.metrics import restoration_metrics
from revive.models.defaults import configured
from revive.nets.dncnn import DnCNN

OptimizerFactory = Callable[..., torch.optim.Optimizer]
SchedulerFactory = Callable[..., torch.optim.lr_scheduler.LRScheduler]


class DnCNNModule(L.LightningModule):
    """Residual denoiser: Adam 1e-3, then 1e-4 after 30 epochs (as cszn's PyTorch training).

    Without ``optimizer`` or ``scheduler``, those of ``conf/model/dncnn.yaml``, which writes
    the numbers: a module built in Python trains as ``train.py model=dncnn`` would.
    """

    def __init__(
        self,
        net: Mapping[str, Any] | None = None,
        sigma: float = 25.0,
        sigma_range: Sequence[float] | None = None,
        val_sigma: float = 25.0,
        optimizer: OptimizerFactory | None = None,
        scheduler: SchedulerFactory | None = None,
        n_epochs: int = 50,
        num_panels: int = 4,
        panel_size: int = 128,
    ) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["optimizer", "scheduler"])
        if sigma_range is not None and not (0 <= sigma_range[0] <= sigma_range[1]):
            raise ValueError(
                f"sigma_range must be [low, high] with 0 <= low <= high: {sigma_range}"
            )
        self.net = DnCNN(**(net or {}))
        self.optimizer, self.scheduler = optimizer, scheduler
        self.val_metrics = restoration_metrics("val/")
        self.test_metrics = restoration_metrics("test/")
        self.panel: dict[str, torch.Tensor] = {}

    def forward(self, noisy: torch.Tensor) -> torch.Tensor:
        """Noisy [B, C, H, W] in [0, 1] -> denoised (not clipped)."""
        return self.net(noisy)

    # -- training -------------------------------------------------------------------------------
    def training_sigmas(self, clean: torch.Tensor) -> float | torch.Tensor:
        if self.hparams.sigma_range is None:
            return float(self.hparams.sigma)
        low, high = self.hparams.sigma_range
        return sample_sigmas(clean.shape[0], low, high, clean.device)

    def training_step(self, batch: DenoiseBatch, batch_idx: int) -> torch.Tensor:
        clean = batch.clean
        if batch.noisy is not None:  # data.degrade=old_photo: grain, noise, JPEG from the loader
            noise = batch.noisy - clean
        else:
            noise = gaussian_noise(clean, self.training_sigmas(clean))
        residual = self.net.residual(clean + noise)
        loss = F.mse_loss(residual, noise, reduction="sum") / (2 * clean.shape[0])
        self.log("train/loss", loss, prog_bar=True, batch_size=clean.shape[0])
        return loss

    def configure_optimizers(self):
        make_optimizer = self.optimizer or configured("model/dncnn", "optimizer")
        make_scheduler = self.scheduler or configured("model/dncnn", "scheduler")
        optimizer = make_optimizer(self.net.parameters())
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": make_scheduler(optimizer), "interval": "epoch"},
        }

    # -- evaluation -----------------------------------------------------------------------------
    def _evaluate(self, batch: DenoiseBatch, batch_idx: int, metrics, stage: str) -> None:
        clean = batch.clean
        # The same noise for image i in every epoch, so that val/psnr curves compare.
        generator = torch.Generator(clean.device).manual_seed(batch_idx)
        noisy = clean + gaussian_noise(clean, float(self.hparams.val_sigma), generator)
        denoised = quantize(self.net(noisy).float())
        # SSIM's local variances cancel catastrophically in bf16: score in fp32 whatever the
        # trainer's precision (bf16-mixed autocast would otherwise give SSIM near 0).
        with torch.autocast(clean.device.type, enabled=False):
            metrics.update(denoised, clean.float())
        self.log_dict(metrics, on_epoch=True, batch_size=clean.shape[0])
        if stage == "val":
            self._collect_panel(noisy.clamp(0, 1), denoised, clean)

    def _collect_panel(self, noisy, denoised, clean) -> None:
        """Center crops of the first ``num_panels`` validation images: noisy | denoised | clean."""
        if self.panel and self.panel["clean"].shape[0] >= self.hparams.num_panels:
            return
        rows = {"noisy": noisy, "denoised": denoised, "clean": clean}
        for key, value in rows.items():
            crop = center_crop(value, self.hparams.panel_size).detach().float().cpu()
            self.panel[key] = torch.cat([self.panel[key], crop]) if key in self.panel else crop

    def on_validation_epoch_start(self) -> None:
        self.panel = {}

    def validation_step(self, batch, batch_idx: int) -> None:
        self._evaluate(batch, batch_idx, self.val_metrics, "val")

    def test_step(self, batch, batch_idx: int) -> None:
        self._evaluate(batch, batch_idx, self.test_metrics, "test")


def center_crop(images: torch.Tensor, size: int) -> torch.Tensor:
    """A ``size`` x ``size`` center crop; smaller images are upscaled to it (panels need one size)."""
    h, w = images.shape[-2:]
    if min(h, w) < size:
        return F.interpolate(images, size=(size, size), mode="nearest")
    top, left = (h - size) // 2, (w - size) // 2
    return images[..., top : top + size, left : left + size]
