"""Logger factories whose behaviour depends on the environment."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from lightning.pytorch.loggers import WandbLogger


def wandb_mode() -> str:
    """``WANDB_MODE`` when set; online when an API key is present; offline otherwise."""
    if os.environ.get("WANDB_MODE"):
        return os.environ["WANDB_MODE"]
    return "online" if os.environ.get("WANDB_API_KEY") else "offline"


def run_tags(tags: Sequence[str] = (), tag_values: Mapping[str, Any] | None = None) -> list[str]:
    """``tags`` plus ``key=value`` for each ``tag_values`` entry that is set (λ only exists for
    pix2pix, σ only for DnCNN), without duplicates."""
    out = [str(t) for t in tags if t is not None]
    out += [f"{k}={v}" for k, v in (tag_values or {}).items() if v is not None]
    return list(dict.fromkeys(out))


def folder_run_id(folder: str | os.PathLike) -> str:
    """A wandb run id derived from the run folder: a resumed run continues its wandb run."""
    return hashlib.sha1(str(Path(folder).resolve()).encode()).hexdigest()[:16]


def wandb_logger(
    save_dir: str,
    tags: Sequence[str] = (),
    tag_values: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> WandbLogger:
    """A WandbLogger that never blocks on a login prompt: offline unless credentials exist.

    The run is named after its folder (the overrides that define it) and keeps the folder's id,
    so that launching it again resumes the same wandb run instead of creating a duplicate.
    """
    os.makedirs(save_dir, exist_ok=True)
    kwargs.setdefault("mode", wandb_mode())
    kwargs.setdefault("name", Path(save_dir).resolve().name)
    kwargs.setdefault("id", folder_run_id(save_dir))
    kwargs.setdefault("resume", "allow")
    return WandbLogger(save_dir=save_dir, tags=run_tags(tags, tag_values), **kwargs)


def finish_wandb(loggers: Sequence[Any], failed: bool = False) -> None:
    """End the wandb runs of ``loggers``: flushes them, and lets the next run of a sequential
    sweep start its own wandb run (Lightning would otherwise reuse the one in progress)."""
    for logger in loggers:
        if isinstance(logger, WandbLogger) and logger._experiment is not None:
            logger.experiment.finish(exit_code=1 if failed else 0)
