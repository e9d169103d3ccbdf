"""The networks that restore a photo, loaded and ready: denoise -> upscale -> render -> colorize
-> merge.

:class:`Restorer` holds a colorizer (and optionally a gray DnCNN) on its device and turns one
full-resolution luminance into a colorized uint8 RGB photo of the same size (``scale`` times
larger with a super-resolution network):

1. the optional DnCNN denoises the luminance at full resolution, in overlapping tiles
   (:mod:`revive.restore.tiling`, forward passes from :mod:`revive.restore.forward`);
   then the optional super-resolution network upscales it (:mod:`revive.restore.upscale`);
2. the colorizer sees it on a square canvas at ``render_size`` (:mod:`revive.restore.canvas`);
3. only the predicted chroma returns to full resolution, applied to the luminance, so the output
   has the input's exact size and detail, and (without a denoiser) its luminance within 1/255.

This is the approach of DeOldify, DDColor and Zhang et al. ``predict.py`` (through
:mod:`revive.restore.files`), ``eval.py`` and ``compare`` all restore photos with this class.
"""

from __future__ import annotations

import copy

import kornia.color as kc
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from revive.color import AB_SCALE, ColorSpace
from revive.errors import SetupError
from revive.hardware import resolve_device
from revive.nets.receptive import receptive_radius
from revive.restore.canvas import Canvas, fit_canvas, merge_chroma, mirror_indices
from revive.restore.forward import denoising_forward, inference_dtype
from revive.restore.options import RestoreOptions
from revive.restore.tiling import run_tiled
from revive.restore.upscale import Upscaler, check_output_pixels
from revive.weights.onnx_runtime import OnnxNetwork


def prepare_denoiser(net: nn.Module) -> nn.Module:
    """Eval mode, BatchNorm folded into the convolutions (same output, fewer passes).

    Only gray denoisers fit: a scan's noise lives in its luminance, and a color DnCNN fed the
    gray as three equal channels sees perfectly correlated noise that it was never trained on
    (the official CDnCNN-B gains 0.2 dB there, against 5 dB for the gray DnCNN-S).
    """
    channels = getattr(net, "channels", 1)
    if channels != 1:
        raise SetupError(
            f"the denoiser is a {channels}-channel (color) DnCNN; photos are denoised on their "
            "gray luminance, so give a gray model (e.g. the official dncnn_25.pth)"
        )
    fuse = getattr(net, "fuse_bn", None)
    return (fuse() if callable(fuse) else net).eval()


