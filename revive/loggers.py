"""Logger factories whose behaviour depends on the environment."""

from __future__ import annotations

import os
from typing import Any

from lightning.pytorch.loggers import WandbLogger


def wandb_mode() -> str:
    """``WANDB_MODE`` when set; online when an API key is present; offline otherwise."""
    if os.environ.get("WANDB_MODE"):
        return os.environ["WANDB_MODE"]
    return "online" if os.environ.get("WANDB_API_KEY") else "offline"


def wandb_logger(**kwargs: Any) -> WandbLogger:
    """A WandbLogger that never blocks on a login prompt: offline unless credentials exist."""
    os.makedirs(kwargs.get("save_dir", "."), exist_ok=True)
    kwargs.setdefault("mode", wandb_mode())
    return WandbLogger(**kwargs)
