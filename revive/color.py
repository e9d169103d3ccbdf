"""All of revive's color math: formulas first (numpy and torch side by side), then the color
spaces that turn an RGB batch into (network input, target) on the device, and back.

The formulas, each written once:
- the sRGB transfer curves (IEC 61966-2-1): :func:`srgb_to_linear` / :func:`linear_to_srgb`
  for numpy, with ``_pt`` twins for torch;
- CIE luminance Y and the gray of equal Y (what a photo is revived from): :func:`luminance`;
- ITU-R 601 luma (what PIL's ``convert("L")`` and an RGB colorizer's input are):
  :func:`luma` (torch) and :func:`luma_uint8` (numpy, bit-identical to PIL);
- CIE XYZ and L*a*b* with kornia's constants, so that what is revived matches what was trained:
  :func:`gray_ab_to_rgb_pt`.

A color space reads a :class:`revive.batch.ColorBatch` (the photo as uint8 RGB or as stored
float LAB, and the degraded scan when the loader drew one) through its views, never its fields'
forms: :meth:`~revive.batch.ColorBatch.as_rgb`, :meth:`~revive.batch.ColorBatch.as_lab`,
:meth:`~revive.batch.ColorBatch.input_rgb`.
"""

from __future__ import annotations

import cv2
import kornia.color as kc
import numpy as np
import torch

from revive.batch import ColorBatch

# Official pix2pix colorization normalization (models/colorization_model.py).
L_SCALE, L_SHIFT, AB_SCALE = 50.0, 1.0, 110.0
# ITU-R 601-2 luma, the weights PIL's convert("L") uses: what a gray scan looks like.
LUMA = (0.299, 0.587, 0.114)
# PIL's fixed-point form of LUMA (libImaging/Convert.c): weights scaled by 2**16, rounded.
_LUMA_FIXED = (19595, 38470, 7471)
# The Y row of sRGB's RGB->XYZ matrix (kornia's constants): CIE luminance of linear RGB.
LUMINANCE_WEIGHTS = (0.212671, 0.715160, 0.072169)
_RGB_TO_XYZ = torch.tensor(
    [[0.412453, 0.357580, 0.180423], LUMINANCE_WEIGHTS, [0.019334, 0.119193, 0.950227]],
    dtype=torch.float64,
)
# The exact inverse, and the XYZ of RGB white: a*b* = 0 then gives R = G = B exactly.
_XYZ_TO_RGB = torch.linalg.inv(_RGB_TO_XYZ).float()
_WHITE = _RGB_TO_XYZ.sum(1).float()
_LAB_EPS, _LAB_KAPPA, _LAB_F0 = 0.008856, 7.787, 4.0 / 29.0  # kornia's, as in training


# -- sRGB transfer curves ------------------------------------------------------------------------
def srgb_to_linear(x: np.ndarray) -> np.ndarray:
    """sRGB-encoded values in [0, 1] -> linear light (IEC 61966-2-1), float32."""
    x = np.asarray(x, dtype=np.float32)
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4).astype(np.float32)


def linear_to_srgb(y: np.ndarray) -> np.ndarray:
    """Linear light in [0, 1] (clipped) -> sRGB-encoded values, float32."""
    y = np.clip(np.asarray(y, dtype=np.float32), 0.0, 1.0)
    return np.where(y <= 0.0031308, y * 12.92, 1.055 * y ** (1 / 2.4) - 0.055).astype(np.float32)


def srgb_to_linear_pt(x: torch.Tensor) -> torch.Tensor:
    """:func:`srgb_to_linear` for tensors, on their device."""
    return torch.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055).pow(2.4))


def linear_to_srgb_pt(y: torch.Tensor) -> torch.Tensor:
    """:func:`linear_to_srgb` for tensors, on their device."""
    y = y.clamp(0.0, 1.0)
    return torch.where(y <= 0.0031308, y * 12.92, 1.055 * y.pow(1 / 2.4) - 0.055)


_SRGB_LUT = srgb_to_linear(np.arange(256, dtype=np.float32) / 255.0)


