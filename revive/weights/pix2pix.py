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
from revive.errors import UserError
from revive.nets import UnetGenerator
from revive.weights.safe import build_checked, load_checkpoint, local_file, reading, strip_prefix

# The ``format`` metadata of a colorizer exported by revive.weights.export.
EXPORT_FORMAT = "revive-colorizer"
# Which color space a 1-channel-input generator was trained in, by its output channels.
SPACE_BY_OUTPUT = {2: "lab", 3: "rgb"}
# The canvas side is a multiple of 2**num_downs: 10 already means 1024-pixel canvases.
MAX_NUM_DOWNS = 10


def is_official_generator(state: dict) -> bool:
    return "model.model.0.weight" in state


def unet_config_from_state(state: dict[str, torch.Tensor]) -> dict:
    """Infer input/output channels, width, depth and norm of an official-layout U-Net."""
    first = state["model.model.0.weight"]  # [ngf, input_nc, 4, 4]
    last = state["model.model.3.weight"]  # ConvTranspose2d [2*ngf, output_nc, 4, 4]
    if first.ndim != 4 or last.ndim != 4:
        raise UserError("model.model.0.weight and model.model.3.weight must be 4-D conv weights")
    depth = max(k.count("model.") for k in state) - 1  # one nested `model.` per level
    norm = "batch" if any(k.endswith("running_mean") for k in state) else "instance"
    return {
        "input_nc": first.shape[1],
        "output_nc": last.shape[1],
        "ngf": first.shape[0],
        "num_downs": depth,
        "norm": norm,
    }


def build_generator(arch: dict, state: dict[str, torch.Tensor], source: object) -> UnetGenerator:
    """The generator that ``arch`` (as claimed by a file) describes, checked against ``state``."""
    num_downs = arch.get("num_downs", 8)
    if not isinstance(num_downs, int) or not 5 <= num_downs <= MAX_NUM_DOWNS:
        raise UserError(f"{source}: num_downs={num_downs!r}, expected 5 to {MAX_NUM_DOWNS}")
    return build_checked(lambda: UnetGenerator(**arch), state, source)


def load_exported(path: str | os.PathLike) -> tuple[UnetGenerator, ColorSpace]:
    """Rebuild a generator written by :func:`revive.weights.export.export_colorizer`."""
    path = local_file(path)
    with reading(path):
        with safe_open(str(path), framework="pt", device="cpu") as f:
            meta = f.metadata() or {}
            if meta.get("format") != EXPORT_FORMAT:
                raise UserError(f"{path} is not a revive colorizer export (metadata {meta})")
            state = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (no __iter__)
        arch = json.loads(meta["generator"])
        if not isinstance(arch, dict):
            raise UserError(f"{path}: its generator metadata is not a JSON object")
        net = build_generator(arch, state, path)
        return net.eval(), get_color_space(meta["color_space"])


def load_colorizer(path: str | os.PathLike) -> tuple[UnetGenerator, ColorSpace]:
    """Build the generator stored in ``path`` (ours or official) in eval mode, and its space.

    Any failure to read the file, or a file that does not describe a sane colorizer, raises
    one :class:`UserError` naming it.
    """
    if str(path).endswith(".safetensors"):
        return load_exported(path)
    ckpt = load_checkpoint(path)
    with reading(path):
        return _colorizer_from(ckpt, path)


def _colorizer_from(ckpt: dict, path: str | os.PathLike) -> tuple[UnetGenerator, ColorSpace]:
    if "state_dict" in ckpt and "hyper_parameters" in ckpt:
        hp, weights = ckpt["hyper_parameters"], ckpt["state_dict"]
        if not isinstance(hp, dict) or not isinstance(weights, dict):
            raise UserError(f"{path}: hyper_parameters and state_dict must both be dicts")
        state = strip_prefix(weights, "generator.")
        if not state:
            raise UserError(
                f"{path} is a Lightning checkpoint without a generator (not a colorizer?)"
            )
        space = get_color_space(hp.get("color_space", "lab"))
        generator = hp.get("generator") or {}
        if not isinstance(generator, dict):
            raise UserError(f"{path}: hyper_parameters.generator is not a dict")
        arch = {**generator, "input_nc": space.in_channels, "output_nc": space.out_channels}
    elif is_official_generator(ckpt):
        state = {k: v for k, v in ckpt.items() if not k.endswith("num_batches_tracked")}
        arch = unet_config_from_state(state)
        if arch["input_nc"] != 1 or arch["output_nc"] not in SPACE_BY_OUTPUT:
            raise UserError(
                f"{path} is a pix2pix generator {arch['input_nc']}->{arch['output_nc']} "
                "channels; a colorizer takes 1 gray channel and predicts 2 (LAB ab) or 3 (RGB)"
            )
        space = get_color_space(SPACE_BY_OUTPUT[arch["output_nc"]])
    else:
        keys = ", ".join(map(str, list(ckpt)[:5]))
        raise UserError(
            f"{path}: unknown colorizer format (first keys: {keys}). Known: a checkpoint from "
            "train.py (keys 'state_dict', 'hyper_parameters'), or an official pix2pix *_net_G.pth "
            "(keys 'model.model.0.weight', …)"
        )
    return build_generator(arch, state, path).eval(), space
