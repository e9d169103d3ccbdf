"""``dncnn_step`` (patches/s of a training step) and ``dncnn_infer`` (MP/s, eager vs BN-fused).

- **dncnn_step**: ours is ``Trainer.fit`` on the DnCNN module of ``model=dncnn`` with the default
  Trainer (see :mod:`revive.bench.fit`); the baseline is the plain fp32 step of cszn's PyTorch
  training (noise drawn on the device, loss ``||R(y) - v||^2 / 2N``, Adam), on 40x40 patches in
  batches of 128 as ``conf/data/denoise.yaml``.
- **dncnn_infer**: the 17-layer DnCNN-S in eval mode on 512x512 tiles (``predict.py``'s tile
  size), fp32, with its BatchNorm as separate layers (baseline) and folded into the convolutions
  (``DnCNN.fuse_bn``, what ``predict.py`` runs).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F

from revive.bench.common import (
    Clock,
    PairedTimes,
    default_device,
    paired_fields,
    run_isolated,
    timed,
)
from revive.bench.fit import optimizer_name, time_fit, training_config
from revive.nets.dncnn import DnCNN

TARGET = "revive.bench.dncnn"
PATCH = 40
SIGMA = 25.0
TILE = 512


def patch_batches(count: int, batch_size: int, seed: int = 0) -> list[dict[str, torch.Tensor]]:
    """Clean gray patches in [0, 1], as the denoising DataModule yields them."""
    rng = torch.Generator().manual_seed(seed)
    return [{"clean": torch.rand(batch_size, 1, PATCH, PATCH, generator=rng)} for _ in range(count)]


def plain_step(device: torch.device) -> Callable[[dict], Any]:
    """cszn's DnCNN training step, plain eager fp32, on a batch dict of clean patches."""
    torch.manual_seed(0)
    net = DnCNN().to(device).train()
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)

    def step(batch: dict[str, torch.Tensor]) -> None:
        clean = batch["clean"].to(device)
        noise = torch.randn_like(clean) * (SIGMA / 255.0)
        loss = F.mse_loss(net(clean + noise), noise, reduction="sum") / (2 * clean.shape[0])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    return step


def measure_step_baseline(batch_size: int, steps: int, warmup: int) -> dict[str, Any]:
    """Patches/s of the plain step alone (child process: its peak RSS is the baseline's)."""
    device = default_device()
    step, clock = plain_step(device), Clock(device)
    for i, batch in enumerate(patch_batches(warmup + steps, batch_size)):
        if i == warmup:
            clock.start()
        step(batch)
    clock.stop()
    return {"patches_per_s": steps * batch_size / clock.seconds}


def measure_step(
    batch_size: int,
    steps: int,
    warmup: int,
    overrides: Sequence[str] = (),
    with_baseline: bool = True,
) -> dict[str, Any]:
    """Patches/s of ``Trainer.fit`` on the configured DnCNN module and, ``with_baseline``, of the
    plain step after each of its steps (child process)."""
    cfg = training_config(["model=dncnn", *overrides])
    baseline = plain_step(default_device()) if with_baseline else None
    times, _, trainer = time_fit(cfg, patch_batches(warmup + steps, batch_size), baseline)
    result = {"settings": f"{trainer.precision}, {optimizer_name(trainer.optimizers[0])}"}
    if with_baseline:
        result.update(times.rates(batch_size, warmup))
    return result


def dncnn_step(
    batch_size: int = 128,
    steps: int = 8,
    warmup: int = 2,
    repeats: int = 1,
    overrides: Sequence[str] = (),
) -> list[dict[str, Any]]:
    args = {"batch_size": batch_size, "warmup": warmup, "overrides": list(overrides)}
    speed = [run_isolated(f"{TARGET}:measure_step", **args, steps=steps) for _ in range(repeats)]
    short = {"batch_size": batch_size, "warmup": min(warmup, 1), "steps": 1}
    memory = run_isolated(
        f"{TARGET}:measure_step", **short, overrides=list(overrides), with_baseline=False
    )
    base_memory = run_isolated(f"{TARGET}:measure_step_baseline", **short)
    return [
        {
            "name": "dncnn_step",
            "metric": "patches_per_s",
            "batch_size": batch_size,
            "patch_size": PATCH,
            **paired_fields("patches_per_s", speed, memory, base_memory),
            "settings": speed[0]["settings"],
            "overrides": list(overrides),
            "steps": steps,
            "warmup": warmup,
            "repeats": repeats,
        }
    ]


def denoisers(fused: bool | None, device: torch.device) -> dict[str, torch.nn.Module]:
    """DnCNN-S in eval mode: ``{"fused": ..., "eager": ...}``, or only the one ``fused`` names."""
    torch.manual_seed(0)
    eager = DnCNN().eval()
    nets = {"fused": copy.deepcopy(eager).fuse_bn(), "eager": eager}
    keep = nets if fused is None else {k: v for k, v in nets.items() if (k == "fused") == fused}
    return {k: v.to(device) for k, v in keep.items()}


def measure_infer(
    batch_size: int, steps: int, warmup: int, fused: bool | None = None, tile: int = TILE
) -> dict[str, Any]:
    """Megapixels/s of DnCNN-S inference on ``batch_size`` tiles per call: fused and eager in
    turns (``fused=None``), or one of them alone (child process)."""
    device = default_device()
    nets = denoisers(fused, device)
    tiles = torch.rand(batch_size, 1, tile, tile, device=device)
    times = {name: [] for name in nets}
    with torch.inference_mode():
        for _ in range(warmup + steps):
            for name, net in nets.items():
                times[name].append(timed(net, tiles, device=device))
    if fused is not None:
        (seconds,) = times.values()
        return {"megapixels_per_s": steps * tiles.numel() / 1e6 / sum(seconds[warmup:])}
    paired = PairedTimes(ours=times["fused"], baseline=times["eager"])
    return paired.rates(tiles.numel() / 1e6, warmup)


def dncnn_infer(
    batch_size: int = 1, steps: int = 4, warmup: int = 1, repeats: int = 1
) -> list[dict[str, Any]]:
    args = {"batch_size": batch_size, "warmup": warmup}
    speed = [run_isolated(f"{TARGET}:measure_infer", **args, steps=steps) for _ in range(repeats)]
    short = {"batch_size": batch_size, "warmup": 0, "steps": 1}
    memory = run_isolated(f"{TARGET}:measure_infer", **short, fused=True)
    base_memory = run_isolated(f"{TARGET}:measure_infer", **short, fused=False)
    return [
        {
            "name": "dncnn_infer",
            "metric": "megapixels_per_s",
            "batch_size": batch_size,
            "tile": TILE,
            **paired_fields("megapixels_per_s", speed, memory, base_memory),
            "settings": "fp32, BN folded (baseline: BN layers)",
            "steps": steps,
            "warmup": warmup,
            "repeats": repeats,
        }
    ]
