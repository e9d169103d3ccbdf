"""Optional perceptual metrics, run only when their weights are on disk (nothing is downloaded).

- **LPIPS** (Zhang et al. 2018, v0.1, AlexNet backbone): ``metrics.lpips_weights=PATH``, a state
  dict (``.pth`` or ``.safetensors``) holding the AlexNet convolutions and the five linear
  heads, in either layout the published code uses: the ``lpips`` package's whole module
  (``net.slice1.0.weight`` ... ``lin0.model.1.weight``), or torchvision's AlexNet keys
  (``features.0.weight`` ...) merged with ``lpips/weights/v0.1/alex.pth`` (``lin0.model.1.weight``).
  The network is written here in plain torch, so it needs no torchvision.
- **FID** needs the Inception-v3 of pytorch-fid / torch-fidelity; both libraries depend on
  torchvision, which has no wheel for the pinned torch, so FID is reported as skipped.

A metric that cannot run is reported as skipped with a one-line reason; it never fails the run.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import torch
from torch import nn

from revive.weights.safe import load_checkpoint

# AlexNet's convolutions (torchvision's indices in ``features``): in, out, kernel, stride, pad.
ALEXNET_CONVS = {
    0: (3, 64, 11, 4, 2),
    3: (64, 192, 5, 1, 2),
    6: (192, 384, 3, 1, 1),
    8: (384, 256, 3, 1, 1),
    10: (256, 256, 3, 1, 1),
}
# LPIPS' input normalization for inputs in [-1, 1] (lpips.pretrained_networks ScalingLayer).
SHIFT = (-0.030, -0.088, -0.188)
SCALE = (0.458, 0.448, 0.450)
FID_SKIPPED = (
    "FID needs Inception-v3 from pytorch-fid or torch-fidelity, which need torchvision "
    "(no wheel for the pinned torch); not computed"
)

PairMetric = Callable[[np.ndarray, np.ndarray], float]


class Lpips(nn.Module):
    """LPIPS v0.1 on AlexNet: unit-normalized features of 5 ReLUs, squared differences weighted
    per channel by the linear heads, averaged over space, summed over layers."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.ModuleDict(
            {
                str(i): nn.Conv2d(c_in, c_out, k, s, p)
                for i, (c_in, c_out, k, s, p) in ALEXNET_CONVS.items()
            }
        )
        self.lins = nn.ModuleList(
            nn.Conv2d(c_out, 1, 1, bias=False) for _, c_out, *_ in ALEXNET_CONVS.values()
        )
        self.register_buffer("shift", torch.tensor(SHIFT).view(1, 3, 1, 1))
        self.register_buffer("scale", torch.tensor(SCALE).view(1, 3, 1, 1))

    def taps(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The five ReLU outputs LPIPS compares (after conv 0, 3, 6, 8, 10)."""
        x = (x - self.shift) / self.scale
        out = []
        for i, conv in self.features.items():
            if i in ("3", "6"):  # AlexNet's max-pools sit before conv 3 and conv 6
                x = nn.functional.max_pool2d(x, 3, 2)
            x = torch.relu(conv(x))
            out.append(x)
        return out

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """Distance per image of two [B, 3, H, W] batches in [-1, 1]."""
        total = a.new_zeros(a.shape[0])
        for fa, fb, lin in zip(self.taps(a), self.taps(b), self.lins, strict=True):
            fa = fa / (fa.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
            fb = fb / (fb.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
            total = total + lin((fa - fb) ** 2).mean((1, 2, 3))
        return total


def lpips_state(raw: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Either published layout -> this module's keys; KeyError names what is missing."""
    state = {}
    for key, value in raw.items():
        key = re.sub(r"^net\.slice\d\.", "features.", key)
        conv = re.match(r"^features\.(\d+)\.(weight|bias)$", key)
        lin = re.match(r"^lin(\d)\.model\.1\.weight$", key)
        if conv:
            state[f"features.{conv[1]}.{conv[2]}"] = value
        elif lin:
            state[f"lins.{lin[1]}.weight"] = value
    wanted = {f"features.{i}.{p}" for i in ALEXNET_CONVS for p in ("weight", "bias")}
    wanted |= {f"lins.{i}.weight" for i in range(len(ALEXNET_CONVS))}
    missing = sorted(wanted - set(state))
    if missing:
        raise KeyError(
            f"not LPIPS-alex weights: missing {', '.join(missing[:4])}"
            + (" ..." if len(missing) > 4 else "")
        )
    return {k: state[k] for k in sorted(wanted)}


def load_lpips(path: str | Path) -> Lpips:
    net = Lpips()
    net.load_state_dict(lpips_state(load_checkpoint(path)), strict=False)  # buffers: constants
    return net.eval()


def lpips_metric(net: Lpips, device: torch.device | str = "cpu") -> PairMetric:
    """``(output, truth) -> LPIPS`` for two uint8 RGB [H, W, 3] images."""
    net = net.to(device)

    @torch.inference_mode()
    def metric(pred: np.ndarray, target: np.ndarray) -> float:
        def tensor(image: np.ndarray) -> torch.Tensor:
            x = torch.from_numpy(np.array(image, np.float32)).permute(2, 0, 1)[None]
            return (x / 127.5 - 1.0).to(device)

        return float(net(tensor(pred), tensor(target))[0])

    return metric


def optional_metrics(
    options: Mapping | None, device: torch.device | str = "cpu"
) -> tuple[dict[str, PairMetric], dict[str, str]]:
    """The optional metrics that can run (name -> function) and the skipped ones (name ->
    reason), from ``metrics.lpips_weights`` and ``metrics.fid_weights``."""
    options = options or {}
    ready: dict[str, PairMetric] = {}
    skipped: dict[str, str] = {}
    lpips_path = options.get("lpips_weights")
    if not lpips_path:
        skipped["lpips"] = "metrics.lpips_weights is not set (LPIPS v0.1 AlexNet weights, offline)"
    elif not Path(lpips_path).expanduser().is_file():
        skipped["lpips"] = f"metrics.lpips_weights={lpips_path} does not exist"
    else:
        try:
            ready["lpips"] = lpips_metric(load_lpips(Path(lpips_path).expanduser()), device)
        except (OSError, KeyError, RuntimeError, ValueError) as e:
            skipped["lpips"] = f"metrics.lpips_weights={lpips_path}: {e}"
    fid_path = options.get("fid_weights")
    skipped["fid"] = (
        f"metrics.fid_weights={fid_path} given, but {FID_SKIPPED}" if fid_path else FID_SKIPPED
    )
    return ready, skipped
