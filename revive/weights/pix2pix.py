"""Colorizer weights: our Lightning checkpoints and the official pix2pix ``*_net_G.pth`` files.

The format is told from the keys, never from the file name:
- official: a plain state dict ``model.model.0.weight``, ``model.model.1.model.2.running_mean`` …
- ours: a Lightning checkpoint with ``state_dict`` (``generator.…``) and ``hyper_parameters``,
  or a ``.safetensors`` export (``revive.weights.export``) with the architecture in its metadata.
"""

from __future__ import annotations

import json
import os

import torch
from safetensors import safe_open

from revive.color import ColorSpace, get_color_space
from revive.nets import UnetGenerator
from revive.weights.safe import load_checkpoint, load_state_strict, strip_prefix

# The ``format`` metadata of a colorizer exported by revive.weights.export.
EXPORT_FORMAT = "revive-colorizer"
# Which color space a 1-channel-input generator was trained in, by its output channels.
SPACE_BY_OUTPUT = {2: "lab", 3: "rgb"}


def is_official_generator(state: dict) -> bool:
    return "model.model.0.weight" in state


def unet_config_from_state(state: dict[str, torch.Tensor]) -> dict:
    """Infer input/output channels, width, depth and norm of an official-layout U-Net."""
    first = state["model.model.0.weight"]  # [ngf, input_nc, 4, 4]
    last = state["model.model.3.weight"]  # ConvTranspose2d [2*ngf, output_nc, 4, 4]
    depth = max(k.count("model.") for k in state) - 1  # one nested `model.` per level
    norm = "batch" if any(k.endswith("running_mean") for k in state) else "instance"
    return {
        "input_nc": first.shape[1],
        "output_nc": last.shape[1],
        "ngf": first.shape[0],
        "num_downs": depth,
        "norm": norm,
    }


def load_exported(path: str | os.PathLike) -> tuple[UnetGenerator, ColorSpace]:
    """Rebuild a generator written by :func:`revive.weights.export.export_colorizer`."""
    with safe_open(str(path), framework="pt", device="cpu") as f:
        meta = f.metadata() or {}
        if meta.get("format") != EXPORT_FORMAT:
            raise ValueError(f"{path} is not a revive colorizer export (metadata {meta})")
        state = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (safe_open has no __iter__)
    net = UnetGenerator(**json.loads(meta["generator"]))
    load_state_strict(net, state, path)
    return net.eval(), get_color_space(meta["color_space"])


def load_colorizer(path: str | os.PathLike) -> tuple[UnetGenerator, ColorSpace]:
    """Build the generator stored in ``path`` (ours or official) in eval mode, and its space."""
    if str(path).endswith(".safetensors"):
        return load_exported(path)
    ckpt = load_checkpoint(path)
    if "state_dict" in ckpt and "hyper_parameters" in ckpt:
        hp = ckpt["hyper_parameters"]
        state = strip_prefix(ckpt["state_dict"], "generator.")
        if not state:
            raise ValueError(
                f"{path} is a Lightning checkpoint without a generator (not a colorizer?)"
            )
        space = get_color_space(hp.get("color_space", "lab"))
        kwargs = dict(hp.get("generator") or {})
        net = UnetGenerator(space.in_channels, space.out_channels, **kwargs)
    elif is_official_generator(ckpt):
        state = {k: v for k, v in ckpt.items() if not k.endswith("num_batches_tracked")}
        cfg = unet_config_from_state(state)
        if cfg["input_nc"] != 1 or cfg["output_nc"] not in SPACE_BY_OUTPUT:
            raise ValueError(
                f"{path} is a pix2pix generator {cfg['input_nc']}->{cfg['output_nc']} channels; "
                "a colorizer takes 1 gray channel and predicts 2 (LAB ab) or 3 (RGB)"
            )
        space = get_color_space(SPACE_BY_OUTPUT[cfg["output_nc"]])
        net = UnetGenerator(**cfg)
    else:
        keys = ", ".join(list(ckpt)[:5])
        raise ValueError(
            f"{path}: unknown colorizer format (first keys: {keys}). Known: a checkpoint from "
            "train.py (keys 'state_dict', 'hyper_parameters'), or an official pix2pix *_net_G.pth "
            "(keys 'model.model.0.weight', …)"
        )
    load_state_strict(net, state, path)
    return net.eval(), space