class Restorer:
    """A colorizer (and optionally a denoiser) ready to restore luminance images of any size."""

    def __init__(
        self,
        colorizer: nn.Module,
        space: ColorSpace,
        denoiser: nn.Module | None = None,
        render_size: int = 256,
        device: str | torch.device = "cpu",
        tile_size: int = 512,
        precision: str = "auto",
        upscaler: Upscaler | None = None,
        max_side: int | None = None,
        max_pixels: int | None = None,
    ) -> None:
        if render_size < 1 or tile_size < 1:
            raise SetupError(
                f"render_size and tile_size must be positive ({render_size}, {tile_size})"
            )
        for name, cap in (("max_side", max_side), ("max_pixels", max_pixels)):
            if cap is not None and (isinstance(cap, bool) or not isinstance(cap, int) or cap < 1):
                raise SetupError(f"{name} must be a positive whole number or null (got {cap!r})")
        self.max_side, self.max_pixels = max_side, max_pixels  # caps on the output
        self.device = torch.device(device)
        self.colorizer = colorizer.eval().to(self.device)
        self.space = space
        self.multiple = int(getattr(colorizer, "size_multiple", 1))
        self.render_size, self.tile_size = render_size, tile_size
        self.denoiser = None if denoiser is None else prepare_denoiser(denoiser).to(self.device)
        self.upscaler = upscaler
        try:
            self.denoise_dtype = inference_dtype(str(precision), self.device)
        except ValueError as e:
            raise SetupError(str(e)) from e
        if isinstance(self.denoiser, OnnxNetwork):  # an fp32 graph that knows its own radius
            if str(precision) == "bf16":
                raise SetupError("backend=onnx runs the exported fp32 graph; use precision=32")
            self.denoise_dtype, self.overlap = torch.float32, self.denoiser.receptive_radius
            self._denoise = self.denoiser
            return
        self.overlap = 0 if denoiser is None else receptive_radius(self.denoiser)
        self._denoise = (
            None
            if self.denoiser is None
            else denoising_forward(self.denoiser, self.device, self.denoise_dtype)
        )

    def variant(
        self, render_size: int | None = None, denoise: bool = True, enlarge: bool = True
    ) -> Restorer:
        """The same loaded networks with other options, for one request of the web page.

        A shallow copy: concurrent requests with different options never see each other's.
        """
        other = copy.copy(self)
        if render_size is not None:
            if render_size < 1:
                raise SetupError(f"render_size must be positive ({render_size})")
            other.render_size = render_size
        if not denoise:
            other.denoiser, other._denoise, other.overlap = None, None, 0
        if not enlarge:
            other.upscaler = None
        return other

    @property
    def scale(self) -> int:
        """How many times larger than its input a restored photo is (the upscaler's scale)."""
        return 1 if self.upscaler is None else self.upscaler.scale

    def canvas(self, height: int, width: int) -> Canvas:
        return fit_canvas(height, width, self.render_size, self.multiple)

    @torch.inference_mode()
    def denoise(self, gray: torch.Tensor, desc: str | None = None) -> torch.Tensor:
        """Full-resolution gray [H, W] -> denoised, clipped to [0, 1]; tiled, result on the CPU."""
        if self.denoiser is None:
            return gray
        out = run_tiled(
            self._denoise, gray[None], self.tile_size, self.overlap, self.device, desc=desc
        )[0]
        return out.clamp_(0.0, 1.0)

    def check_size(self, height: int, width: int) -> None:
        """Refuse a photo before any work when its output (``scale`` times its size) would be
        over a cap: ``max_side`` (its long side), ``max_pixels``, or the upscaler's own."""
        if self.upscaler is not None:
            self.upscaler.check_size(height, width)
        out_height, out_width = height * self.scale, width * self.scale
        if self.max_side is not None and max(out_height, out_width) > self.max_side:
            made = f"{width}x{height}" + (f" upscaled x{self.scale}" if self.scale > 1 else "")
            raise ValueError(
                f"{made} would give a {out_width}x{out_height} output, longer than "
                f"max_side={self.max_side}"
            )
        check_output_pixels(height, width, self.scale, self.max_pixels, "max_pixels")

    def upscale(self, gray: torch.Tensor, desc: str | None = None) -> torch.Tensor:
        """Gray [H, W] -> [scale*H, scale*W] by the super-resolution network (if any)."""
        return gray if self.upscaler is None else self.upscaler(gray, desc=desc)

    @torch.inference_mode()
    def render(self, gray: torch.Tensor) -> tuple[torch.Tensor, Canvas]:
        """The colorizer's view of a full-resolution gray [H, W]: a [1, side, side] canvas."""
        box = self.canvas(*gray.shape)
        small = F.interpolate(
            gray[None, None], size=(box.height, box.width), mode="bilinear", antialias=True
        )[0, 0]
        rows = mirror_indices(box.side, box.height, box.top)
        cols = mirror_indices(box.side, box.width, box.left)
        return small[rows][:, cols].clamp(0.0, 1.0)[None], box

    @torch.inference_mode()
    def colorize(self, canvases: torch.Tensor) -> torch.Tensor:
        """Gray canvases [B, 1, S, S] in [0, 1] -> predicted LAB a*b* [B, 2, S, S] on the device."""
        x = self.space.input_from_gray(canvases.to(self.device))
        y = self.colorizer(x).float()
        if self.space.out_channels == 2:  # LAB model: the chroma itself
            return y * AB_SCALE
        return kc.rgb_to_lab(self.space.to_rgb(x, y))[:, 1:]  # RGB model: keep only its chroma

    @torch.inference_mode()
    def merge(self, gray: torch.Tensor, ab: torch.Tensor, box: Canvas) -> np.ndarray:
        """Full-res gray [H, W] + canvas chroma [2, S, S] -> uint8 RGB [H, W, 3]."""
        return merge_chroma(gray, ab, box, self.device)

    def paint(self, light: torch.Tensor) -> np.ndarray:
        """The output's own luminance (denoised, upscaled) [H, W] -> uint8 RGB [H, W, 3]: the
        colorizer on the render canvas, its chroma merged at full size."""
        canvas, box = self.render(light)
        return self.merge(light, self.colorize(canvas[None])[0], box)

    def restore(self, gray: torch.Tensor) -> np.ndarray:
        """One gray scan [H, W] -> uint8 RGB [scale*H, scale*W, 3]: all steps, no files."""
        return self.paint(self.upscale(self.denoise(gray)))


