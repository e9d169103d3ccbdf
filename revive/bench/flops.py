"""How much arithmetic a Pix2Pix step is, and how fast this machine can do arithmetic at all.

Speeds quoted from elsewhere are only comparable on the same hardware. Counting the step's
floating-point operations (``torch.utils.flop_counter``, on meta tensors: nothing is computed)
and timing a large matrix product in fp32 and in bf16 turns images/s into a share of what the
machine can do, which says whether a quoted number can have come from it.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

from revive.bench.common import Clock, default_device, significant

MATMUL_SIZE = 2048


def pix2pix_step_gflop(size: int = 256) -> float:
    """GFLOP of one official Pix2Pix training step on one ``size``² LAB image (1 -> 2 channels):
    G forward and backward, D three times forward (fake, real, fake for G) and backward."""
    from revive.bench.pix2pix import OfficialStep, official_nets
    from revive.color import LabSpace

    space = LabSpace()
    with torch.device("meta"):
        generator, discriminator = official_nets()
        real_a = torch.empty(1, space.in_channels, size, size)
        real_b = torch.empty(1, space.out_channels, size, size)
    step = OfficialStep(generator.train(), discriminator.train())
    with FlopCounterMode(display=False) as counter:
        step(real_a, real_b)
    return counter.get_total_flops() / 1e9


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
