"""Lightning callbacks that make runs visible: image panels in every logger, and on disk."""

from __future__ import annotations

from pathlib import Path

import lightning as L
from lightning.pytorch.loggers import TensorBoardLogger, WandbLogger

from revive.io import save_image
from revive.visual import panel


class ImagePanels(L.Callback):
    """After each validation epoch, turn the model's ``panel`` (columns of images) into one picture.

    The picture goes to every active logger that can show images, and always to
    ``<run>/panels/epoch_XXXX.png`` so that runs can be compared without a dashboard.
    """

    def __init__(self, key: str = "val/panels") -> None:
        self.key = key

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        columns = getattr(pl_module, "panel", None)
        if not columns or trainer.sanity_checking or not trainer.is_global_zero:
            return
        picture = panel(columns)
        caption = " | ".join(columns)
        save_image(
            picture,
            Path(trainer.default_root_dir) / "panels" / f"epoch_{trainer.current_epoch:04d}.png",
        )
        for logger in trainer.loggers:
            if isinstance(logger, WandbLogger):
                logger.log_image(
                    key=self.key, images=[picture], caption=[caption], step=trainer.global_step
                )
            elif isinstance(logger, TensorBoardLogger):
                logger.experiment.add_image(
                    self.key, picture, trainer.global_step, dataformats="HWC"
                )
