"""The super-resolution stage: a full-resolution luminance upscaled by a published SR network.

It runs after denoising and before colorization, so the colorizer renders from the upscaled
luminance and the chroma is merged at the upscaled size. Gray models take the luminance itself;
RGB models (most published weights) take it as three equal channels, and the luminance (the gray
of equal CIE Y) of their output is kept. The network runs in overlapping tiles
(:mod:`revive.restore.tiling`), so memory is bounded by the tile, not by the photo.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from revive.color import luminance_pt
from revive.restore.tiling import run_tiled

if TYPE_CHECKING:  # revive[sr]: only revive.weights.upscaler imports spandrel itself
    import spandrel


def check_output_pixels(height: int, width: int, scale: int, cap: int | None, name: str) -> None:
    """Refuse a ``width`` x ``height`` photo whose output, ``scale`` times its size, would have
    more pixels than the cap ``name`` (``None``: no cap)."""
    pixels = height * width * scale**2
    if cap is not None and pixels > cap:
        made = f"{width}x{height}" + (f" upscaled x{scale}" if scale > 1 else "")
        hint = "raise it, or use a model of lower scale" if scale > 1 else "raise it"
        raise ValueError(
            f"{made} would be {width * scale}x{height * scale} = {pixels:,} px, over "
            f"{name}={cap:,}; {hint}"
        )


class Upscaler:
    """An SR network ready to upscale gray [H, W] images of any size, tile by tile.

    ``overlap`` input pixels of context surround each tile. For a convolutional network whose
    receptive radius is within ``overlap`` the tiles join exactly; deeper or attention networks
    (RRDBNet's radius is hundreds of pixels, SwinIR and RCAN see further) join within a small
    error, as Real-ESRGAN's own tiling does.
    """

    def __init__(
        self,
        model: spandrel.ImageModelDescriptor,
        device: str | torch.device = "cpu",
        tile_size: int = 192,
        overlap: int = 16,
        max_pixels: int | None = None,
    ) -> None:
        if tile_size < 1 or overlap < 0:
            raise ValueError(
                f"upscale_tile_size must be positive and upscale_overlap >= 0 "
                f"(got {tile_size}, {overlap})"
            )
        if max_pixels is not None and max_pixels < 1:
            raise ValueError(f"upscale_max_pixels must be positive or null (got {max_pixels})")
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.scale, self.channels = int(model.scale), int(model.input_channels)
        self.tile_size, self.overlap, self.max_pixels = tile_size, overlap, max_pixels

    def __str__(self) -> str:
        kind = "gray" if self.channels == 1 else "RGB"
        return (
            f"upscaled x{self.scale} by {self.model.architecture.name} ({kind}), tiles of "
            f"{self.tile_size} px overlapping by {self.overlap}"
        )

    def check_size(self, height: int, width: int) -> None:
        """Refuse, before any work, a photo whose upscaled output would exceed the cap."""
        check_output_pixels(height, width, self.scale, self.max_pixels, "upscale_max_pixels")

    def _forward(self, window: torch.Tensor) -> torch.Tensor:
        """[1, 1, h, w] -> [1, 1, scale*h, scale*w]; spandrel pads to the model's size needs."""
        if self.channels == 1:
            return self.model(window)
        return luminance_pt(self.model(window.expand(-1, 3, -1, -1).contiguous()))

    @torch.inference_mode()
    def __call__(self, gray: torch.Tensor, desc: str | None = None) -> torch.Tensor:
        """Gray [H, W] in [0, 1] -> [scale*H, scale*W] in [0, 1], on the CPU."""
        self.check_size(*gray.shape)
        out = run_tiled(
            self._forward,
            gray[None].float(),
            self.tile_size,
            self.overlap,
            self.device,
            desc=desc,
            scale=self.scale,
        )
        return out[0].clamp_(0.0, 1.0)
