"""ONNX: revive's networks for machines without PyTorch (onnxruntime on a laptop, a browser, a phone).

:func:`export_network` writes any ``nn.Module`` that maps [B, C, H, W] to [B, C', H, W] (every
colorizer generator, DnCNN) as an ONNX graph (opset 18) with a dynamic batch and dynamic height
and width: any multiple of the network's ``size_multiple`` (2^num_downs for a U-Net), any size
for DnCNN. The graph is traced in eval mode, so BatchNorm uses its running statistics (DnCNN's
is folded into the convolutions first). The file's metadata says what it is (``format``), the
color space, the architecture and the receptive radius, so that :class:`OnnxNetwork` can stand
in for the PyTorch network inside :class:`revive.restore.Restorer`: only the networks change,
everything around them (luminance, tiling, canvas, chroma merge) is the same code.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from torch import nn

from revive.color import ColorSpace, get_color_space
from revive.extras import require
from revive.io import atomic_path
from revive.nets.receptive import receptive_radius

OPSET = 18  # the dynamo exporter's own opset (>= 17, which LayerNorm-free nets need anyway)
INPUT, OUTPUT = "image", "output"
COLORIZER_FORMAT = "revive-colorizer"
DENOISER_FORMAT = "revive-denoiser"


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


class OnnxNetwork(nn.Module):
    """An exported network run by onnxruntime, called like the PyTorch one (fp32 tensors).

    It has no parameters: ``.to()`` and ``.eval()`` change nothing, and the result comes back on
    the input's device. ``size_multiple``, ``channels`` and ``receptive_radius`` come from the
    file's metadata, which is what :class:`revive.restore.Restorer` asks a network for.
    """

    def __init__(self, path: str | os.PathLike, device: torch.device | str = "cpu") -> None:
        super().__init__()
        self.path = Path(path).expanduser()
        self.session = open_session(self.path, torch.device(device))
        self.metadata: dict[str, str] = dict(self.session.get_modelmeta().custom_metadata_map)
        names = (
            [i.name for i in self.session.get_inputs()],
            [o.name for o in self.session.get_outputs()],
        )
        if names != ([INPUT], [OUTPUT]) or "format" not in self.metadata:
            raise ValueError(
                f"{self.path} is an ONNX model but not one exported by revive (inputs/outputs "
                f"{names}, metadata keys {sorted(self.metadata)}); export it with "
                "`revive-export weights=CKPT out=out.onnx`"
            )
        self.format = self.metadata["format"]
        self.size_multiple = int(self.metadata.get("size_multiple", 1))
        self.channels = int(self.metadata.get("in_channels", 1))
        self.receptive_radius = int(self.metadata.get("receptive_radius", 0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feed = {INPUT: x.detach().to("cpu", torch.float32).contiguous().numpy()}
        return torch.from_numpy(self.session.run([OUTPUT], feed)[0]).to(x.device)

    def extra_repr(self) -> str:
        return f"{self.path.name}, {self.format}, providers={self.session.get_providers()}"


def open_session(path: Path, device: torch.device):
    """An onnxruntime session on ``device``'s provider (CUDA when asked and present, else CPU),
    with as many threads as PyTorch uses, so that the two backends compare fairly."""
    ort = require("export", "onnxruntime")

    if not path.is_file():
        raise FileNotFoundError(f"ONNX model not found: {path}")
    options = ort.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    options.log_severity_level = 3  # errors only: no graph dumps in the user's terminal
    providers = ["CPUExecutionProvider"]
    if device.type == "cuda" and "CUDAExecutionProvider" in ort.get_available_providers():
        providers.insert(0, "CUDAExecutionProvider")
    try:
        return ort.InferenceSession(str(path), options, providers=providers)
    except Exception as e:  # onnxruntime raises its own classes (InvalidProtobuf, Fail, ...)
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ValueError(f"{path} is not a readable ONNX model: {first}") from e


def _expect(net: OnnxNetwork, fmt: str) -> None:
    if net.format != fmt:
        raise ValueError(f"{net.path} holds a {net.format}, not a {fmt}")


def load_onnx_colorizer(
    path: str | os.PathLike, device: torch.device | str = "cpu"
) -> tuple[OnnxNetwork, ColorSpace]:
    """An exported colorizer and its color space, as :func:`revive.weights.colorizer.load_colorizer`."""
    net = OnnxNetwork(path, device)
    _expect(net, COLORIZER_FORMAT)
    return net, get_color_space(net.metadata.get("color_space", "?"))


def load_onnx_denoiser(path: str | os.PathLike, device: torch.device | str = "cpu") -> OnnxNetwork:
    """An exported DnCNN, as :func:`revive.weights.dncnn.load_denoiser`."""
    net = OnnxNetwork(path, device)
    _expect(net, DENOISER_FORMAT)
    return net
