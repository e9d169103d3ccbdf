"""How fast this machine can do arithmetic at all: a large matrix product in fp32 and bf16.

Speeds quoted from elsewhere are only comparable on the same hardware. With the FLOPs of a step
(:func:`revive.bench.pix2pix.pix2pix_step_gflop`), these ceilings turn images/s into a share of
what the machine can do, which says whether a quoted number can have come from it.
"""

from __future__ import annotations

from typing import Any

import torch

from revive.bench.common import Clock, default_device, significant

MATMUL_SIZE = 2048


def matmul_gflops(dtype: torch.dtype, repeats: int = 8) -> float:
    """GFLOP/s of a 2048² matrix product in ``dtype``: a practical ceiling for convolutions."""
    device = default_device()
    a, b = (torch.randn(MATMUL_SIZE, MATMUL_SIZE, device=device, dtype=dtype) for _ in "ab")
    for _ in range(2):
        a @ b
    clock = Clock(device)
    clock.start()
    for _ in range(repeats):
        a @ b
    clock.stop()
    return 2 * MATMUL_SIZE**3 * repeats / clock.seconds / 1e9


def measure_ceilings() -> dict[str, Any]:
    """This machine's matrix-product GFLOP/s in fp32 and bf16 (child process)."""
    return {
        "fp32": significant(matmul_gflops(torch.float32), 3),
        "bf16": significant(matmul_gflops(torch.bfloat16), 3),
    }
