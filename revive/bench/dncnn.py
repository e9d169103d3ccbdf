"""``dncnn_step`` (patches/s of a training step) and ``dncnn_infer`` (MP/s, eager vs BN-fused).

- **dncnn_step**: ours is ``Trainer.fit`` on the DnCNN module of ``model=dncnn`` with the default
  Trainer (see :mod:`revive.bench.fit`); the baseline is the plain fp32 step of cszn's PyTorch
  training (noise drawn on the device, loss ``||R(y) - v||^2 / 2N``, Adam), on 40x40 patches in
  batches of 128 as ``conf/data/denoise.yaml``.
- **dncnn_infer**: the 17-layer DnCNN-S in eval mode on 512x512 tiles (``predict.py``'s tile
  size): eager fp32 with its BatchNorm as separate layers (baseline) against what ``predict.py``
  runs: BatchNorm folded into the convolutions (``DnCNN.fuse_bn``) and the forward of
  :func:`revive.restore.forward.denoising_forward` in ``precision: auto`` (bf16 where native).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F

from revive.batch import DenoiseBatch
from revive.bench.common import default_device, paired_fields, run_in_turns, timed_steps
from revive.bench.fit import optimizer_name, time_fit, training_config
from revive.nets.dncnn import DnCNN
from revive.restore.forward import denoising_forward, inference_dtype

TARGET = "revive.bench.dncnn"
PATCH = 40
SIGMA = 25.0
TILE = 512


def patch_batches(count: int, batch_size: int, seed: int = 0) -> list[DenoiseBatch]:
    """Clean gray patches in [0, 1], as the denoising DataModule yields them."""
    rng = torch.Generator().manual_seed(seed)
    return [
        DenoiseBatch(clean=torch.rand(batch_size, 1, PATCH, PATCH, generator=rng))
        for _ in range(count)
    ]


def plain_step(device: torch.device) -> Callable[[DenoiseBatch], Any]:
    """cszn's DnCNN training step, plain eager fp32, on a batch of clean patches."""
    torch.manual_seed(0)
    net = DnCNN().to(device).train()
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)

    def step(batch: DenoiseBatch) -> None:
        clean = batch.clean.to(device)
        noise = torch.randn_like(clean) * (SIGMA / 255.0)
        loss = F.mse_loss(net(clean + noise), noise, reduction="sum") / (2 * clean.shape[0])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    return step


def measure_step_baseline(batch_size: int, steps: int, warmup: int) -> dict[str, Any]:
    """Seconds of each plain step (child process of :func:`run_in_turns`)."""
    device = default_device()
    return {
        "step_s": timed_steps(plain_step(device), patch_batches(warmup + steps, batch_size), device)
    }


def measure_step(
    batch_size: int, steps: int, warmup: int, overrides: Sequence[str] = ()
) -> dict[str, Any]:
    """Seconds of each step of ``Trainer.fit`` on the configured DnCNN module (child process of
    :func:`run_in_turns`)."""
    cfg = training_config(["model=dncnn", *overrides])
    seconds, _, trainer = time_fit(cfg, patch_batches(warmup + steps, batch_size))
    settings = f"{trainer.precision}, {optimizer_name(trainer.optimizers[0])}"
    return {"step_s": seconds, "settings": settings}


def dncnn_step(
    batch_size: int = 128,
    steps: int = 8,
    warmup: int = 2,
    repeats: int = 1,
    overrides: Sequence[str] = (),
) -> list[dict[str, Any]]:
    args = {"batch_size": batch_size, "steps": steps, "warmup": warmup}
    ours = (f"{TARGET}:measure_step", {**args, "overrides": list(overrides)})
    runs = [run_in_turns(ours, (f"{TARGET}:measure_step_baseline", args)) for _ in range(repeats)]
    return [
        {
            "name": "dncnn_step",
            "metric": "patches_per_s",
            "batch_size": batch_size,
            "patch_size": PATCH,
            **paired_fields("patches_per_s", runs, batch_size, warmup),
            "settings": runs[0][0]["settings"],
            "overrides": list(overrides),
            "steps": steps,
            "warmup": warmup,
            "repeats": repeats,
        }
    ]


def measure_infer(
    batch_size: int, steps: int, warmup: int, fused: bool, tile: int = TILE
) -> dict[str, Any]:
    """Seconds of each DnCNN-S inference call on ``batch_size`` tiles, as ``predict.py`` runs
    it (``fused``) or eager fp32 (child process of :func:`run_in_turns`)."""
    device = default_device()
    torch.manual_seed(0)
    net = DnCNN().eval().to(device)
    forward, settings = net, "fp32, BN layers"
    if fused:
        dtype = inference_dtype("auto", device)
        forward = denoising_forward(net.fuse_bn(), device, dtype)
        settings = f"{str(dtype).removeprefix('torch.')}, BN folded"
    tiles = torch.rand(batch_size, 1, tile, tile, device=device)
    with torch.inference_mode():
        return {
            "step_s": timed_steps(forward, [tiles] * (warmup + steps), device),
            "settings": settings,
        }


def dncnn_infer(
    batch_size: int = 1, steps: int = 4, warmup: int = 1, repeats: int = 1
) -> list[dict[str, Any]]:
    args = {"batch_size": batch_size, "steps": steps, "warmup": warmup}
    fused, eager = ((f"{TARGET}:measure_infer", {**args, "fused": flag}) for flag in (True, False))
    runs = [run_in_turns(fused, eager) for _ in range(repeats)]
    megapixels = batch_size * TILE * TILE / 1e6
    return [
        {
            "name": "dncnn_infer",
            "metric": "megapixels_per_s",
            "batch_size": batch_size,
            "tile": TILE,
            **paired_fields("megapixels_per_s", runs, megapixels, warmup),
            "settings": f"{runs[0][0]['settings']} (baseline: {runs[0][1]['settings']})",
            "steps": steps,
            "warmup": warmup,
            "repeats": repeats,
        }
    ]
