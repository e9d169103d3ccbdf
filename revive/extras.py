"""Optional features and the pip extra each needs: a missing one is one line, not a traceback.

``pip install revive`` installs what train, predict and eval need. The web page, the ONNX
export, super-resolution and the pretrained encoders pull in large packages (gradio, onnx,
spandrel, timm ...) that most users never touch, so they are extras (``pyproject.toml``). The
code that needs one imports it through :func:`require`, which turns a missing package into a
:class:`MissingExtra` (a :class:`~revive.errors.UserError`): every entry point prints it as one
line naming the extra to install, and exits with status 2.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from revive.errors import UserError

# extra -> what it is for, as the one-line message names it
EXTRAS = {
    "app": "the web page",
    "export": "ONNX (export and backend=onnx)",
    "sr": "super-resolution (upscaler=...)",
    "encoders": "the pretrained encoders (timm, segmentation-models-pytorch)",
}


class MissingExtra(UserError):
    """A feature's package is not installed; the message says which extra brings it."""


def require(extra: str, module: str) -> ModuleType:
    """Import ``module`` (a package of ``revive[extra]``), or raise :class:`MissingExtra`.

    Only a module that is not installed at all (``ModuleNotFoundError``, the module itself or a
    package it imports, e.g. timm's torchvision) becomes the one line; any other error while
    importing it is a real bug and passes through.
    """
    if extra not in EXTRAS:
        raise KeyError(f"unknown extra {extra!r}; known: {', '.join(EXTRAS)}")
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as e:
        missing = e.name or module
        raise MissingExtra(
            f"{EXTRAS[extra]} needs {missing}, which is not installed: "
            f"pip install 'revive[{extra}]'"
        ) from None
