"""How fast this machine can do arithmetic at all: a large matrix product in fp32 and, where the
hardware computes it natively, bf16.

Speeds quoted from elsewhere are only comparable on the same hardware. With the FLOPs of a step
(:func:`revive.bench.pix2pix.pix2pix_step_gflop`), these ceilings turn images/s into a share of
what the machine can do, which says whether a quoted number can have come from it. Emulated bf16
(a CPU without AVX-512 BF16 or AMX) is not a ceiling anyone trains at, and one emulated product
can take minutes, so it is not measured; every measurement is bounded in time.
"""

from __future__ import annotations

from typing import Any

import torch

from revive import hardware
from revive.bench.common import Clock, default_device, significant

MATMUL_SIZE = 2048
MAX_REPEATS = 8


def matmul_gflops(dtype: torch.dtype, budget_s: float = 2.0) -> float:
    """GFLOP/s of a 2048² matrix product in ``dtype``: a practical ceiling for convolutions.

    One product is timed first (after a warm-up); the timed loop then repeats it as often as
    fits in ``budget_s`` (1 to 8 times), so a slow machine spends seconds here, not minutes.
    """
    device = default_device()
    a, b = (torch.randn(MATMUL_SIZE, MATMUL_SIZE, device=device, dtype=dtype) for _ in "ab")
    a @ b
    clock = Clock(device)
    clock.start()
    a @ b
    clock.stop()
    repeats = max(1, min(MAX_REPEATS, int(budget_s / clock.seconds)))
    clock.start()
    for _ in range(repeats):
        a @ b
    clock.stop()
    return 2 * MATMUL_SIZE**3 * repeats / clock.seconds / 1e9


def bf16_is_native(device: torch.device) -> bool:
    """Whether ``device`` has bf16 instructions (else bf16 is emulated and not worth timing)."""
    if device.type == "cuda":
        return hardware.cuda_has_native_bf16(device.index or 0)
    return device.type == "cpu" and hardware.cpu_has_native_bf16()


def measure_ceilings() -> dict[str, Any]:
    """This machine's matrix-product GFLOP/s in fp32, and in bf16 where native (child process)."""
    ceilings: dict[str, Any] = {"fp32": significant(matmul_gflops(torch.float32), 3)}
    if bf16_is_native(default_device()):
        ceilings["bf16"] = significant(matmul_gflops(torch.bfloat16), 3)
    return ceilings
