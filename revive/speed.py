"""Speed settings that keep results: the precision a machine trains fastest in, and the Trainer.

``trainer.precision: auto`` (the default in ``conf/trainer/default.yaml``) trains in
``bf16-mixed`` where the hardware computes bf16 natively (a CPU with AVX-512 BF16 or AMX, a
CUDA GPU of compute capability 8.0 or newer) and in ``32-true`` everywhere else, where bf16
would be emulated and slower than fp32. Mixed precision keeps the weights and the optimizer in
fp32; only the convolutions run in bf16 (see ``revive.bench`` and the README's performance
section for what that buys and the check that quality holds).
"""

from __future__ import annotations

import logging
from typing import Any

import lightning as L
import torch

log = logging.getLogger(__name__)

AUTO = "auto"
BF16 = "bf16-mixed"
FP32 = "32-true"


def cpu_has_native_bf16() -> bool:
    """True when this CPU has bf16 instructions (AVX-512 BF16 or AMX tiles)."""
    for probe in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"):
        check = getattr(torch.cpu, probe, None)
        if check is not None and check():
            return True
    return False


def cuda_has_native_bf16(device: int = 0) -> bool:
    """True on Ampere (compute capability 8.0) and newer, where bf16 runs on tensor cores."""
    return torch.cuda.is_available() and torch.cuda.get_device_capability(device) >= (8, 0)


def device_type(accelerator: str | Any = AUTO) -> str:
    """``"cuda"``, ``"cpu"`` or another torch device type for a Trainer's ``accelerator``."""
    name = str(accelerator).lower() if isinstance(accelerator, str) else AUTO
    if name in ("gpu", "cuda"):
        return "cuda"
    if name == AUTO:
        if torch.cuda.is_available():
            return "cuda"
        if torch.backends.mps.is_available():
            return "mps"
        return "cpu"
    return name


def resolve_precision(precision: str | int | None = AUTO, accelerator: str | Any = AUTO) -> str:
    """The Lightning precision for ``precision``: anything but ``"auto"`` passes through."""
    if precision is None or str(precision) != AUTO:
        return precision
    device = device_type(accelerator)
    if device == "cuda" and cuda_has_native_bf16():
        return BF16
    if device == "cpu" and cpu_has_native_bf16():
        return BF16
    return FP32


def make_trainer(
    precision: str | int | None = AUTO,
    accelerator: str | Any = AUTO,
    benchmark: bool | None = None,
    deterministic: bool | str | None = None,
    **kwargs: Any,
) -> L.Trainer:
    """``lightning.Trainer`` with ``precision="auto"`` resolved for this machine.

    ``benchmark=None`` turns cuDNN's autotuner on unless the run asks to be deterministic
    (it picks the fastest convolution algorithm for each input shape; a no-op on CPU).
    """
    resolved = resolve_precision(precision, accelerator)
    if str(precision) == AUTO:
        log.info("trainer.precision=auto -> %s on %s", resolved, device_type(accelerator))
    if benchmark is None:
        benchmark = deterministic in (None, False)
    return L.Trainer(
        precision=resolved,
        accelerator=accelerator,
        benchmark=benchmark,
        deterministic=deterministic,
        **kwargs,
    )
