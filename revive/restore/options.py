"""The options of reviving a photo, written once: which networks, on what, at what size.

``predict.py``, ``eval.py``, the web page, ``revive-compare test_dir=`` and training's test folders
all build a :class:`RestoreOptions` and pass it to :func:`revive.restore.load_restorer`, so an
option means the same thing everywhere. Its config is ``conf/restore/default.yaml``, which the
three command configs compose; a test keeps the YAML's keys and this class's fields equal.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from revive.errors import UserError

PathLike = str | os.PathLike


@dataclass(frozen=True)
class RestoreOptions:
    """How photos are revived; every field is a key of ``conf/restore/default.yaml``."""

    # A train.py checkpoint, a .safetensors export, an official pix2pix *_net_G.pth or (backend
    # onnx) an .onnx export; None: the colorizer that ships with revive.
    colorizer: PathLike | None = None
    denoiser: PathLike | None = None  # DnCNN weights; None: no denoising
    upscaler: PathLike | None = None  # super-resolution weights that spandrel reads
    backend: str = "torch"  # or "onnx"
    device: str = "auto"
    # The colorizer's canvas (long side); None: the size the colorizer file records, else 256.
    render_size: int | None = None
    tile_size: int = 512  # denoising tiles (memory, not the result)
    precision: str = "auto"  # the denoiser's arithmetic: auto, 32, bf16
    upscale_tile_size: int = 192
    upscale_overlap: int = 16
    upscale_max_pixels: int | None = 150_000_000
    max_side: int | None = None  # cap on the output's long side
    max_pixels: int | None = None  # cap on the output's pixels (predict: also PIL's input limit)

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any]) -> RestoreOptions:
        """The options held in a composed command config; a missing one is an error that names
        it (every command composes ``conf/restore/default.yaml``, so none should be)."""
        missing = [f.name for f in fields(cls) if f.name not in cfg]
        if missing:
            raise UserError(f"restore options missing from the config: {', '.join(missing)}")
        return cls(**{f.name: cfg[f.name] for f in fields(cls)})

    @classmethod
    def keys(cls) -> list[str]:
        return [f.name for f in fields(cls)]
