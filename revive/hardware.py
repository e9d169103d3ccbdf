"""What this machine computes well: the device ``auto`` means, and whether bf16 is native.

Every entry point that takes ``device=auto`` (``predict.py``, ``eval.py``, ``compare``, the
benchmarks) and ``trainer.precision: auto`` ask here, so the rule lives in one place: a CUDA GPU,
else Apple's MPS, else the CPU; bf16 where the hardware has bf16 instructions (a CPU with
AVX-512 BF16 or AMX, a CUDA GPU of compute capability 8.0 or newer), fp32 everywhere else, where
bf16 would be emulated and slower than fp32.
"""

from __future__ import annotations

from typing import Any

import torch

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
    """``"cuda"``, ``"mps"``, ``"cpu"`` or another torch device type for a device or a Trainer's
    ``accelerator`` name (``auto``: a CUDA GPU, else Apple's MPS, else the CPU)."""
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


def resolve_device(name: str) -> torch.device:
    """``auto`` (see :func:`device_type`), ``cpu``, ``cuda[:N]`` or ``mps`` as a torch device.

    Raises ValueError, with what to use instead, for a name that is not a device or a device
    this machine does not have.
    """
    name = str(name)
    if name.lower() == AUTO:
        return torch.device(device_type(AUTO))
    try:
        device = torch.device(name)
    except RuntimeError as e:
        raise ValueError(f"device={name!r} is not a device ({e}); use auto, cpu or cuda[:N]") from e
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={name} but PyTorch sees no CUDA GPU; use device=auto or cpu")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"device={name} but this machine has no MPS; use device=auto or cpu")
    return device


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