BACKENDS = ("torch", "onnx")


def load_restorer(options: RestoreOptions | None = None) -> Restorer:
    """Load the networks that ``options`` name; every problem becomes one SetupError that names
    the option.

    ``backend="onnx"`` runs ``.onnx`` exports (:mod:`revive.weights.onnx_runtime`) with onnxruntime;
    everything around the networks stays the same. ``colorizer=None`` is the shipped colorizer
    (:mod:`revive.weights.shipped`); ``render_size=None`` is the render size the colorizer file
    records (the scale it was trained at), else 256.
    """
    from revive.weights.shipped import (
        DEFAULT_RENDER_SIZE,
        recorded_render_size,
        shipped_colorizer,
    )

    o = options or RestoreOptions()
    colorizer, denoiser, upscaler = o.colorizer, o.denoiser, o.upscaler
    try:
        colorizer = shipped_colorizer() if colorizer is None else colorizer
        render_size = o.render_size
        if render_size is None:
            render_size = recorded_render_size(colorizer) or DEFAULT_RENDER_SIZE
    except ValueError as e:
        raise SetupError(f"colorizer={colorizer}: {e}") from e
    if o.backend not in BACKENDS:
        raise SetupError(f"backend must be one of {', '.join(BACKENDS)} (got {o.backend!r})")
    try:
        torch_device = resolve_device(o.device)
    except ValueError as e:
        raise SetupError(str(e)) from e
    if o.backend == "onnx":
        from revive.weights.onnx_runtime import load_onnx_colorizer as load_colorizer
        from revive.weights.onnx_runtime import load_onnx_denoiser as load_denoiser

        load_kwargs = {"device": torch_device}
    else:
        from revive.weights.colorizer import load_colorizer
        from revive.weights.dncnn import load_denoiser

        load_kwargs = {}
        for name, path in (("colorizer", colorizer), ("denoiser", denoiser)):
            if path is not None and str(path).lower().endswith(".onnx"):
                raise SetupError(f"{name}={path} is an ONNX model: run it with backend=onnx")
    try:
        net, space = load_colorizer(colorizer, **load_kwargs)
    except (OSError, ValueError) as e:  # UserError (a ValueError): every failure to read the file
        raise SetupError(f"colorizer={colorizer}: {e}") from e
    if space.in_channels != 1:
        raise SetupError(f"colorizer={colorizer} takes {space.in_channels} channels, not 1 gray")
    noise_net = None
    if denoiser is not None:
        try:
            noise_net = prepare_denoiser(load_denoiser(denoiser, **load_kwargs))
        except (OSError, ValueError) as e:
            raise SetupError(f"denoiser={denoiser}: {e}") from e
    sr = None
    if upscaler is not None:
        from revive.weights.upscaler import load_upscaler

        try:
            sr = Upscaler(
                load_upscaler(upscaler),
                torch_device,
                o.upscale_tile_size,
                o.upscale_overlap,
                o.upscale_max_pixels,
            )
        except (OSError, ValueError, RuntimeError, KeyError, TypeError) as e:
            raise SetupError(f"upscaler={upscaler}: {e}") from e
    return Restorer(
        net,
        space,
        noise_net,
        render_size=render_size,
        device=torch_device,
        tile_size=o.tile_size,
        precision=o.precision,
        upscaler=sr,
        max_side=o.max_side,
        max_pixels=o.max_pixels,
    )
