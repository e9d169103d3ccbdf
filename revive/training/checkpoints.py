"""Checkpoint files of training runs: written atomically, read tensors-only.

The auto-resume lookup is ``resolve_ckpt_path`` in :mod:`revive.training.run`; it checks the
file with :func:`read_checkpoint` before Lightning opens it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO

from revive.errors import UserError
from revive.io import atomic_path
from revive.safe.load import load_checkpoint


class AtomicCheckpointIO(TorchCheckpointIO):
    """Write each checkpoint to a temporary file and rename it into place; read tensors-only.

    A job killed while saving leaves the previous ``last.ckpt`` intact instead of a torn file.
    Reading never runs pickled code and never fetches a URL, whatever Lightning is asked.
    """

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: str | os.PathLike, storage_options: Any = None
    ) -> None:
        with atomic_path(path) as tmp:
            super().save_checkpoint(checkpoint, tmp, storage_options)

    def load_checkpoint(
        self, path: str | os.PathLike, map_location: Any = None, weights_only: bool | None = None
    ) -> dict[str, Any]:
        return read_checkpoint(path)


def read_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """A training checkpoint, tensors-only; a damaged one names the others of its folder."""
    try:
        return load_checkpoint(path)
    except UserError as e:
        raise UserError(f"{e}. {earlier_checkpoints_hint(Path(path))}") from e


def earlier_checkpoints_hint(path: Path) -> str:
    """What to resume from instead of ``path``: the other checkpoints beside it, newest first."""
    others = sorted(
        (p for p in path.parent.glob("*.ckpt") if p.name != path.name and p.is_file()),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    if not others:
        return f"No other checkpoint is beside it: move {path.name} away to start over"
    return (
        f"Resume from an earlier checkpoint with 'ckpt_path=\"{others[0]}\"'"
        + (f" (others: {', '.join(p.name for p in others[1:4])})" if others[1:] else "")
        + f", or move {path.name} away to start over"
    )
