"""ONNX exports run by onnxruntime: revive's networks on machines without PyTorch.

:class:`OnnxNetwork` stands in for the PyTorch network inside :class:`revive.restore.Restorer`:
only the networks change, everything around them (luminance, tiling, canvas, chroma merge) is
the same code. The file's metadata (written by :mod:`revive.weights.onnx_export`) says what it
holds, its color space, and how the restorer must feed it (size multiple, receptive radius).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from revive.color import ColorSpace, get_color_space
from revive.extras import require

INPUT, OUTPUT = "image", "output"
COLORIZER_FORMAT = "revive-colorizer"
DENOISER_FORMAT = "revive-denoiser"


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
