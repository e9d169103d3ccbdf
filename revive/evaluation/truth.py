"""Which test photos hold a color truth: a gray file, a gray picture or a toned print does not.

A colorizer is scored against the photo's own colors; a photo without any (a gray scan, a sepia
print) gets only the colorfulness of its output, with the reason it holds no truth.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from revive.evaluation.metrics import colorfulness_8bit
from revive.io import GRAY_MODES, to_rgb

# Below this Hasler–Süsstrunk colorfulness (0-255 scale) a color file is a gray picture: JPEG
# chroma noise on a gray photo stays under 1, while Hasler & Süsstrunk's least colorful class of
# real photos ("not colorful") starts at 0 and "slightly colorful" at 15.
GRAY_COLORFULNESS = 2.0


# A toned print (sepia, cyanotype) is no truth for colors: its chroma has one hue, and it is set
# by the lightness alone. Both must hold (measured on scikit-image's photos toned sepia or blue,
# PNG and JPEG q75, and on CBSD68): hue concentration 0.992-0.9999 toned, 0.877-0.984 for
# untoned scenes but 0.992-0.998 for three CBSD68 photos of one dominant hue (lake, sand,
# grass); chroma spread at equal L* 0.2-2.6 toned, 6.3-19 untoned, except 1.7 for CBSD68's
# snake on sand (196073), which is therefore read as toned.
TONED_HUE_CONCENTRATION = 0.99


TONED_CHROMA_SPREAD = 3.0


# Modes that hold no color at all, whatever the pixels.
NO_COLOR_MODES = (*GRAY_MODES, "LA", "1")


def truth_of(img: Image.Image) -> tuple[np.ndarray | None, str]:
    """The photo's own colors as uint8 RGB, or None and why it holds no truth."""
    if img.mode in NO_COLOR_MODES:
        return None, f"gray file (mode {img.mode})"
    rgb = to_rgb(img)
    cf = colorfulness_8bit(rgb)
    if cf < GRAY_COLORFULNESS:
        return None, f"gray picture (colorfulness {cf:.2f} < {GRAY_COLORFULNESS})"
    concentration, spread = tone_measures(rgb)
    if concentration > TONED_HUE_CONCENTRATION and spread < TONED_CHROMA_SPREAD:
        return None, (
            f"toned print (one hue: concentration {concentration:.3f}; chroma set by L*: "
            f"spread {spread:.2f})"
        )
    return rgb, ""


def tone_measures(rgb: np.ndarray) -> tuple[float, float]:
    """(hue concentration, chroma spread at equal lightness) of a uint8 RGB image.

    Hue concentration: |sum of the a*b* vectors| / sum of their lengths; 1.0 when every colored
    pixel has the same hue. Chroma spread: the RMS deviation of a*b* from their mean within
    each of 64 bands of L*; near 0 when the color is a function of the lightness, as in a print
    toned after it was made.
    """
    import kornia.color as kc

    tensor = torch.from_numpy(np.array(rgb, np.float32)).permute(2, 0, 1) / 255.0
    lab = kc.rgb_to_lab(tensor).flatten(1).double()
    lightness, ab = lab[0], lab[1:]
    total = ab.norm(dim=0).sum()
    concentration = float(ab.sum(1).norm() / total) if total > 0 else 0.0
    bands = (lightness * 0.64).long().clamp(0, 63)
    counts = torch.bincount(bands, minlength=64).clamp(min=1).double()
    mean = torch.stack([torch.bincount(bands, c, 64) for c in ab]) / counts
    spread = float((ab - mean[:, bands]).pow(2).sum(0).mean().sqrt())
    return concentration, spread


def cut_to_multiple(img: Image.Image, scale: int) -> Image.Image:
    """The top-left part of ``img`` whose sides are multiples of ``scale``."""
    width, height = img.size
    if width < scale or height < scale:
        raise ValueError(f"{width}x{height} is smaller than the upscaler's scale {scale}")
    return img.crop((0, 0, width - width % scale, height - height % scale))
