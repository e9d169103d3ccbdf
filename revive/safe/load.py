"""Loading checkpoint files without running pickled code, and checking them before building.

Every weights file is someone else's: it may be damaged, or made to hurt. So a file is read
tensors-only (``weights_only=True``, safetensors, or :mod:`revive.safe.pickled`'s inert
reader), every failure to read it becomes one :class:`~revive.errors.UserError` that names it
(:func:`reading`), and the network it describes is checked against its tensors on the meta
device, within :data:`MAX_PARAMETERS`, before any real memory is allocated (:func:`build_checked`).
"""

from __future__ import annotations

import os
import re
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import torch

from revive.errors import UserError, one_line
from revive.safe.pickled import check_stored

# What one weights file may make revive allocate: the official unet_256 has 54.4 M parameters
# and a training checkpoint of it (G, D and Adam's moments) weighs about 0.7 GB.
MAX_PARAMETERS = 100_000_000
MAX_FILE_BYTES = 4 << 30
LEGACY_START = b"\x80"  # the PROTO opcode that starts torch.save's pre-1.6 format
URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")

Net = TypeVar("Net", bound=torch.nn.Module)


def is_url(path: str | os.PathLike) -> bool:
    """``scheme://...``: what Lightning and torch.hub would fetch instead of opening a file."""
    return bool(URL.match(str(path)))


@contextmanager
def reading(path: str | os.PathLike) -> Iterator[None]:
    """Any failure while decoding the untrusted ``path`` becomes one UserError naming it.

    A hostile file can make any parser fail in any way (truncated zips, wrong types where
    dicts belong, absurd shapes); none of that is a bug of revive's to show as a traceback.
    """
    try:
        yield
    except UserError as e:
        if str(path) in str(e):
            raise
        raise UserError(f"{path}: {e}") from e
    except Exception as e:  # the file, not the code, is at fault (MemoryError included)
        raise UserError(f"{path} cannot be read: {_reason(e)}") from e


def _reason(error: BaseException) -> str:
    """The telling part of an error: torch's weights-only refusals start with general advice."""
    paragraphs = [p for p in str(error).split("\n\n") if p.strip()]
    if len(paragraphs) > 1 and paragraphs[0].startswith("Weights only load failed"):
        return f"refused by tensors-only loading (weights_only=True): {one_line(paragraphs[1])}"
    return f"{type(error).__name__}: {one_line(paragraphs[0]) if paragraphs else ''}"


def local_file(path: str | os.PathLike) -> Path:
    """``path`` as an existing local file of sane size, or a UserError saying why not."""
    if is_url(path):
        raise UserError(f"{path} is a URL; revive reads weights only from local files")
    path = Path(path).expanduser()
    if not path.is_file():
        raise UserError(f"checkpoint not found: {path}")
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise UserError(
            f"{path} is {size / 2**30:.1f} GiB, over the {MAX_FILE_BYTES >> 30} GiB limit"
        )
    return path


def _check_container(path: Path) -> None:
    """A torch.save file is a complete zip of uncompressed entries, or a legacy pickle stream.

    A zip without its closing directory was truncated, and torch's own message would not say
    so plainly; a compressed entry could unpack to anything (:func:`check_stored`).
    """
    if not zipfile.is_zipfile(path):
        with path.open("rb") as f:
            if f.read(1) != LEGACY_START:
                raise UserError(
                    f"{path} is not a complete torch checkpoint (no zip directory at its end, "
                    "no legacy header): truncated, damaged, or another kind of file"
                )
        return
    with zipfile.ZipFile(path) as archive:
        check_stored(archive, path)


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """``torch.load(weights_only=True)`` on CPU, or safetensors; any failure names the file.

    Lightning checkpoints hold an ``AttributeDict`` of hyper-parameters, which we allow; any
    other class is refused rather than executed.
    """
    path = local_file(path)
    with reading(path):
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return dict(load_file(path, device="cpu"))
        from lightning.fabric.utilities.data import AttributeDict

        _check_container(path)
        with torch.serialization.safe_globals([AttributeDict]):
            obj = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(obj, dict):
        raise UserError(f"{path} holds a {type(obj).__name__}, not a state dict or checkpoint")
    return obj


def strip_prefix(state: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """Keys under ``prefix`` with the prefix removed (e.g. ``generator.`` or ``module.``)."""
    return {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}


def check_tensors(state: Any, source: object) -> dict[str, torch.Tensor]:
    """``state`` if it maps names to tensors that each own their bytes.

    A file can make many large tensors out of one small storage (shared, or with zero
    strides), so the bytes its tensors claim must not exceed the bytes their storages hold.
    """
    if not isinstance(state, dict):
        raise UserError(f"{source}: the weights are a {type(state).__name__}, not a dict")
    claimed, storages = 0, {}
    for key, value in state.items():
        if not isinstance(key, str) or not isinstance(value, torch.Tensor):
            raise UserError(f"{source}: entry {key!r} is a {type(value).__name__}, not a tensor")
        storage = value.untyped_storage()
        storages[(storage.data_ptr(), storage.nbytes())] = storage.nbytes()
        claimed += value.numel() * value.element_size()
    held = sum(storages.values())
    if claimed > held:
        raise UserError(
            f"{source}: its tensors claim {claimed:,} bytes but their storage holds {held:,}: "
            "tensors that share or repeat one storage are refused"
        )
    return state


def build_checked(
    factory: Callable[[], Net], state: dict[str, torch.Tensor], source: object
) -> Net:
    """Build ``factory()`` and load ``state`` into it, after checking on the meta device.

    The architecture that a file claims (hyper-parameters, metadata, or shapes read off some of
    its tensors) is built without memory first; every key and shape must match the file's
    tensors and the parameters stay within :data:`MAX_PARAMETERS`, or nothing real is built.
    """
    check_tensors(state, source)
    try:
        with torch.device("meta"):
            ghost = factory()
    except (TypeError, ValueError, RuntimeError, OverflowError) as e:
        raise UserError(f"{source}: its architecture cannot be built: {one_line(e)}") from e
    expected = ghost.state_dict()
    _check_keys(expected, state, ghost, source)
    for key, want in expected.items():
        if key in state and state[key].shape != want.shape:
            raise UserError(
                f"{source}: {key} has shape {list(state[key].shape)}, its architecture "
                f"needs {list(want.shape)}"
            )
    count = sum(p.numel() for p in ghost.parameters())
    if count > MAX_PARAMETERS:
        raise UserError(f"{source}: {count:,} parameters, over the limit of {MAX_PARAMETERS:,}")
    net = factory()
    net.load_state_dict(state, strict=False)
    return net


def _check_keys(expected: dict, state: dict, net: torch.nn.Module, source: object) -> None:
    """Strict keys, tolerating only absent BatchNorm step counters (old PyTorch files)."""
    missing = [k for k in expected if k not in state and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in state if k not in expected]
    if missing or unexpected:
        raise UserError(
            f"{source} does not fit {type(net).__name__}: missing {missing[:5]}, "
            f"unexpected {unexpected[:5]}"
        )
