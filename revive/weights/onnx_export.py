"""ONNX export: revive's networks as graphs for onnxruntime (a laptop, a browser, a phone).

:func:`export_network` writes any ``nn.Module`` that maps [B, C, H, W] to [B, C', H, W] (every
colorizer generator, DnCNN) as an ONNX graph (opset 18) with a dynamic batch and dynamic height
and width: any multiple of the network's ``size_multiple`` (2^num_downs for a U-Net), any size
for DnCNN. The graph is traced in eval mode, so BatchNorm uses its running statistics (DnCNN's
is folded into the convolutions first). The file's metadata says what it is (``format``), the
color space, the architecture and the receptive radius, which
:class:`revive.weights.onnx_runtime.OnnxNetwork` reads back.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from torch import nn

from revive.color import ColorSpace
from revive.extras import require
from revive.io import atomic_path
from revive.nets.receptive import receptive_radius
from revive.weights.onnx_runtime import COLORIZER_FORMAT, DENOISER_FORMAT, INPUT, OUTPUT

OPSET = 18  # the dynamo exporter's own opset (>= 17, which LayerNorm-free nets need anyway)


def describe(net: nn.Module) -> dict:
    """The constructor-like settings a network keeps as plain attributes, and its class.

    Generic over ``nn.Module``s: ``UnetGenerator`` gives input_nc, output_nc, num_downs …,
    ``DnCNN`` channels, depth, features; a generator added later gives whatever it stores.
    """
    found = {
        k: v
        for k, v in vars(net).items()
        if not k.startswith("_") and k != "training" and isinstance(v, bool | int | float | str)
    }
    return {"class": f"{type(net).__module__}.{type(net).__qualname__}", **found}


def _example_side(multiple: int, extra: int = 0) -> int:
    # At least two multiples and 32 px: a side of 1 at the U-Net's bottom would be specialized.
    return multiple * (max(2, -(-32 // multiple)) + extra)


def export_network(
    net: nn.Module,
    dest: str | os.PathLike,
    in_channels: int,
    metadata: dict[str, str],
    size_multiple: int = 1,
    overwrite: bool = False,
) -> Path:
    """Write ``net`` (eval mode, fp32) as ONNX with dynamic batch, height and width.

    Height and width stay multiples of ``size_multiple``. ``metadata`` lands in the model's
    ``metadata_props``; ``architecture`` and ``size_multiple`` are added here.
    """
    from torch.export import Dim

    for module in ("onnx", "onnxscript"):  # torch.onnx's dynamo exporter imports them
        require("export", module)
    dest = Path(dest)
    if dest.exists() and not overwrite:
        raise FileExistsError(f"{dest} exists; pass overwrite=true to replace it")
    net = net.eval().float().cpu()
    example = torch.rand(
        2, in_channels, _example_side(size_multiple), _example_side(size_multiple, 1)
    )
    height, width = Dim("height", min=1, max=2**15), Dim("width", min=1, max=2**15)
    if size_multiple > 1:
        height, width = size_multiple * height, size_multiple * width
    program = torch.onnx.export(
        net,
        (example,),
        dynamo=True,
        opset_version=OPSET,
        input_names=[INPUT],
        output_names=[OUTPUT],
        dynamic_shapes=({0: Dim("batch", min=1, max=2**12), 2: height, 3: width},),
        external_data=False,
        verbose=False,
    )
    meta = {
        **metadata,
        "architecture": json.dumps(describe(net)),
        "size_multiple": str(size_multiple),
        "in_channels": str(in_channels),
    }
    program.model.metadata_props.update(meta)
    with atomic_path(dest) as tmp:
        program.save(str(tmp), external_data=False)
    return dest


def export_colorizer_onnx(
    net: nn.Module, space: ColorSpace, dest: str | os.PathLike, overwrite: bool = False
) -> Path:
    """A colorizer generator and its color space (LAB: L -> ab, RGB: luma -> RGB)."""
    meta = {"format": COLORIZER_FORMAT, "color_space": space.name}
    multiple = int(getattr(net, "size_multiple", 1))
    return export_network(net, dest, space.in_channels, meta, multiple, overwrite)


def export_denoiser_onnx(net: nn.Module, dest: str | os.PathLike, overwrite: bool = False) -> Path:
    """A DnCNN, BatchNorm folded: noisy [0, 1] -> denoised, tileable with its receptive radius."""
    fuse = getattr(net, "fuse_bn", None)
    net = fuse() if callable(fuse) else net
    meta = {"format": DENOISER_FORMAT, "receptive_radius": str(receptive_radius(net))}
    return export_network(net, dest, int(getattr(net, "channels", 1)), meta, 1, overwrite)
