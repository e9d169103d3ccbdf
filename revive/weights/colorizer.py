"""Colorizer weights: our Lightning checkpoints and the official pix2pix ``*_net_G.pth`` files.

The format is told from the keys, never from the file name:
- official: a plain state dict, of a U-Net (``model.model.0.weight``, …) or of a ResNet
  generator (``model.1.weight``, ``model.10.conv_block.1.weight``, …; CycleGAN's ``*_net_G_A``);
- ours: a Lightning checkpoint with ``state_dict`` (``generator.…``, or the average of its
  weights ``generator_ema.…`` when training kept one) and ``hyper_parameters``,
  or a ``.safetensors`` export (``revive.weights.export``) with the architecture in its metadata.
  Either records its generator's config (``_target_`` and arguments), which rebuilds it.
"""

from __future__ import annotations

import json
import os

import torch
from safetensors import safe_open
from torch import nn

from revive.color import ColorSpace, get_color_space
from revive.errors import UserError
from revive.nets.build import DEFAULT_GENERATOR, build_net, net_config
from revive.safe.load import build_checked, load_checkpoint, local_file, reading, strip_prefix

# The ``format`` metadata of a colorizer exported by revive.weights.export.
EXPORT_FORMAT = "revive-colorizer"
# Which color space a 1-channel-input generator was trained in, by its output channels.
SPACE_BY_OUTPUT = {2: "lab", 3: "rgb"}
# A U-Net's canvas side is a multiple of 2**num_downs: 10 already means 1024-pixel canvases.
MAX_NUM_DOWNS = 10


def is_official_unet(state: dict) -> bool:
    return "model.model.0.weight" in state


def is_official_resnet(state: dict) -> bool:
    return "model.1.weight" in state and any(".conv_block." in k for k in state)


def unet_config_from_state(state: dict[str, torch.Tensor]) -> dict:
    """Infer input/output channels, width, depth and norm of an official-layout U-Net."""
    first = state["model.model.0.weight"]  # [ngf, input_nc, 4, 4]
    last = state["model.model.3.weight"]  # ConvTranspose2d [2*ngf, output_nc, 4, 4]
    if first.ndim != 4 or last.ndim != 4:
        raise UserError("model.model.0.weight and model.model.3.weight must be 4-D conv weights")
    depth = max(k.count("model.") for k in state) - 1  # one nested `model.` per level
    return {
        "_target_": DEFAULT_GENERATOR,
        "input_nc": first.shape[1],
        "output_nc": last.shape[1],
        "ngf": first.shape[0],
        "num_downs": depth,
        "norm": _norm_of_state(state),
    }


def resnet_config_from_state(state: dict[str, torch.Tensor]) -> dict:
    """Infer channels, width, block count, norm and dropout of an official ResNet generator."""
    first = state["model.1.weight"]  # [ngf, input_nc, 7, 7]
    if first.ndim != 4:
        raise UserError("model.1.weight must be a 4-D conv weight")
    blocks = {k.split(".")[1] for k in state if ".conv_block." in k}
    last = max((k for k in state if k.endswith(".weight")), key=lambda k: int(k.split(".")[1]))
    return {
        "_target_": "revive.nets.resnet.ResnetGenerator",
        "input_nc": first.shape[1],
        "output_nc": state[last].shape[0],
        "n_blocks": len(blocks),
        "ngf": first.shape[0],
        "norm": _norm_of_state(state),
        # a Dropout shifts the block's second conv from index 5 to 6
        "dropout": 0.5 if any(k.endswith("conv_block.6.weight") for k in state) else 0.0,
    }


def _norm_of_state(state: dict[str, torch.Tensor]) -> str:
    # official instance norm has no affine weights and no running statistics
    return "batch" if any(k.endswith("running_mean") for k in state) else "instance"


def generator_config(spec: object, source: object) -> dict:
    """The generator config a file claims (a dict, or None for the official U-Net), as a dict."""
    if spec is not None and not isinstance(spec, dict):
        raise UserError(f"{source}: its generator config is a {type(spec).__name__}, not a dict")
    return net_config(spec, DEFAULT_GENERATOR)


