"""A U-Net decoder on an ImageNet classification encoder (DeOldify's generator, on
segmentation-models-pytorch).

``encoder`` names a ResNet (``resnet18``, ``resnet34``, ``resnet50``: smp's own encoders, whose
weights have torchvision's and timm's keys) or any timm model (``convnext_tiny``: smp's ``tu-``
encoders, weights in timm's layout). ``encoder_weights`` is a local file; nothing is downloaded.
A gray input keeps the RGB weights: the first conv's kernel is summed over the color channels,
so that a gray image gives what the RGB encoder gives on that image repeated three times.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from revive.extras import require
from revive.safe.load import load_checkpoint

smp = require("encoders", "segmentation_models_pytorch")

log = logging.getLogger(__name__)

CLASSIFIER_KEYS = ("fc.", "head.", "classifier.")


class PretrainedUnet(nn.Module):
    """smp's U-Net with a Tanh on top, like the official generators (outputs in [-1, 1])."""

    size_multiple = 32  # five stride-2 stages

    def __init__(
        self,
        input_nc: int = 1,
        output_nc: int = 2,
        encoder: str = "resnet34",
        encoder_weights: str | None = None,
        decoder_channels: Sequence[int] = (256, 128, 64, 32, 16),
    ) -> None:
        super().__init__()
        native = encoder in smp.encoders.get_encoder_names()
        path = Path(encoder_weights).expanduser() if encoder_weights else None
        if path is not None and not path.is_file():
            raise FileNotFoundError(
                f"encoder_weights={path} does not exist. Save the ImageNet weights of {encoder} "
                f"there first, e.g. torch.save(torchvision.models.{encoder}(weights='DEFAULT')"
                f".state_dict(), '{path}') (or timm.create_model('{encoder}', pretrained=True)), "
                "or pass encoder_weights=null for random weights"
            )
        timm_file = (
            {} if native or path is None else {"pretrained_cfg_overlay": {"file": str(path)}}
        )
        self.unet = smp.Unet(
            encoder_name=encoder if native else f"tu-{encoder}",
            encoder_weights=True if timm_file else None,  # timm reads the local file itself
            in_channels=3 if native else input_nc,  # timm sums the RGB kernel for gray input
            classes=output_nc,
            decoder_channels=tuple(decoder_channels),
            **timm_file,
        )
        if native:
            if path is not None:
                load_encoder_weights(self.unet.encoder, path)
            self.unet.encoder.set_in_channels(input_nc, pretrained=True)  # sums the RGB kernel
        if path is None:
            log.info(
                "pretrained_unet: encoder %s has random weights (encoder_weights=null)", encoder
            )
        else:
            log.info("pretrained_unet: encoder %s loaded from %s", encoder, path)

    @property
    def encoder(self) -> nn.Module:
        """The pretrained part (``model.freeze_encoder_epochs`` freezes it)."""
        return self.unet.encoder

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.unet(x))


def load_encoder_weights(encoder: nn.Module, path: Path) -> None:
    """Load a classification network's state dict (torchvision or timm keys) into ``encoder``,
    leaving out its classifier."""
    state = load_checkpoint(path)
    state = state.get("state_dict", state)
    state = {k: v for k, v in state.items() if not k.startswith(CLASSIFIER_KEYS)}
    # nn.Module's own method: smp's encoders override load_state_dict and return nothing
    result = nn.Module.load_state_dict(encoder, state, strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise ValueError(
            f"encoder_weights={path} do not fit the encoder (torchvision or timm layout "
            f"expected): missing {result.missing_keys[:5]}, unexpected {result.unexpected_keys[:5]}"
        )
