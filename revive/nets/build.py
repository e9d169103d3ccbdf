"""Networks built from a config alone: ``{"_target_": "revive.nets.resnet.ResnetGenerator", ...}``.

Hydra composes the configs (``conf/model/generator/*.yaml``) as ``_partial_`` factories; the
model turns them back into plain dicts with :func:`net_config`, stores those in its checkpoint,
and :func:`build_net` rebuilds the network from the dict. Only classes under ``revive.nets``
are built, so a checkpoint cannot name arbitrary code to run.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable, Mapping
from typing import Any

from torch import nn

PACKAGE = "revive.nets."
# A config without ``_target_`` (checkpoints from before generators were swappable) is a U-Net.
DEFAULT_GENERATOR = "revive.nets.unet.UnetGenerator"
DEFAULT_DISCRIMINATOR = "revive.nets.patchgan.PatchDiscriminator"

NetSpec = Mapping[str, Any] | Callable[..., nn.Module] | None


def net_config(spec: NetSpec, default_target: str) -> dict[str, Any]:
    """A plain-dict config from a ``functools.partial`` (Hydra ``_partial_``), a dict or None."""
    if spec is None:
        return {"_target_": default_target}
    if isinstance(spec, functools.partial):
        func = spec.func
        return {"_target_": f"{func.__module__}.{func.__qualname__}", **spec.keywords}
    if isinstance(spec, Mapping):
        cfg = {k: v for k, v in spec.items() if k != "_partial_"}
        return {"_target_": cfg.pop("_target_", default_target), **cfg}
    raise TypeError(f"a network is given by a config dict or a partial, not {type(spec).__name__}")


def build_net(cfg: Mapping[str, Any], **kwargs: Any) -> nn.Module:
    """Instantiate ``cfg`` (see :func:`net_config`) with extra ``kwargs`` (channel counts)."""
    params = dict(cfg)
    target = str(params.pop("_target_"))
    module_name, _, class_name = target.rpartition(".")
    if not target.startswith(PACKAGE) or not class_name.isidentifier():
        raise ValueError(f"network {target!r} is not a class of the revive.nets package")
    cls = getattr(importlib.import_module(module_name), class_name, None)
    if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
        raise ValueError(f"network {target!r} is not an nn.Module class")
    return cls(**kwargs, **params)
