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
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F

from revive.bench.common import Clock, alternate, default_device, significant
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


def measure_step_baseline(batch_size: int, steps: int, warmup: int) -> dict[str, Any]:
    """Patches/s of the plain eager fp32 DnCNN step (child process)."""
    device = default_device()
    torch.manual_seed(0)
    net = DnCNN().to(device).train()
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    clock = Clock(device)
    for i, batch in enumerate(patch_batches(warmup + steps, batch_size)):
        if i == warmup:
            clock.start()
        clean = batch["clean"].to(device)
        noise = torch.randn_like(clean) * (SIGMA / 255.0)
        loss = F.mse_loss(net(clean + noise), noise, reduction="sum") / (2 * clean.shape[0])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    clock.stop()
    return {"patches_per_s": steps * batch_size / clock.seconds}


def measure_step(
    batch_size: int, steps: int, warmup: int, overrides: Sequence[str] = ()
) -> dict[str, Any]:
    """Patches/s of ``Trainer.fit`` on the configured DnCNN module (child process)."""
    cfg = training_config(["model=dncnn", *overrides])
    seconds, _, trainer = time_fit(cfg, patch_batches(warmup + steps, batch_size), warmup)
    settings = f"{trainer.precision}, {optimizer_name(trainer.optimizers[0])}"
    return {"patches_per_s": steps * batch_size / seconds, "settings": settings}


def dncnn_step(
    batch_size: int = 128,
    steps: int = 8,
    warmup: int = 2,
    repeats: int = 2,
    overrides: Sequence[str] = (),
) -> list[dict[str, Any]]:
    args = {"batch_size": batch_size, "steps": steps, "warmup": warmup}
    ours, base = alternate(
        f"{TARGET}:measure_step",
        f"{TARGET}:measure_step_baseline",
        repeats,
        {**args, "overrides": list(overrides)},
        base_args=args,
    )
    return [
        {
            "name": "dncnn_step",
            "metric": "patches_per_s",
            "batch_size": batch_size,
            "patch_size": PATCH,
            **ours.summary("patches_per_s"),
            **base.summary("patches_per_s", prefix="baseline_"),
            "speedup": significant(ours.median("patches_per_s") / base.median("patches_per_s")),
            "settings": ours.runs[0]["settings"],
            "overrides": list(overrides),
            "steps": steps,
            "warmup": warmup,
            "repeats": repeats,
        }
    ]


def measure_infer(
    batch_size: int, steps: int, warmup: int, fused: bool, tile: int = TILE
) -> dict[str, Any]:
    """Megapixels/s of DnCNN-S inference on ``batch_size`` tiles per call (child process)."""
    device = default_device()
    torch.manual_seed(0)
    net = DnCNN().eval()
    net = (copy.deepcopy(net).fuse_bn() if fused else net).to(device)
    tiles = torch.rand(batch_size, 1, tile, tile, device=device)
    clock = Clock(device)
    with torch.inference_mode():
        for i in range(warmup + steps):
            if i == warmup:
                clock.start()
            net(tiles)
        clock.stop()
    return {"megapixels_per_s": steps * tiles.numel() / 1e6 / clock.seconds}


def dncnn_infer(
    batch_size: int = 1, steps: int = 4, warmup: int = 1, repeats: int = 2
) -> list[dict[str, Any]]:
    args = {"batch_size": batch_size, "steps": steps, "warmup": warmup}
    ours, base = alternate(
        f"{TARGET}:measure_infer",
        f"{TARGET}:measure_infer",
        repeats,
        {**args, "fused": True},
        base_args={**args, "fused": False},
    )
    return [
        {
            "name": "dncnn_infer",
            "metric": "megapixels_per_s",
            "batch_size": batch_size,
            "tile": TILE,
            **ours.summary("megapixels_per_s"),
            **base.summary("megapixels_per_s", prefix="baseline_"),
            "speedup": significant(
                ours.median("megapixels_per_s") / base.median("megapixels_per_s")
            ),
            "settings": "fp32, BN folded (baseline: BN layers)",
            "steps": steps,
            "warmup": warmup,
            "repeats": repeats,
        }
    ]