# -- gray levels ---------------------------------------------------------------------------------
def luminance(rgb: np.ndarray, rows_per_chunk: int | None = None) -> np.ndarray:
    """uint8 RGB [H, W, 3] -> float32 gray [H, W] in [0, 1] with the same CIE luminance Y.

    For a gray pixel that is its own value; for a color pixel, the gray of the same lightness,
    hence the same LAB L* that a LAB colorizer was trained on. Works in row chunks of about
    1 MP so that a 24 MP scan needs no full-size float temporaries beyond the result.
    """
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected uint8 RGB [H, W, 3], got {rgb.dtype} {rgb.shape}")
    height, width = rgb.shape[:2]
    out = np.empty((height, width), np.float32)
    step = rows_per_chunk or max(1, 1_000_000 // max(width, 1))
    w_r, w_g, w_b = (np.float32(w) for w in LUMINANCE_WEIGHTS)
    for top in range(0, height, step):
        part = rgb[top : top + step]
        y = _SRGB_LUT[part[..., 0]] * w_r
        y += _SRGB_LUT[part[..., 1]] * w_g
        y += _SRGB_LUT[part[..., 2]] * w_b
        out[top : top + step] = linear_to_srgb(y)
    return out


# The 8-bit gray codes by linear luminance: the level where each code 1..255 begins (half-way
# between two codes in sRGB) and, for 2**16 equal bins of Y, the code at each bin's lower edge.
# Codes are at least 3e-4 apart in linear light, so a bin holds at most one such level.
_Y_BINS = 1 << 16
_CODE_STARTS = np.append(srgb_to_linear((np.arange(1, 256) - 0.5) / 255.0), np.inf)
_CODE_AT_BIN = np.searchsorted(_CODE_STARTS, np.arange(_Y_BINS + 1) / _Y_BINS, "right")
_CODE_AT_BIN = _CODE_AT_BIN.astype(np.uint8)
_LINEAR_LUT_3 = np.repeat(_SRGB_LUT[:, None, None], 3, axis=2)  # cv2.LUT's form: 256 x 1 x 3
_Y_ROW = np.array([LUMINANCE_WEIGHTS], np.float32)


def luminance_uint8(rgb: np.ndarray) -> np.ndarray:
    """uint8 RGB [H, W, 3] -> uint8 gray [H, W] of equal CIE Y: :func:`luminance` rounded to 8 bits.

    Table lookups instead of a power per pixel (about 2x faster), for the data loaders that
    turn every training photo into the gray scan a colorizer is given.
    """
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected uint8 RGB [H, W, 3], got {rgb.dtype} {rgb.shape}")
    y = cv2.transform(cv2.LUT(rgb, _LINEAR_LUT_3), _Y_ROW).reshape(rgb.shape[:2])
    bins = np.minimum((y * _Y_BINS).astype(np.int32), _Y_BINS)
    code = np.take(_CODE_AT_BIN, bins)
    code += y >= np.take(_CODE_STARTS, code)  # the one code that may begin inside the bin
    return code


def luma_uint8(rgb: np.ndarray) -> np.ndarray:
    """uint8 RGB [..., 3] -> uint8 ITU-R 601 luma [...], bit-identical to PIL's ``convert("L")``."""
    if rgb.dtype != np.uint8 or rgb.shape[-1] != 3:
        raise ValueError(f"expected uint8 RGB [..., 3], got {rgb.dtype} {rgb.shape}")
    weights = np.array(_LUMA_FIXED, np.uint32)
    return ((rgb.astype(np.uint32) @ weights + (1 << 15)) >> 16).astype(np.uint8)


def luma(rgb: torch.Tensor) -> torch.Tensor:
    """ITU-R 601 gray [B,1,H,W] in [0,1] from RGB [B,3,H,W] in [0,1]."""
    w = rgb.new_tensor(LUMA).view(1, 3, 1, 1)
    return (rgb * w).sum(1, keepdim=True)


# -- CIE XYZ and L*a*b* --------------------------------------------------------------------------
def _lab_f(t: torch.Tensor) -> torch.Tensor:
    return torch.where(t > _LAB_EPS, t.clamp(min=_LAB_EPS).pow(1 / 3), _LAB_KAPPA * t + _LAB_F0)


def _lab_f_inv(f: torch.Tensor) -> torch.Tensor:
    return torch.where(f > 0.2068966, f.pow(3), (f - _LAB_F0) / _LAB_KAPPA)


def gray_ab_to_rgb_pt(gray: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
    """Gray [h, w] in [0, 1] and LAB a*b* [2, h, w] -> uint8 RGB [h, w, 3] of the same luminance.

    ``gray`` fixes the CIE luminance Y; a*b* set the color around it (LAB -> XYZ -> linear RGB).
    Out-of-gamut colors move toward the gray of equal Y until they fit (in linear light, where
    mixing preserves Y), so Y survives exactly and only the saturation of impossible colors is
    reduced; clipping channel by channel would change their brightness instead.
    """
    y = srgb_to_linear_pt(gray.clamp(0.0, 1.0))
    fy = _lab_f(y)
    white = _WHITE.to(gray.device)
    x = white[0] * _lab_f_inv(fy + ab[0] / 500.0)
    z = white[2] * _lab_f_inv(fy - ab[1] / 200.0)
    rgb = torch.einsum("cx,xhw->chw", _XYZ_TO_RGB.to(gray.device), torch.stack([x, y, z]))
    offset = rgb - y  # the color's departure from the gray of the same luminance
    room = torch.where(offset > 0, 1.0 - y, y)  # how far each channel may move from the gray
    scale = torch.where(offset.abs() > room, room / offset.abs().clamp(min=1e-12), 1.0)
    rgb = y + offset * scale.amin(0, keepdim=True)
    return (linear_to_srgb_pt(rgb) * 255.0 + 0.5).to(torch.uint8).permute(1, 2, 0)


class ColorSpace:
    """How a colorizer sees color. Subclasses fix the channel counts and the normalization."""

    name: str
    in_channels: int = 1
    out_channels: int

    def split(self, batch: ColorBatch) -> tuple[torch.Tensor, torch.Tensor]:
        """(input, target), both in [-1, 1]: the input from the degraded scan when the batch
        has one, the target always from the clean photo."""
        raise NotImplementedError

    def input_from_gray(self, gray: torch.Tensor) -> torch.Tensor:
        """Network input from a gray image in [0,1] (what predict feeds a real scan)."""
        raise NotImplementedError

    def to_rgb(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """RGB in [0,1] from the input and an output (prediction or target)."""
        raise NotImplementedError

    def gray_rgb(self, x: torch.Tensor) -> torch.Tensor:
        """The network input shown as a 3-channel image in [0,1], for panels."""
        return ((x + 1) / 2).clamp(0, 1).expand(-1, 3, -1, -1)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.in_channels}->{self.out_channels})"


class LabSpace(ColorSpace):
    """Predict ab from L: input L/50-1, target ab/110 (the official colorization mode)."""

    name, out_channels = "lab", 2

    def split(self, batch):
        lab = batch.as_lab()
        light = lab if batch.degraded is None else kc.rgb_to_lab(batch.input_rgb())
        return light[:, :1] / L_SCALE - L_SHIFT, lab[:, 1:] / AB_SCALE

    def input_from_gray(self, gray):
        # A gray pixel's L is the L of the equal-RGB color; kornia computes it exactly.
        return kc.rgb_to_lab(gray.expand(-1, 3, -1, -1))[:, :1] / L_SCALE - L_SHIFT

    def to_rgb(self, x, y):
        lab = torch.cat([(x + L_SHIFT) * L_SCALE, y * AB_SCALE], 1)
        return kc.lab_to_rgb(lab.float(), clip=True)

    def gray_rgb(self, x):
        return self.to_rgb(x, torch.zeros_like(x).expand(-1, 2, -1, -1))


class RgbSpace(ColorSpace):
    """Predict RGB from gray: input is the luma in [-1,1], target RGB in [-1,1]."""

    name, out_channels = "rgb", 3

    def split(self, batch):
        rgb = batch.as_rgb()
        gray = luma(rgb if batch.degraded is None else batch.input_rgb())
        return gray * 2 - 1, rgb * 2 - 1

    def input_from_gray(self, gray):
        return gray * 2 - 1

    def to_rgb(self, x, y):
        return ((y.float() + 1) / 2).clamp(0, 1)


COLOR_SPACES: dict[str, type[ColorSpace]] = {"lab": LabSpace, "rgb": RgbSpace}


def get_color_space(name: str) -> ColorSpace:
    """Look up a color space by its config name."""
    try:
        return COLOR_SPACES[name]()
    except KeyError:
        raise ValueError(
            f"unknown color space {name!r}; expected one of {sorted(COLOR_SPACES)}"
        ) from None


def lab_to_rgb_uint8(lab: np.ndarray) -> np.ndarray:
    """float LAB [H, W, 3] (L in [0, 100]) -> uint8 sRGB [H, W, 3], out-of-gamut colors clipped."""
    rgb = cv2.cvtColor(np.ascontiguousarray(lab, np.float32), cv2.COLOR_Lab2RGB)
    return (np.clip(rgb, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def luminance_pt(rgb: torch.Tensor) -> torch.Tensor:
    """:func:`luminance` for tensors: sRGB [B, 3, H, W] in [0, 1] -> gray [B, 1, H, W] of equal Y."""
    w = rgb.new_tensor(LUMINANCE_WEIGHTS).view(1, 3, 1, 1)
    return linear_to_srgb_pt((srgb_to_linear_pt(rgb.clamp(0.0, 1.0)) * w).sum(1, keepdim=True))
