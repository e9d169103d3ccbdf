"""``onnx_infer``: onnxruntime against PyTorch on the CPU, for the two networks ``predict.py`` runs.

- DnCNN-S (17 layers, BN folded) on 512² tiles, megapixels/s; PyTorch as ``predict.py
  precision=32`` runs it (fp32, oneDNN's blocked layout): the ONNX graph is fp32 too, so bf16
  would not be a like-for-like baseline.
- the full-size ``unet_256`` colorizer on 256² canvases, images/s; PyTorch eager fp32 under
  ``inference_mode``, as :meth:`revive.restore.Restorer.colorize` runs it.

Each network is exported once (random weights: speed does not depend on them) by the same
:mod:`revive.weights.onnx_export` code as ``python -m revive.weights.export``; the two backends then run
in two processes that take turns step by step, with the same number of threads.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

from revive.bench.common import paired_fields, run_in_turns, timed_steps

TARGET = "revive.bench.onnx"
NETWORKS = ("dncnn", "unet_256")
TILE, CANVAS = 512, 256


def build(network: str) -> nn.Module:
    """The network with seeded random weights, in eval mode (DnCNN with BN folded)."""
    from revive.nets import UnetGenerator, init_weights
    from revive.nets.dncnn import DnCNN

    torch.manual_seed(0)
    if network == "dncnn":
        return DnCNN().eval().fuse_bn()
    if network == "unet_256":
        return init_weights(UnetGenerator(1, 2)).eval()
    raise ValueError(f"unknown network {network!r}; expected one of {NETWORKS}")


def export(network: str, folder: Path) -> Path:
    from revive.color import get_color_space
    from revive.weights.onnx_export import export_colorizer_onnx, export_denoiser_onnx

    net, dest = build(network), folder / f"{network}.onnx"
    if network == "dncnn":
        return export_denoiser_onnx(net, dest)
    return export_colorizer_onnx(net, get_color_space("lab"), dest)


def measure(
    network: str, path: str, backend: str, batch_size: int, steps: int, warmup: int, side: int
) -> dict[str, Any]:
    """Seconds of each forward pass on ``batch_size`` inputs of ``side``² pixels, on the CPU
    (child process of :func:`run_in_turns`)."""
    from revive.restore.forward import denoising_forward
    from revive.weights.onnx_runtime import OnnxNetwork

    device = torch.device("cpu")
    if backend == "onnx":
        forward, settings = OnnxNetwork(path), "onnxruntime fp32"
    elif network == "dncnn":
        forward, settings = denoising_forward(build(network), device), "PyTorch fp32, blocked"
    else:
        forward, settings = build(network), "PyTorch fp32, eager"
    inputs = torch.rand(batch_size, 1, side, side)
    with torch.inference_mode():
        seconds = timed_steps(forward, [inputs] * (warmup + steps), device)
    return {"step_s": seconds, "settings": settings}


def onnx_infer(
    batch_size: int = 1,
    steps: int = 4,
    warmup: int = 1,
    repeats: int = 1,
    networks: tuple[str, ...] = NETWORKS,
    tile: int = TILE,
) -> list[dict[str, Any]]:
    records = []
    with tempfile.TemporaryDirectory(prefix="revive-bench-onnx-") as tmp:
        for network in networks:
            path = str(export(network, Path(tmp)))
            side = tile if network == "dncnn" else CANVAS
            args = {"network": network, "path": path, "batch_size": batch_size}
            args |= {"steps": steps, "warmup": warmup, "side": side}
            ours, base = ((f"{TARGET}:measure", {**args, "backend": b}) for b in ("onnx", "torch"))
            runs = [run_in_turns(ours, base) for _ in range(repeats)]
            metric, units = (
                ("megapixels_per_s", batch_size * side * side / 1e6)
                if network == "dncnn"
                else ("images_per_s", batch_size)
            )
            records.append(
                {
                    "name": "onnx_infer",
                    "metric": metric,
                    "network": network,
                    "batch_size": batch_size,
                    "side": side,
                    **paired_fields(metric, runs, units, warmup),
                    "settings": f"{network} {side}², {runs[0][0]['settings']} "
                    f"(baseline: {runs[0][1]['settings']})",
                    "steps": steps,
                    "warmup": warmup,
                    "repeats": repeats,
                }
            )
    return records
