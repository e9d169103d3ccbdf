"""Loading checkpoint files without running pickled code."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """``torch.load(weights_only=True)`` on CPU, or safetensors, with errors that name the file.

    Lightning checkpoints hold an ``AttributeDict`` of hyper-parameters, which we allow; any
    other class is refused rather than executed.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return dict(load_file(path, device="cpu"))
    from lightning.fabric.utilities.data import AttributeDict

    try:
        with torch.serialization.safe_globals([AttributeDict]):
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises UnpicklingError or RuntimeError depending on the file
        raise ValueError(
            f"{path} could not be loaded safely (weights_only=True): {e}".split("\n")[0]
        ) from e
    if not isinstance(obj, dict):
        raise ValueError(f"{path} holds a {type(obj).__name__}, not a state dict or checkpoint")
    return obj


def strip_prefix(state: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """Keys under ``prefix`` with the prefix removed (e.g. ``generator.`` or ``module.``)."""
    return {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}


def load_state_strict(net: torch.nn.Module, state: dict[str, torch.Tensor], source: object) -> None:
    """Strict ``load_state_dict`` that tolerates only absent BatchNorm step counters.

    Files saved by old PyTorch versions lack ``num_batches_tracked``; every other missing or
    unexpected key is an error naming ``source``.
    """
    result = net.load_state_dict(state, strict=False)
    missing = [k for k in result.missing_keys if not k.endswith("num_batches_tracked")]
    if missing or result.unexpected_keys:
        raise ValueError(
            f"{source} does not fit {type(net).__name__}: missing {missing[:5]}, "
            f"unexpected {result.unexpected_keys[:5]}"
        )
