"""Denoiser weights: our Lightning checkpoints and every published DnCNN format, told by keys.

| layout | keys | BN eps |
|---|---|---|
| train.py checkpoint | ``state_dict`` (``net.model.N.*``) + ``hyper_parameters`` | 1e-4 |
| revive / KAIR state dict | ``model.N.*``: BN merged (KAIR zoo, our fused nets) or with BN | 1e-4 |
| SaoYan DnCNN-PyTorch | ``module.dncnn.N.*``, BN, no conv bias | 1e-5 |
| cszn DnCNN (PyTorch) | a whole pickled module ``__main__.DnCNN`` with ``dncnn.N.*`` | from the file |

All of them share the layer indices of :class:`revive.nets.dncnn.DnCNN` (conv 0, ReLU 1, then
conv[/BN]/ReLU), so a format only renames a prefix; depth, width and channels come from the
conv weights, never from the file name.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch

from revive.errors import UserError
from revive.nets.dncnn import BN_EPS, DnCNN
from revive.safe.load import build_checked, load_checkpoint, local_file, reading, strip_prefix
from revive.safe.pickled import PickledObject, named_records, read_pickled
from revive.safe.pickled import module_state as pickled_state

# Deeper nets widen every denoising tile by their receptive radius (one pixel per layer).
MAX_DEPTH = 64

KNOWN_LAYOUTS = (
    "a checkpoint from `train.py model=dncnn` (keys 'state_dict' with 'net.model.0.weight', "
    "'hyper_parameters'); a revive or KAIR model-zoo state dict ('model.0.weight' … , BN merged "
    "or not, e.g. dncnn_25.pth); SaoYan's DnCNN-PyTorch net.pth ('module.dncnn.0.weight' …); "
    "cszn's DnCNN model.pth (a whole pickled module with 'dncnn.0.weight' …)"
)


@dataclass
class DenoiserState:
    """A state dict renamed to :class:`DnCNN`'s keys, plus what the keys cannot tell."""

    state: dict[str, torch.Tensor]
    layout: str
    bn_eps: float = BN_EPS


def architecture(state: dict[str, torch.Tensor]) -> dict:
    """``DnCNN`` keyword arguments read from the conv weights of a ``model.N.*`` state dict.

    Only read off the shapes: :func:`load_denoiser` checks every tensor against them before
    the network is built.
    """
    convs = [k for k, v in state.items() if k.endswith(".weight") and v.ndim == 4]
    first = state["model.0.weight"]  # [features, channels, 3, 3]
    if first.ndim != 4 or first.shape[1] not in (1, 3):
        raise UserError(
            f"model.0.weight has shape {list(first.shape)}; a DnCNN's first conv is "
            "[features, 1 or 3 channels, 3, 3]"
        )
    if len(convs) > MAX_DEPTH:
        raise UserError(f"{len(convs)} conv layers, over the limit of {MAX_DEPTH}")
    return {
        "channels": first.shape[1],
        "depth": len(convs),
        "features": first.shape[0],
        "bn": any(k.endswith("running_mean") for k in state),
    }


def _from_checkpoint(ckpt: dict) -> DenoiserState | None:
    """Our Lightning checkpoint (``net.`` prefix), or any plain ``model.N.*`` state dict."""
    if "state_dict" in ckpt and "hyper_parameters" in ckpt:
        if not isinstance(ckpt["state_dict"], dict):
            raise UserError(f"its state_dict is a {type(ckpt['state_dict']).__name__}")
        state = strip_prefix(ckpt["state_dict"], "net.")
        if "model.0.weight" not in state:
            return None
        return DenoiserState(state, "train.py checkpoint")
    if "model.0.weight" in ckpt:
        return DenoiserState(dict(ckpt), "revive/KAIR state dict")
    if "module.dncnn.0.weight" in ckpt:
        state = {"model." + k: v for k, v in strip_prefix(ckpt, "module.dncnn.").items()}
        state["model.0.bias"] = torch.zeros(state["model.0.weight"].shape[0])  # conv without bias
        return DenoiserState(state, "SaoYan DnCNN-PyTorch", bn_eps=1e-5)  # nn.BatchNorm2d default
    return None


def _from_pickled_module(obj: PickledObject) -> DenoiserState | None:
    """cszn's ``torch.save(model)``: a ``DnCNN`` record holding ``dncnn``, an ``nn.Sequential``."""
    state = strip_prefix(pickled_state(obj), "dncnn.")
    if "0.weight" not in state:
        return None
    eps = {float(r.eps) for _, r in named_records(obj) if "BatchNorm" in r.origin}
    if len(eps) > 1:
        raise UserError(f"the pickled DnCNN mixes BatchNorm eps values {sorted(eps)}")
    return DenoiserState(
        {"model." + k: v for k, v in state.items()},
        "cszn pickled module",
        bn_eps=eps.pop() if eps else BN_EPS,
    )


def read_denoiser_state(path: str | os.PathLike) -> DenoiserState:
    """Read ``path`` safely and rename its keys to ours; anything else raises ``UserError``."""
    path = local_file(path)
    with reading(path):
        return _read_state(path)


def _read_state(path: Path) -> DenoiserState:
    try:
        ckpt = load_checkpoint(path)
    except UserError as safe_error:
        # weights_only=True refuses whole pickled modules: read them as inert records instead.
        try:
            obj = read_pickled(path)
        except Exception as e:  # any failure of a hostile file is the file's
            raise UserError(f"{safe_error}; as a pickled module it fails too: {e}") from e
        found = _from_pickled_module(obj) if isinstance(obj, PickledObject) else None
        if found is None and isinstance(obj, dict):
            found = _from_checkpoint(obj)
        if found is None:
            what = f"keys {list(obj)[:5]}" if isinstance(obj, dict) else type(obj).__name__
            raise UserError(
                f"{path} holds {what}: not a known DnCNN layout. Known: {KNOWN_LAYOUTS}"
            ) from None
        return found
    found = _from_checkpoint(ckpt)
    if found is None:
        keys = ", ".join(list(ckpt)[:5])
        raise UserError(
            f"{path}: unknown denoiser layout (first keys: {keys}). Known: {KNOWN_LAYOUTS}"
        )
    return found


def load_denoiser(path: str | os.PathLike, fuse: bool = True) -> DnCNN:
    """The DnCNN stored in ``path`` (any known layout) on the CPU in eval mode.

    ``fuse`` folds BatchNorm into the convs (the KAIR merged layout), which is faster and gives
    the same outputs; ``fuse=False`` keeps BN, e.g. to fine-tune from published weights.
    """
    found = read_denoiser_state(path)
    with reading(path):
        state = {k: v for k, v in found.state.items() if not k.endswith("num_batches_tracked")}
        arch = architecture(state)
        net = build_checked(lambda: DnCNN(**arch), state, f"{path} ({found.layout})")
        for module in net.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.eps = float(found.bn_eps)
        net.eval()
        return net.fuse_bn() if fuse else net
