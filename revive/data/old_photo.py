"""Old-photo degradations: make a clean photo look like an aged, scanned print.

After Bringing-Old-Photos-Back-to-Life and Real-ESRGAN: a network trained on clean photos meets
real scans that are blurred, grainy, faded, yellowed, dusty and scratched, so training inputs are
degraded the same way while the targets stay clean. Each operation has its own probability and
ranges (``conf/degrade/old_photo.yaml``), and the order follows a print's life: the print ages
(cast, fading, dust, spots, scratches, vignette), then it is scanned (blur, resolution loss,
grain and noise, JPEG).

Albumentations does every step except three it has no operation for: a raised black level,
thin scratches and a vignette, written here as albumentations transforms so that the one seeded
generator of the pipeline drives them too. Stains are also ours (Spatter is RGB-only and slow),
and Defocus is the library's with its kernel cut to size.

For a colorizer (``gray=True``) the photo becomes a one-channel gray scan right after the color
cast, and the other steps work on that: a third of the work, which keeps one loader worker
above 200 degraded 256x256 samples/s (``revive-bench benchmark=data_old_photo``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

import albumentations as A
import albumentations.augmentations.pixel.functional as fpixel
import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from revive.batch import ColorBatch, DenoiseBatch
from revive.color import lab_to_rgb_uint8, luminance_uint8

DEGRADES = ("old_photo",)


class RaiseBlackLevel(A.ImageOnlyTransform):
    """Lift the blacks to a gray floor ``b``: ``b + (1 - b) * x``, as faded prints do."""

    def __init__(self, black_range: tuple[float, float] = (0.0, 0.15), p: float = 0.5) -> None:
        super().__init__(p=p)
        self.black_range = tuple(black_range)

    def get_params_dependent_on_data(self, params: dict, data: dict) -> dict[str, float]:
        return {"black": self.py_random.uniform(*self.black_range)}

    def apply(self, img: np.ndarray, black: float = 0.0, **params: Any) -> np.ndarray:
        lifted = black * 255.0 + (1.0 - black) * img.astype(np.float32)
        return np.clip(lifted + 0.5, 0, 255).astype(np.uint8)


class Scratches(A.ImageOnlyTransform):
    """Thin light lines, nearly vertical, over part of the height (scratched emulsion)."""

    def __init__(
        self,
        count_range: tuple[int, int] = (1, 4),
        width_range: tuple[int, int] = (1, 2),
        brightness_range: tuple[int, int] = (180, 255),
        p: float = 0.5,
    ) -> None:
        super().__init__(p=p)
        self.count_range, self.width_range = tuple(count_range), tuple(width_range)
        self.brightness_range = tuple(brightness_range)

    def get_params_dependent_on_data(self, params: dict, data: dict) -> dict[str, list]:
        height, width = params["shape"][:2]
        rng = self.py_random
        lines = []
        for _ in range(rng.randint(*self.count_range)):
            x0, y0 = rng.uniform(0, width), rng.uniform(0, height)
            length = rng.uniform(0.2, 1.0) * height
            slant = rng.uniform(-0.1, 0.1) * length
            end = (x0 + slant, min(height - 1.0, y0 + length))
            value = rng.randint(*self.brightness_range)
            lines.append(((x0, y0), end, rng.randint(*self.width_range), value))
        return {"lines": lines}

    def apply(self, img: np.ndarray, lines: list = (), **params: Any) -> np.ndarray:
        out = np.ascontiguousarray(img).copy()
        for start, end, thickness, value in lines:
            p0 = (round(start[0]), round(start[1]))
            p1 = (round(end[0]), round(end[1]))
            cv2.line(out, p0, p1, (value,) * out.shape[-1], thickness, cv2.LINE_AA)
        return out


class Vignette(A.ImageOnlyTransform):
    """Corners darker than the center by ``strength`` (1 - strength * r², r = 1 at a corner)."""

    def __init__(self, strength_range: tuple[float, float] = (0.1, 0.5), p: float = 0.5) -> None:
        super().__init__(p=p)
        self.strength_range = tuple(strength_range)

    def get_params_dependent_on_data(self, params: dict, data: dict) -> dict[str, float]:
        return {"strength": self.py_random.uniform(*self.strength_range)}

    def apply(self, img: np.ndarray, strength: float = 0.0, **params: Any) -> np.ndarray:
        height, width = img.shape[:2]
        ys = np.linspace(-1.0, 1.0, height, dtype=np.float32)[:, None] ** 2
        xs = np.linspace(-1.0, 1.0, width, dtype=np.float32)[None, :] ** 2
        gain = 1.0 - strength * (ys + xs) / 2.0
        shaded = img.astype(np.float32) * gain.reshape(height, width, *([1] * (img.ndim - 2)))
        return (shaded + 0.5).astype(np.uint8)


class Spots(A.ImageOnlyTransform):
    """Stains of mud or mold: soft blotches where a smooth random field is high, each pulling
    the print toward a dark brown by up to ``intensity``.

    albumentations' Spatter draws such stains but only on RGB, and at 4 ms per 256x256 image;
    stains are smooth, so the field here is drawn at a quarter of the size and enlarged, and it
    darkens gray scans and color prints alike.
    """

    MUD = np.array([[[96, 64, 36]]], np.uint8)  # RGB of a stain
    MUD_GRAY = luminance_uint8(MUD)[..., None]  # its gray, for gray images
    SHRINK = 4

    def __init__(
        self,
        intensity_range: tuple[float, float] = (0.2, 0.5),
        coverage_range: tuple[float, float] = (0.01, 0.06),
        p: float = 0.5,
    ) -> None:
        super().__init__(p=p)
        self.intensity_range, self.coverage_range = tuple(intensity_range), tuple(coverage_range)

    def get_params_dependent_on_data(self, params: dict, data: dict) -> dict[str, Any]:
        height, width = params["shape"][:2]
        small = (max(2, -(-height // self.SHRINK)), max(2, -(-width // self.SHRINK)))
        field = self.random_generator.standard_normal(small, dtype=np.float32)
        field = cv2.GaussianBlur(field, (0, 0), sigmaX=self.py_random.uniform(1.5, 3.0))
        # Stains where the field is in its top ``coverage`` fraction, with soft edges.
        coverage = self.py_random.uniform(*self.coverage_range)
        level = np.quantile(field, 1.0 - coverage)
        soft = np.clip((field - level) / (0.5 * field.std() + 1e-6) + 0.5, 0.0, 1.0)
        alpha = cv2.resize(soft, (width, height), interpolation=cv2.INTER_LINEAR)
        return {"alpha": alpha * self.py_random.uniform(*self.intensity_range)}

    def apply(self, img: np.ndarray, alpha: np.ndarray | None = None, **params: Any):
        if alpha is None:
            return img
        mud = (self.MUD_GRAY if img.shape[-1] == 1 else self.MUD)[0, 0]
        alpha = alpha[..., None]
        stained = img.astype(np.float32) * (1.0 - alpha) + mud * alpha
        return (stained + 0.5).astype(np.uint8)


class Defocus(A.Defocus):
    """albumentations' Defocus with its kernel cut down to where it is not zero.

    The library pads the disk to 17x17 whatever its radius, so that a radius of 1 to 3 costs
    ten times the arithmetic (and cv2 switches to a DFT); the non-zero part gives the same blur.
    """

    def apply(self, img: np.ndarray, radius: int = 3, alias_blur: float = 0.1, **params: Any):
        half = max(8, radius)
        xs, ys = np.meshgrid(np.arange(-half, half + 1), np.arange(-half, half + 1))
        disk = (xs**2 + ys**2 <= radius**2).astype(np.float32)
        ksize = 3 if radius <= 8 else 5
        kernel = cv2.GaussianBlur(disk / disk.sum(), (ksize, ksize), sigmaX=alias_blur)
        reach = min(radius + ksize // 2, half)  # the Gaussian spreads the disk by ksize // 2
        kernel = kernel[half - reach : half + reach + 1, half - reach : half + reach + 1]
        return fpixel.convolve(img, kernel=kernel)


def _range(values: Any) -> tuple:
    return tuple(values)


def _cast(k: Mapping) -> A.BasicTransform:
    # ToSepia, or a yellowed cast (red and green up, blue down), before any gray conversion.
    yellow = A.RGBShift(
        r_shift_limit=_range(k["yellow"]),
        g_shift_limit=(k["yellow"][0] / 2, k["yellow"][1] / 2),
        b_shift_limit=(-k["yellow"][1], -k["yellow"][0]),
        p=1.0,
    )
    return A.OneOf([A.ToSepia(p=1.0), yellow], p=k["p"])


def _fade(k: Mapping) -> A.BasicTransform:
    return A.Sequential(
        [
            A.RandomBrightnessContrast(
                brightness_limit=0.0, contrast_limit=_range(k["contrast"]), p=1.0
            ),
            A.RandomGamma(gamma_limit=_range(k["gamma"]), p=1.0),
            RaiseBlackLevel(_range(k["black"]), p=1.0),
        ],
        p=k["p"],
    )


def _dust(k: Mapping) -> A.BasicTransform:
    def specks(fill: int) -> A.CoarseDropout:
        return A.CoarseDropout(
            num_holes_range=_range(k["count"]),
            hole_height_range=_range(k["size"]),
            hole_width_range=_range(k["size"]),
            fill=fill,
            p=1.0,
        )

    return A.OneOf([specks(255), specks(0)], p=k["p"])  # dust on the negative, or on the glass


def _spots(k: Mapping) -> A.BasicTransform:
    return Spots(_range(k["intensity"]), _range(k["coverage"]), p=k["p"])


def _scratches(k: Mapping) -> A.BasicTransform:
    return Scratches(_range(k["count"]), _range(k["width"]), p=k["p"])


def _vignette(k: Mapping) -> A.BasicTransform:
    return Vignette(_range(k["strength"]), p=k["p"])


def _blur(k: Mapping) -> A.BasicTransform:
    # OneOf picks by these weights: Defocus costs a few times a Gaussian blur's time.
    return A.OneOf(
        [
            A.GaussianBlur(sigma_limit=_range(k["gaussian_sigma"]), p=0.4),
            Defocus(radius=_range(k["defocus_radius"]), alias_blur=(0.1, 0.3), p=0.2),
            A.MotionBlur(blur_limit=_range(k["motion_kernel"]), p=0.4),
        ],
        p=k["p"],
    )


def _downscale(k: Mapping) -> A.BasicTransform:
    pair = {"downscale": cv2.INTER_AREA, "upscale": cv2.INTER_LINEAR}
    return A.Downscale(scale_range=_range(k["scale"]), interpolation_pair=pair, p=k["p"])


def _grain(k: Mapping) -> A.BasicTransform:
    # Film grain: one gray noise field for all channels, in clumps (drawn at reduced size).
    return A.GaussNoise(
        std_range=_range(k["std"]), per_channel=False, noise_scale_factor=k["clump"], p=k["p"]
    )


def _gaussian_noise(k: Mapping) -> A.BasicTransform:
    return A.GaussNoise(std_range=_range(k["std"]), per_channel=True, p=k["p"])


def _poisson_noise(k: Mapping) -> A.BasicTransform:
    return A.ShotNoise(scale_range=_range(k["scale"]), p=k["p"])


def _jpeg(k: Mapping) -> A.BasicTransform:
    return A.ImageCompression(quality_range=_range(k["quality"]), p=k["p"])


# The operations in the order they apply, by their key in the config.
OPERATIONS: dict[str, Callable[[Mapping], A.BasicTransform]] = {
    "cast": _cast,
    "fade": _fade,
    "dust": _dust,
    "spots": _spots,
    "scratches": _scratches,
    "vignette": _vignette,
    "blur": _blur,
    "downscale": _downscale,
    "grain": _grain,
    "gaussian_noise": _gaussian_noise,
    "poisson_noise": _poisson_noise,
    "jpeg": _jpeg,
}
COLOR_ONLY = ("cast",)  # operations that need RGB (a cast has no meaning on one channel)


class ToLuminanceGray(A.ImageOnlyTransform):
    """RGB -> the one-channel gray a black-and-white scan records: the gray of equal CIE Y,
    which is how ``predict.py`` and ``eval.py`` gray a photo before a colorizer sees it."""

    def __init__(self) -> None:
        super().__init__(p=1.0)

    def apply(self, img: np.ndarray, **params: Any) -> np.ndarray:
        return luminance_uint8(img)[..., None]


def _step(name: str, k: Mapping[str, Any] | None, channels: int) -> A.BasicTransform | None:
    """Operation ``name`` from its knobs; ``None`` when it is off (no knobs or ``p: 0``)."""
    if not k or not k.get("p"):
        return None
    if not 0.0 <= k["p"] <= 1.0:
        raise ValueError(f"data.degradations.{name}.p={k['p']} is not a probability")
    if channels == 1 and name in COLOR_ONLY:
        raise ValueError(
            f"data.degradations.{name} needs RGB images; set data.degradations.{name}.p=0"
        )
    try:
        return OPERATIONS[name](k)
    except KeyError as e:
        raise ValueError(f"data.degradations.{name} lacks the knob {e}") from None


def old_photo_pipeline(
    knobs: Mapping[str, Mapping[str, Any]],
    seed: int | None = None,
    channels: int = 3,
    gray: bool = False,
) -> A.Compose:
    """The degradation pipeline for uint8 HxWxC images, from one knob set per operation.

    Operations with ``p: 0`` are left out; with ``channels=1`` the color cast must be off.
    ``gray=True`` (a colorizer's input) turns the RGB photo into the gray of a black-and-white
    scan right after the color cast, and every later step works on that one channel: the
    colorizer is only ever given that gray, and a third of the pixels cost a third of the time.
    The output is then HxWx1.
    """
    unknown = sorted(set(knobs) - set(OPERATIONS))
    if unknown:
        raise ValueError(f"unknown degradation(s) {unknown}; known: {list(OPERATIONS)}")
    if gray and channels != 3:
        raise ValueError("a gray scan is taken from RGB photos (channels=3)")
    color = [_step(name, knobs.get(name), channels) for name in OPERATIONS if name in COLOR_ONLY]
    rest = [
        _step(name, knobs.get(name), 1 if gray else channels)
        for name in OPERATIONS
        if name not in COLOR_ONLY
    ]
    steps = [*color, *([ToLuminanceGray()] if gray else []), *rest]
    return A.Compose([step for step in steps if step is not None], seed=seed)


def degradation(
    degrade: str | None,
    knobs: Mapping[str, Mapping[str, Any]] | None,
    seed: int | None = None,
    channels: int = 3,
    gray: bool = False,
) -> A.Compose | None:
    """``data.degrade``: ``None`` (clean inputs) or ``"old_photo"`` (``knobs`` per operation)."""
    if degrade is None:
        return None
    if degrade not in DEGRADES:
        raise ValueError(f"data.degrade={degrade!r} is unknown; use null or {DEGRADES}")
    if not knobs:
        raise ValueError("data.degrade=old_photo needs data.degradations (one knob set per step)")
    return old_photo_pipeline(knobs, seed, channels, gray)


class DegradedInputs(Dataset):
    """A dataset whose samples gain a degraded copy of their image; the clean one is untouched.

    A :class:`~revive.batch.ColorBatch` gains ``degraded``, uint8 [C, H, W]: the colorizer's
    input is taken from it, its target from the clean photo. With a ``gray`` pipeline
    (:func:`old_photo_pipeline`) C is 1: the degraded gray scan itself. A
    :class:`~revive.batch.DenoiseBatch` (``clean``, float in [0, 1]) gains ``noisy`` of the
    same form.
    """

    def __init__(self, dataset: Dataset, transform: A.Compose) -> None:
        self.dataset, self.transform = dataset, transform

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, index: int) -> ColorBatch | DenoiseBatch:
        sample = self.dataset[index]
        if isinstance(sample, DenoiseBatch):
            clean = (sample.clean.permute(1, 2, 0).numpy() * 255.0).round().astype(np.uint8)
            noisy = self.transform(image=clean)["image"].reshape(clean.shape)
            noisy = torch.from_numpy(noisy.transpose(2, 0, 1).astype(np.float32) / 255.0)
            return dataclasses.replace(sample, noisy=noisy)
        if sample.rgb is not None:
            image = cv2.merge(list(sample.rgb.numpy()))  # CHW -> HWC, 15x numpy's copy
        else:
            image = lab_to_rgb_uint8(sample.photo.permute(1, 2, 0).numpy())
        degraded = self.transform(image=image)["image"]
        degraded = torch.from_numpy(np.ascontiguousarray(degraded.transpose(2, 0, 1)))
        return dataclasses.replace(sample, degraded=degraded)
