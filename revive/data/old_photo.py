"""Old-photo degradations: make a clean photo look like an aged, scanned print.

After Bringing-Old-Photos-Back-to-Life and Real-ESRGAN: a network trained on clean photos meets
real scans that are blurred, grainy, faded, yellowed, dusty and scratched, so training inputs are
degraded the same way while the targets stay clean. Each operation has its own probability and
ranges (``conf/degrade/old_photo.yaml``), and the order follows a print's life: the print ages
(cast, fading, dust, spots, scratches, vignette), then it is scanned (blur, resolution loss,
grain and noise, JPEG).

Albumentations does every step except three it has no operation for: a raised black level,
thin scratches and a vignette, written here as albumentations transforms so that the one seeded
generator of the pipeline drives them too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import albumentations as A
import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from revive.color import lab_to_rgb_uint8

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
    return A.Spatter(mode="mud", intensity=_range(k["intensity"]), p=k["p"])


def _scratches(k: Mapping) -> A.BasicTransform:
    return Scratches(_range(k["count"]), _range(k["width"]), p=k["p"])


def _vignette(k: Mapping) -> A.BasicTransform:
    return Vignette(_range(k["strength"]), p=k["p"])


def _blur(k: Mapping) -> A.BasicTransform:
    # OneOf picks by these weights: Defocus convolves with a 17x17 disk whatever its radius
    # (about 10x a Gaussian blur's time), so it is drawn less often to keep the loader fast.
    return A.OneOf(
        [
            A.GaussianBlur(sigma_limit=_range(k["gaussian_sigma"]), p=0.4),
            A.Defocus(radius=_range(k["defocus_radius"]), alias_blur=(0.1, 0.3), p=0.2),
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


def old_photo_pipeline(
    knobs: Mapping[str, Mapping[str, Any]], seed: int | None = None, channels: int = 3
) -> A.Compose:
    """The degradation pipeline for uint8 HxWxC images, from one knob set per operation.

    Operations with ``p: 0`` are left out; with ``channels=1`` the color cast must be off.
    """
    unknown = sorted(set(knobs) - set(OPERATIONS))
    if unknown:
        raise ValueError(f"unknown degradation(s) {unknown}; known: {list(OPERATIONS)}")
    steps = []
    for name, build in OPERATIONS.items():
        k = knobs.get(name)
        if not k or not k.get("p"):
            continue
        if not 0.0 <= k["p"] <= 1.0:
            raise ValueError(f"data.degradations.{name}.p={k['p']} is not a probability")
        if channels == 1 and name in COLOR_ONLY:
            raise ValueError(
                f"data.degradations.{name} needs RGB images; set data.degradations.{name}.p=0"
            )
        try:
            steps.append(build(k))
        except KeyError as e:
            raise ValueError(f"data.degradations.{name} lacks the knob {e}") from None
    return A.Compose(steps, seed=seed)


def degradation(
    degrade: str | None,
    knobs: Mapping[str, Mapping[str, Any]] | None,
    seed: int | None = None,
    channels: int = 3,
) -> A.Compose | None:
    """``data.degrade``: ``None`` (clean inputs) or ``"old_photo"`` (``knobs`` per operation)."""
    if degrade is None:
        return None
    if degrade not in DEGRADES:
        raise ValueError(f"data.degrade={degrade!r} is unknown; use null or {DEGRADES}")
    if not knobs:
        raise ValueError("data.degrade=old_photo needs data.degradations (one knob set per step)")
    return old_photo_pipeline(knobs, seed, channels)


class DegradedInputs(Dataset):
    """A dataset whose samples gain a degraded copy of their image; the clean one is untouched.

    ``rgb`` (uint8) or ``lab`` (float) samples gain ``degraded``, uint8 RGB [3, H, W]: the
    colorizer's input is taken from it, its target from the clean image. Denoising patches
    (``clean``, float in [0, 1]) gain ``noisy`` of the same form.
    """

    def __init__(self, dataset: Dataset, transform: A.Compose) -> None:
        self.dataset, self.transform = dataset, transform

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        sample = dict(self.dataset[index])
        if "clean" in sample:
            clean = (sample["clean"].permute(1, 2, 0).numpy() * 255.0).round().astype(np.uint8)
            noisy = self.transform(image=clean)["image"].reshape(clean.shape)
            sample["noisy"] = torch.from_numpy(noisy.transpose(2, 0, 1).astype(np.float32) / 255.0)
            return sample
        if "rgb" in sample:
            image = sample["rgb"].permute(1, 2, 0).numpy()
        else:
            image = lab_to_rgb_uint8(sample["lab"].permute(1, 2, 0).numpy())
        degraded = self.transform(image=np.ascontiguousarray(image))["image"]
        sample["degraded"] = torch.from_numpy(np.ascontiguousarray(degraded.transpose(2, 0, 1)))
        return sample
