"""Colorizer weights: our Lightning checkpoints and the official pix2pix ``*_net_G.pth`` files.

The format is told from the keys, never from the file name:
- official: a plain state dict, of a U-Net (``model.model.0.weight``, …) or of a ResNet
  generator (``model.1.weight``, ``model.10.conv_block.1.weight``, …; CycleGAN's ``*_net_G_A``);
- ours: a Lightning checkpoint with ``state_dict`` (``generator.…``) and ``hyper_parameters``,
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
from revive.nets.build import DEFAULT_GENERATOR, build_net, net_config
from revive.weights.safe import load_checkpoint, load_state_strict, strip_prefix

# The ``format`` metadata of a colorizer exported by revive.weights.export.
EXPORT_FORMAT = "revive-colorizer"
# Which color space a 1-channel-input generator was trained in, by its output channels.
SPACE_BY_OUTPUT = {2: "lab", 3: "rgb"}


def is_official_unet(state: dict) -> bool:
    return "model.model.0.weight" in state


def is_official_resnet(state: dict) -> bool:
    return "model.1.weight" in state and any(".conv_block." in k for k in state)


def unet_config_from_state(state: dict[str, torch.Tensor]) -> dict:
    """Infer input/output channels, width, depth and norm of an official-layout U-Net."""
    first = state["model.model.0.weight"]  # [ngf, input_nc, 4, 4]
    last = state["model.model.3.weight"]  # ConvTranspose2d [2*ngf, output_nc, 4, 4]
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


def read_exported(path: str | os.PathLike) -> tuple[dict, dict[str, torch.Tensor], ColorSpace]:
    """Generator config, weights and color space of a :mod:`revive.weights.export` file."""
    with safe_open(str(path), framework="pt", device="cpu") as f:
        meta = f.metadata() or {}
        if meta.get("format") != EXPORT_FORMAT:
            raise ValueError(f"{path} is not a revive colorizer export (metadata {meta})")
        state = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (safe_open has no __iter__)
    cfg = net_config(json.loads(meta["generator"]), DEFAULT_GENERATOR)
    return cfg, state, get_color_space(meta["color_space"])


def read_colorizer(path: str | os.PathLike) -> tuple[dict, dict[str, torch.Tensor], ColorSpace]:
    """The generator config (with its channel counts), weights and color space in ``path``."""
    if str(path).endswith(".safetensors"):
        return read_exported(path)
    ckpt = load_checkpoint(path)
    if "state_dict" in ckpt and "hyper_parameters" in ckpt:
        hp = ckpt["hyper_parameters"]
        state = strip_prefix(ckpt["state_dict"], "generator.")
        if not state:
            raise ValueError(
                f"{path} is a Lightning checkpoint without a generator (not a colorizer?)"
            )
        space = get_color_space(hp.get("color_space", "lab"))
        cfg = net_config(hp.get("generator"), DEFAULT_GENERATOR)
        cfg.update(input_nc=space.in_channels, output_nc=space.out_channels)
        return cfg, state, space
    if is_official_unet(ckpt) or is_official_resnet(ckpt):
        state = {k: v for k, v in ckpt.items() if not k.endswith("num_batches_tracked")}
        unet = is_official_unet(ckpt)
        cfg = unet_config_from_state(state) if unet else resnet_config_from_state(state)
        if cfg["input_nc"] != 1 or cfg["output_nc"] not in SPACE_BY_OUTPUT:
            raise ValueError(
                f"{path} is a generator {cfg['input_nc']}->{cfg['output_nc']} channels; "
                "a colorizer takes 1 gray channel and predicts 2 (LAB ab) or 3 (RGB)"
            )
        return cfg, state, get_color_space(SPACE_BY_OUTPUT[cfg["output_nc"]])
    keys = ", ".join(list(ckpt)[:5])
    raise ValueError(
        f"{path}: unknown colorizer format (first keys: {keys}). Known: a checkpoint from "
        "train.py (keys 'state_dict', 'hyper_parameters'), an official pix2pix U-Net *_net_G.pth "
        "(keys 'model.model.0.weight', …) or ResNet *_net_G.pth / CycleGAN *_net_G_A.pth "
        "(keys 'model.1.weight', 'model.10.conv_block.1.weight', …)"
    )


def build_colorizer(cfg: dict) -> nn.Module:
    """The network of a stored generator config, without fetching pretrained encoder weights:
    the stored weights replace them."""
    if "encoder_weights" in cfg:
        cfg = {**cfg, "encoder_weights": None}
    return build_net(cfg)


def load_colorizer(path: str | os.PathLike) -> tuple[nn.Module, ColorSpace]:
    """Build the generator stored in ``path`` (ours or official) in eval mode, and its space."""
    cfg, state, space = read_colorizer(path)
    net = build_colorizer(cfg)
    load_state_strict(net, state, path)
    return net.eval(), space
