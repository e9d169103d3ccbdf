"""Optional perceptual metrics, run only when their weights are on disk (nothing is downloaded).

- **LPIPS** (Zhang et al. 2018, v0.1, AlexNet backbone): ``metrics.lpips_weights=PATH``, a state
  dict (``.pth`` or ``.safetensors``) holding the AlexNet convolutions and the five linear
  heads, in either layout the published code uses: the ``lpips`` package's whole module
  (``net.slice1.0.weight`` ... ``lin0.model.1.weight``), or torchvision's AlexNet keys
  (``features.0.weight`` ...) merged with ``lpips/weights/v0.1/alex.pth`` (``lin0.model.1.weight``).
  The network is written here in plain torch, so it needs no torchvision.
- **FID** (Heusel et al. 2017): ``metrics.fid_weights=PATH``, pytorch-fid's Inception-v3
  (``pt_inception-2015-12-05-6726825d.pth``, torchvision's key names; the ``fc`` head is not
  used), rebuilt in plain torch (:mod:`revive.evaluation.inception`): pytorch-fid and
  torch-fidelity both import torchvision, which has no wheel for the pinned torch. FID compares
  the set of outputs with the set of truths, so it is one number per folder (``test/fid``,
  ``gray/fid``), and with few photos it is dominated by their small number (biased upwards).

A metric that cannot run is reported as skipped with a one-line reason; it never fails the run.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import torch
from torch import nn

from revive.evaluation.inception import FidInception, frechet_distance
from revive.safe.load import load_checkpoint

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
# Keys of pytorch-fid's file that FID does not use (the classifier head).
FID_UNUSED = ("fc.", "AuxLogits.")

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


class FidScore:
    """Inception features of the outputs, the gray baselines and the truths of a folder, then
    the FID of each set of outputs against the truths."""

    def __init__(self, net: FidInception, device: torch.device | str = "cpu") -> None:
        self.net, self.device = net.to(device).eval(), device
        self.features: dict[str, list[np.ndarray]] = {"test": [], "gray": [], "truth": []}

    @torch.inference_mode()
    def add(self, stream: str, image: np.ndarray) -> None:
        x = torch.from_numpy(np.array(image, np.float32)).permute(2, 0, 1)[None] / 255.0
        self.features[stream].append(self.net(x.to(self.device))[0].double().cpu().numpy())

    def compute(self) -> dict[str, float]:
        """``test/fid`` and ``gray/fid``; empty below 2 photos with truth (no covariance)."""
        if len(self.features["truth"]) < 2:
            return {}
        truth = np.stack(self.features["truth"])
        return {
            f"{k}/fid": frechet_distance(np.stack(self.features[k]), truth)
            for k in ("test", "gray")
        }


def load_fid_inception(path: str | Path) -> FidInception:
    raw = load_checkpoint(path)
    state = {k: v for k, v in raw.items() if not k.startswith(FID_UNUSED)}
    net = FidInception()
    try:
        net.load_state_dict(state)
    except RuntimeError as e:  # name the first problem only: the message lists hundreds of keys
        raise KeyError(
            f"not pytorch-fid's Inception-v3: {str(e).splitlines()[1].strip()[:200]}"
        ) from None
    return net.eval()


def _weights_file(options: Mapping, key: str) -> tuple[Path | None, str]:
    """The file named by ``metrics.<key>``, or None and why it cannot be used."""
    given = options.get(key)
    if not given:
        return None, f"metrics.{key} is not set (weights are never downloaded)"
    path = Path(str(given)).expanduser()
    if not path.is_file():
        return None, f"metrics.{key}={given} does not exist"
    return path, ""


def optional_metrics(
    options: Mapping | None, device: torch.device | str = "cpu"
) -> tuple[dict[str, PairMetric], FidScore | None, dict[str, str]]:
    """What can run from ``metrics.lpips_weights`` and ``metrics.fid_weights``: the per-photo
    metrics (name -> function), the FID collector (or None), and the skipped ones (name ->
    one-line reason)."""
    options = options or {}
    pair: dict[str, PairMetric] = {}
    fid, skipped = None, {}
    path, reason = _weights_file(options, "lpips_weights")
    if path is not None:
        try:
            pair["lpips"] = lpips_metric(load_lpips(path), device)
        except (OSError, KeyError, RuntimeError, ValueError) as e:
            reason = f"metrics.lpips_weights={path}: {e}"
    if "lpips" not in pair:
        skipped["lpips"] = reason
    path, reason = _weights_file(options, "fid_weights")
    if path is not None:
        try:
            fid = FidScore(load_fid_inception(path), device)
        except (OSError, KeyError, RuntimeError, ValueError) as e:
            reason = f"metrics.fid_weights={path}: {e}"
    if fid is None:
        skipped["fid"] = reason
    return pair, fid, skipped
