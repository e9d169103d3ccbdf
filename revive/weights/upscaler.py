"""Published super-resolution weights (ESRGAN, Real-ESRGAN, SwinIR, RCAN, HAT ...) via spandrel.

spandrel reads the architecture and the scale off the state dict's keys and shapes. The file
itself is read by :func:`revive.safe.load.load_checkpoint` (tensors only, or safetensors), so
a pickle that would run code is refused before spandrel sees anything.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import torch

from revive.errors import UserError
from revive.extras import require
from revive.safe.load import check_tensors, load_checkpoint

if TYPE_CHECKING:
    import spandrel


def load_upscaler(path: str | os.PathLike) -> spandrel.ImageModelDescriptor:
    """The super-resolution model in ``path``, in eval mode on the CPU, with its scale.

    Raises a :class:`UserError` with one line that says what is wrong (also when spandrel, the
    ``revive[sr]`` extra, is not installed).
    """
    spandrel = require("sr", "spandrel")
    # unwrapped from params_ema / params / state_dict as spandrel does, then checked for
    # shared-storage tricks before any network is built
    state = check_tensors(spandrel.canonicalize_state_dict(load_checkpoint(path)), path)
    try:
        model = spandrel.ModelLoader(device="cpu").load_from_state_dict(state)
    except spandrel.UnsupportedModelError:
        raise UserError(
            f"{path} is not a super-resolution model that spandrel recognizes "
            "(ESRGAN, Real-ESRGAN, SwinIR, RCAN, HAT ...)"
        ) from None
    except (KeyError, RuntimeError, ValueError, TypeError) as e:
        raise UserError(
            f"{path} looks like an SR model but does not load: {e}".split("\n")[0]
        ) from e
    if not isinstance(model, spandrel.ImageModelDescriptor) or model.purpose != "SR":
        raise UserError(f"{path} holds a {model.architecture.name} {model.purpose} model, not SR")
    if model.input_channels not in (1, 3) or model.output_channels != model.input_channels:
        raise UserError(
            f"{path} maps {model.input_channels} to {model.output_channels} channels; "
            "only gray (1->1) or RGB (3->3) models fit"
        )
    return model.eval().to(torch.device("cpu"))
