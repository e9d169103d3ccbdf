"""What a weights file holds, read from the file itself: a colorizer or a denoiser.

``eval.py`` picks its evaluator with this, so that ``weights=FILE`` alone says what to score;
the loaders' own readers decide (every format they accept is recognized, nothing is guessed
from the file's name except ONNX, whose exports record their kind in their metadata).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from revive.errors import UserError

Kind = Literal["colorizer", "denoiser"]


def weights_kind(path: str | os.PathLike) -> Kind:
    """``"colorizer"`` or ``"denoiser"``; a file that is neither is one UserError that gives
    both readers' reasons."""
    if Path(path).suffix.lower() == ".onnx":
        from revive.weights.onnx_runtime import COLORIZER_FORMAT, OnnxNetwork

        try:
            net = OnnxNetwork(path, "cpu")
        except ValueError as e:
            raise UserError(str(e)) from e
        return "colorizer" if net.format == COLORIZER_FORMAT else "denoiser"
    from revive.weights.colorizer import read_colorizer
    from revive.weights.dncnn import read_denoiser_state

    try:
        read_colorizer(path)
        return "colorizer"
    except UserError as not_colorizer:
        try:
            read_denoiser_state(path)
        except UserError as not_denoiser:
            raise UserError(
                f"{path} is neither a colorizer ({not_colorizer}) nor a denoiser ({not_denoiser})"
            ) from None
        return "denoiser"
