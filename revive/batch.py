"""The batch: what every dataset yields, every DataLoader collates and every model trains on.

Two types, one per kind of model. Each is both one sample (tensors [C, H, W]) and a collated
batch (the same fields stacked, [B, C, H, W]); :func:`collate` turns the one into the other and
is every DataLoader's ``collate_fn``. Lightning moves a batch to the device field by field (it
walks dataclasses) and the DataLoader pins it through :meth:`Batch.pin_memory`.

- :class:`ColorBatch`, for colorizers: a clean color photo held as uint8 RGB *or* as float LAB
  (exactly one), optionally the degraded scan the colorizer is given instead
  (``data.degrade=old_photo``) and CycleGAN's unpaired gray scans.
- :class:`DenoiseBatch`, for denoisers: clean images in [0, 1], optionally their noisy copies
  drawn by the loader (``data.degrade=old_photo``).

Code asks a batch what it holds (``batch.degraded is not None``) and for the views it needs
(:meth:`ColorBatch.as_rgb`, :meth:`ColorBatch.as_lab`, :meth:`ColorBatch.input_rgb`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import kornia.color as kc
import torch
from torch.utils.data import default_collate

B = TypeVar("B", bound="Batch")


@dataclass(eq=False)  # tensors have no single truth value: a batch equals only itself
class Batch:
    """What both batch types share: validation, collation, pinning and the batch size."""

    def __post_init__(self) -> None:
        ranks = {t.ndim for t in self.tensors().values()}
        if len(ranks) != 1 or ranks - {3, 4}:
            shapes = {k: tuple(v.shape) for k, v in self.tensors().items()}
            raise ValueError(
                f"{type(self).__name__} tensors are all [C, H, W] (a sample) or all "
                f"[B, C, H, W] (a batch), got {shapes}"
            )

    def tensors(self) -> dict[str, torch.Tensor]:
        """The fields this batch holds (those that are not ``None``), by name."""
        return {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if getattr(self, f.name) is not None
        }

    def map(self: B, function: Callable[[torch.Tensor], torch.Tensor]) -> B:
        """A batch of the same type with ``function`` applied to every tensor it holds."""
        return dataclasses.replace(self, **{k: function(v) for k, v in self.tensors().items()})

    def pin_memory(self: B) -> B:
        """Page-locked copies, for ``DataLoader(pin_memory=True)``: torch pins any object with
        this method, and Lightning's non-blocking copies to the GPU need pinned memory."""
        return self.map(torch.Tensor.pin_memory)

    def __len__(self) -> int:
        """Images in a collated batch (the first dimension of its tensors)."""
        return next(iter(self.tensors().values())).shape[0]


def _check(name: str, tensor: torch.Tensor | None, floating: bool, channels: tuple[int, ...]):
    """A clear error when a field has the wrong dtype or channel count."""
    if tensor is None:
        return
    if not isinstance(tensor, torch.Tensor):
        raise TypeError(f"{name} must be a tensor, got {type(tensor).__name__}")
    if tensor.is_floating_point() != floating or (not floating and tensor.dtype != torch.uint8):
        want = "a float tensor" if floating else "uint8"
        raise TypeError(f"{name} must be {want}, got {tensor.dtype}")
    if tensor.ndim < 3 or tensor.shape[-3] not in channels:
        raise ValueError(
            f"{name} must have {' or '.join(map(str, channels))} channels ([C, H, W] or "
            f"[B, C, H, W]), got shape {tuple(tensor.shape)}"
        )


