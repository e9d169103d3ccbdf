"""The Trainer with the speed settings that keep results: the precision a machine trains fastest
in, and the host allocator's reuse of freed memory.

``trainer.precision: auto`` (the default in ``conf/trainer/default.yaml``) trains in
``bf16-mixed`` where the hardware computes bf16 natively (a CPU with AVX-512 BF16 or AMX, a
CUDA GPU of compute capability 8.0 or newer) and in ``32-true`` everywhere else, where bf16
would be emulated and slower than fp32. Mixed precision keeps the weights and the optimizer in
fp32; only the convolutions run in bf16 (see ``revive.bench`` and the README's performance
section for what that buys and the check that quality holds).
"""

from __future__ import annotations

import ctypes
import logging
import platform
import sys
from typing import Any

import lightning as L

from revive.hardware import AUTO, device_type, resolve_precision

log = logging.getLogger(__name__)

# glibc's mallopt parameters (malloc.h)
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3


def reuse_freed_memory() -> bool:
    """Have glibc keep freed host memory for reuse instead of handing it back to the kernel.

    A training step frees and allocates the same large buffers (activations, gradients) every
    step. By default glibc maps each buffer over 128 KiB to fresh pages and unmaps it when it is
    freed, so every step pays the page faults of zeroing them again: about a tenth of a Pix2Pix
    step on a 2-core CPU (``revive-bench benchmark=pix2pix_step``). Here blocks up to 1 GiB come
    from the heap and the heap is not trimmed, so the process stays at its peak RSS, which
    training reaches anyway. Returns whether the setting took (False off glibc).
    """
    if not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc":
        return False
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    return bool(mallopt(M_MMAP_THRESHOLD, 1 << 30)) and bool(mallopt(M_TRIM_THRESHOLD, 2**31 - 1))


def make_trainer(
    precision: str | int | None = AUTO,
    accelerator: str | Any = AUTO,
    benchmark: bool | None = None,
    deterministic: bool | str | None = None,
    reuse_host_memory: bool = True,
    **kwargs: Any,
) -> L.Trainer:
    """``lightning.Trainer`` with ``precision="auto"`` resolved for this machine.

    ``benchmark=None`` turns cuDNN's autotuner on unless the run asks to be deterministic
    (it picks the fastest convolution algorithm for each input shape; a no-op on CPU).
    ``reuse_host_memory`` is not applied here: it changes the whole process, so the training
    command applies it (:func:`revive.training.cli.prepare_process`) before anything is built.
    """
    del reuse_host_memory  # the entry point's setting, kept in the trainer group beside the rest
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
