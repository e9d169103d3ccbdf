"""The colorizer that ships with revive, used when no ``colorizer=`` is given.

``revive/weights/shipped/colorizer.safetensors`` is a ``revive.weights.export`` file (fp16
weights, the architecture and the render size it was trained at in its metadata). Its model
card is ``docs/model_card.md``: the data it learned from (non-commercial research use only),
the command, the time, its scores against the gray and wash floors, and where it fails.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from safetensors import safe_open

from revive.errors import UserError
from revive.safe.load import local_file, reading

SHIPPED_COLORIZER = Path(__file__).parent / "shipped" / "colorizer.safetensors"
# Checked by the tests: a changed file must come with a new model card.
SHIPPED_SHA256 = "c0d63c62751a7f4c0c28394eeffc3b930a4296ac291afcbb0c16294e7cb9df59"
# The render size of files that record none (checkpoints, official weights).
DEFAULT_RENDER_SIZE = 256


def shipped_colorizer() -> Path:
    """The shipped colorizer's path; a clear error when an install lacks it."""
    if not SHIPPED_COLORIZER.is_file():
        raise UserError(
            f"the shipped colorizer {SHIPPED_COLORIZER} is missing from this install; "
            "reinstall revive, or give colorizer=PATH (a train.py checkpoint or an export)"
        )
    return SHIPPED_COLORIZER


def sha256_of(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def export_metadata(path: str | os.PathLike) -> dict[str, str]:
    """The metadata of a safetensors file ({} for any other kind of file); a damaged one is
    one UserError naming it, as the loaders report it."""
    if not str(path).endswith(".safetensors"):
        return {}
    with reading(path), safe_open(str(local_file(path)), framework="pt", device="cpu") as f:
        return dict(f.metadata() or {})


def recorded_render_size(path: str | os.PathLike) -> int | None:
    """The render size a colorizer file says it was trained for (an export's ``render_size``
    metadata), or None when it records none."""
    value = export_metadata(path).get("render_size")
    if value is None:
        return None
    try:
        size = int(json.loads(value))
    except (ValueError, TypeError):
        raise UserError(f"{path}: render_size metadata {value!r} is not a whole number") from None
    if size < 1:
        raise UserError(f"{path}: render_size metadata {size} is not positive")
    return size