@dataclass(eq=False)
class ColorBatch(Batch):
    """A colorizer's sample or batch: the clean color photo (the target), and what else the
    loader drew for it. Shapes are [C, H, W] for one sample, [B, C, H, W] for a batch."""

    rgb: torch.Tensor | None = None
    """The clean photo as sRGB, uint8 [3, H, W] in [0, 255] (image files); or ``None``."""
    lab: torch.Tensor | None = None
    """The clean photo as CIE LAB, float32 [3, H, W]: L* in [0, 100], a*b* in [-128, 127]
    (the Image Colorization arrays, stored as LAB: no lossy round trip through 8-bit RGB)."""
    degraded: torch.Tensor | None = None
    """The old-scan copy of the photo that the colorizer's input is taken from instead
    (``data.degrade=old_photo``, training only), uint8 [C, H, W] with C = 1 (the gray scan) or
    3 (RGB); ``None`` when the input comes from the clean photo."""
    scans: torch.Tensor | None = None
    """CycleGAN's domain A, gray scans unpaired with the photo, uint8 RGB [3, H, W] as read;
    ``None`` except in ``data=unpaired`` training batches."""

    def __post_init__(self) -> None:
        if (self.rgb is None) == (self.lab is None):
            raise ValueError(
                "a ColorBatch holds its photo as rgb (uint8) or as lab (float), exactly one; got "
                + ("both" if self.rgb is not None else "neither")
            )
        _check("rgb", self.rgb, floating=False, channels=(3,))
        _check("lab", self.lab, floating=True, channels=(3,))
        _check("degraded", self.degraded, floating=False, channels=(1, 3))
        _check("scans", self.scans, floating=False, channels=(3,))
        super().__post_init__()

    @property
    def photo(self) -> torch.Tensor:
        """The clean photo as held: ``rgb`` or ``lab``."""
        return self.rgb if self.rgb is not None else self.lab  # type: ignore[return-value]

    def as_rgb(self) -> torch.Tensor:
        """The clean photo as float sRGB in [0, 1] (LAB converted, out-of-gamut clipped)."""
        if self.rgb is not None:
            return self.rgb.float().div_(255.0)
        return kc.lab_to_rgb(self.photo.float(), clip=True)

    def as_lab(self) -> torch.Tensor:
        """The clean photo as float LAB (L* in [0, 100]); stored LAB as it is."""
        if self.lab is not None:
            return self.lab.float()
        return kc.rgb_to_lab(self.as_rgb())

    def input_rgb(self) -> torch.Tensor:
        """Float sRGB in [0, 1] of what the colorizer's input is made from: the degraded scan
        when the batch has one, else the clean photo. A one-channel scan is read as the
        equal-RGB gray, whose LAB L* and 601 luma are the scan's own gray, as when
        ``predict.py`` revives a gray photo."""
        if self.degraded is None:
            return self.as_rgb()
        scan = self.degraded
        if scan.shape[-3] == 1:
            scan = scan.expand(*scan.shape[:-3], 3, *scan.shape[-2:])
        return scan.float().div_(255.0)

    def scan_photos(self) -> ColorBatch:
        """CycleGAN's domain A as a batch of its own (the scans as RGB photos)."""
        if self.scans is None:
            raise ValueError(
                "this batch holds no unpaired scans (CycleGAN trains on data=unpaired)"
            )
        return ColorBatch(rgb=self.scans)


@dataclass(eq=False)
class DenoiseBatch(Batch):
    """A denoiser's sample or batch: clean images and, when the loader draws it, their noise."""

    clean: torch.Tensor
    """Clean images, float32 [C, H, W] in [0, 1], C = 1 (gray) or 3 (RGB)."""
    noisy: torch.Tensor | None = None
    """The same images degraded by the loader (``data.degrade=old_photo``), float32 like
    ``clean``; ``None`` when the model draws Gaussian noise itself, on the device."""

    def __post_init__(self) -> None:
        _check("clean", self.clean, floating=True, channels=(1, 3))
        _check("noisy", self.noisy, floating=True, channels=(1, 3))
        if self.noisy is not None and self.noisy.shape != self.clean.shape:
            raise ValueError(
                f"noisy {tuple(self.noisy.shape)} and clean {tuple(self.clean.shape)} differ"
            )
        super().__post_init__()


def collate(samples: Sequence[B]) -> B:
    """One batch from samples of one type (every DataLoader's ``collate_fn``): each field
    stacked as torch's ``default_collate`` stacks tensors (in a loader worker, straight into
    shared memory), or ``None`` when no sample holds it."""
    if not samples:
        raise ValueError("collate needs at least one sample")
    kind = type(samples[0])
    if any(type(s) is not kind for s in samples):
        raise TypeError(f"one batch mixes {sorted({type(s).__name__ for s in samples})}")
    fields: dict[str, torch.Tensor | None] = {}
    for field in dataclasses.fields(kind):
        values = [getattr(s, field.name) for s in samples]
        held = sum(v is not None for v in values)
        if 0 < held < len(values):
            raise ValueError(f"{held} of {len(values)} samples hold {field.name}: all or none")
        fields[field.name] = default_collate(values) if held else None
    return kind(**fields)