def read_exported(path: str | os.PathLike) -> tuple[dict, dict[str, torch.Tensor], ColorSpace]:
    """Generator config, weights and color space of a :mod:`revive.weights.export` file."""
    path = local_file(path)
    with reading(path):
        with safe_open(str(path), framework="pt", device="cpu") as f:
            meta = f.metadata() or {}
            if meta.get("format") != EXPORT_FORMAT:
                raise UserError(f"{path} is not a revive colorizer export (metadata {meta})")
            state = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (no __iter__)
        cfg = generator_config(json.loads(meta["generator"]), path)
        return cfg, state, get_color_space(meta["color_space"])


def read_colorizer(path: str | os.PathLike) -> tuple[dict, dict[str, torch.Tensor], ColorSpace]:
    """The generator config (with its channel counts), weights and color space in ``path``.

    Any failure to read the file, or a file that does not describe a colorizer, raises one
    :class:`UserError` naming it.
    """
    if str(path).endswith(".safetensors"):
        return read_exported(path)
    ckpt = load_checkpoint(path)
    with reading(path):
        return _colorizer_from(ckpt, path)


def _colorizer_from(
    ckpt: dict, path: str | os.PathLike
) -> tuple[dict, dict[str, torch.Tensor], ColorSpace]:
    if "state_dict" in ckpt and "hyper_parameters" in ckpt:
        hp, weights = ckpt["hyper_parameters"], ckpt["state_dict"]
        if not isinstance(hp, dict) or not isinstance(weights, dict):
            raise UserError(f"{path}: hyper_parameters and state_dict must both be dicts")
        # the weights' moving average (model.ema_decay) is the model that validation scored
        state = strip_prefix(weights, "generator_ema.") or strip_prefix(weights, "generator.")
        if not state:
            raise UserError(
                f"{path} is a Lightning checkpoint without a generator (not a colorizer?)"
            )
        space = get_color_space(hp.get("color_space", "lab"))
        cfg = generator_config(hp.get("generator"), path)
        cfg.update(input_nc=space.in_channels, output_nc=space.out_channels)
        return cfg, state, space
    if is_official_unet(ckpt) or is_official_resnet(ckpt):
        state = {k: v for k, v in ckpt.items() if not k.endswith("num_batches_tracked")}
        unet = is_official_unet(ckpt)
        cfg = unet_config_from_state(state) if unet else resnet_config_from_state(state)
        if cfg["input_nc"] != 1 or cfg["output_nc"] not in SPACE_BY_OUTPUT:
            raise UserError(
                f"{path} is a generator {cfg['input_nc']}->{cfg['output_nc']} channels; "
                "a colorizer takes 1 gray channel and predicts 2 (LAB ab) or 3 (RGB)"
            )
        return cfg, state, get_color_space(SPACE_BY_OUTPUT[cfg["output_nc"]])
    keys = ", ".join(map(str, list(ckpt)[:5]))
    raise UserError(
        f"{path}: unknown colorizer format (first keys: {keys}). Known: a checkpoint from "
        "train.py (keys 'state_dict', 'hyper_parameters'), an official pix2pix U-Net *_net_G.pth "
        "(keys 'model.model.0.weight', …) or ResNet *_net_G.pth / CycleGAN *_net_G_A.pth "
        "(keys 'model.1.weight', 'model.10.conv_block.1.weight', …)"
    )


def build_colorizer(cfg: dict, state: dict[str, torch.Tensor], source: object) -> nn.Module:
    """The network of a stored generator config with ``state`` loaded, checked first.

    Pretrained encoder weights are not fetched: the stored weights replace them. The claimed
    architecture is built on the meta device and compared with ``state`` before any memory is
    allocated (:func:`revive.safe.load.build_checked`).
    """
    if "encoder_weights" in cfg:
        cfg = {**cfg, "encoder_weights": None}
    if cfg.get("_target_") == DEFAULT_GENERATOR:
        num_downs = cfg.get("num_downs", 8)
        if not isinstance(num_downs, int) or not 5 <= num_downs <= MAX_NUM_DOWNS:
            raise UserError(f"{source}: num_downs={num_downs!r}, expected 5 to {MAX_NUM_DOWNS}")
    return build_checked(lambda: build_net(cfg), state, source)


def load_colorizer(path: str | os.PathLike) -> tuple[nn.Module, ColorSpace]:
    """Build the generator stored in ``path`` (ours or official) in eval mode, and its space."""
    cfg, state, space = read_colorizer(path)
    return build_colorizer(cfg, state, path).eval(), space
