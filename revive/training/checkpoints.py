"""Checkpoint files of training runs: written atomically, read tensors-only, and which one a
run starts from (``ckpt_path=``, or ``last.ckpt`` with ``auto_resume=true``), checked with
:func:`read_checkpoint` before Lightning opens it.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO
from omegaconf import DictConfig

from revive.errors import UserError
from revive.io import atomic_path
from revive.safe.load import is_url, load_checkpoint

log = logging.getLogger(__name__)


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


def resolve_ckpt_path(cfg: DictConfig) -> str | None:
    """An explicit ``ckpt_path``, or ``last.ckpt`` of this run folder when auto-resume is on.

    The file is read tensors-only here, so that a damaged one stops the run before anything is
    built, with a message naming it; the absolute path that is returned is what Lightning
    opens (a relative ``http_model.ckpt`` would be fetched as a URL from torch's download
    cache). A URL is refused unless ``allow_url=true``; it is then downloaded into the run
    folder and read tensors-only like any file. With ``auto_resume=false`` a folder that
    already holds checkpoints is refused rather than overwritten.
    """
    if cfg.get("ckpt_path") is not None:
        path = _checkpoint_file(str(cfg.ckpt_path), cfg)
        read_checkpoint(path)
        return str(path)
    ckpt_dir = Path(cfg.paths.output_dir) / "checkpoints"
    last = ckpt_dir / "last.ckpt"
    if cfg.get("auto_resume", False):
        if last.is_file():
            log.info("auto-resume: continuing from %s", last)
            try:
                read_checkpoint(last)
            except UserError as e:
                raise UserError(f"auto-resume: {e}") from e
            return str(last.resolve())
    elif ckpt_dir.is_dir() and any(ckpt_dir.glob("*.ckpt")):
        raise UserError(
            f"{ckpt_dir} already holds checkpoints of an earlier run. Resume it with "
            "auto_resume=true, start from one of them with ckpt_path=..., or give this run "
            "another folder with name=... (or delete that folder)."
        )
    return None


def _checkpoint_file(given: str, cfg: DictConfig) -> Path:
    """``ckpt_path`` as an absolute local file (a URL downloaded first, if allowed)."""
    if is_url(given):
        if not cfg.get("allow_url", False):
            raise UserError(
                f"ckpt_path={given} is a URL; download it yourself, or add allow_url=true "
                "(it is then downloaded into the run folder and read tensors-only)"
            )
        import torch.hub

        dest = Path(cfg.paths.output_dir) / "downloads" / (Path(given).name or "checkpoint.ckpt")
        if not dest.is_file():
            dest.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(dest) as tmp:
                torch.hub.download_url_to_file(given, str(tmp))
        return dest.resolve()
    path = Path(given).expanduser()
    if not path.is_file():
        raise UserError(f"ckpt_path={given} does not exist")
    return path.resolve()
