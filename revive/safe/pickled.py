"""Reading tensors out of whole pickled modules (``torch.save(model)``) without running their code.

``torch.load(weights_only=True)`` refuses such files because the pickle names classes such as
``__main__.DnCNN``; ``weights_only=False`` would import and call whatever the file names. This
reader imports nothing from the file: only ``OrderedDict`` and tensor rebuilding are real, and
every other global the pickle names becomes an inert :class:`PickledObject` that just keeps the
arguments and the ``__dict__`` it is given. A module tree thus comes back as records whose
``_parameters``, ``_buffers`` and ``_modules`` hold the tensors, and
:func:`module_state` turns it into a plain state dict.

Both of PyTorch's on-disk formats are read: the legacy one (before 1.6: pickles followed by raw
storages) and the zip one (``archive/data.pkl`` and ``archive/data/<key>``).
"""

from __future__ import annotations

import io
import os
import pickle
import struct
import zipfile
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C  # the first pickle of a legacy torch.save file

STORAGE_DTYPES = {
    "FloatStorage": torch.float32,
    "DoubleStorage": torch.float64,
    "HalfStorage": torch.float16,
    "BFloat16Storage": torch.bfloat16,
    "LongStorage": torch.int64,
    "IntStorage": torch.int32,
    "ShortStorage": torch.int16,
    "CharStorage": torch.int8,
    "ByteStorage": torch.uint8,
    "BoolStorage": torch.bool,
}


class PickledObject:
    """Stand-in for any class or function a pickle names: it records, it never executes."""

    origin = "?"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args, self.kwargs = args, kwargs

    def __repr__(self) -> str:
        return f"<pickled {self.origin}>"


class StorageType:
    """What ``torch.FloatStorage`` & co. become: only their element type matters."""

    def __init__(self, name: str) -> None:
        self.name, self.dtype = name, STORAGE_DTYPES[name]


def _rebuild_tensor(storage: torch.Tensor, offset: int, size, stride, *_: Any) -> torch.Tensor:
    """``torch._utils._rebuild_tensor_v2`` on our flat storage tensor (a view, shares memory)."""
    return storage.as_strided(tuple(size), tuple(stride), offset)


def _rebuild_parameter(data: torch.Tensor, *_: Any) -> torch.Tensor:
    return data


REAL_GLOBALS = {
    ("collections", "OrderedDict"): OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch.nn.parameter", "Parameter"): _rebuild_parameter,
}


class RestrictedUnpickler(pickle.Unpickler):
    """Resolves globals to :data:`REAL_GLOBALS`, storage types, or inert records; nothing else."""

    def __init__(self, file: io.BufferedIOBase, storages: StoragePool | None = None) -> None:
        super().__init__(file, encoding="latin1")
        self.storages = storages
        self.records: dict[str, type[PickledObject]] = {}

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in REAL_GLOBALS:
            return REAL_GLOBALS[(module, name)]
        if module == "torch" and name in STORAGE_DTYPES:
            return StorageType(name)
        origin = f"{module}.{name}"
        if origin not in self.records:
            self.records[origin] = type(name, (PickledObject,), {"origin": origin})
        return self.records[origin]

    def persistent_load(self, pid: Any) -> Any:
        kind = pid[0].decode("ascii") if isinstance(pid[0], bytes) else pid[0]
        if kind == "module":  # ("module", class, source file, source code) in legacy files
            return pid[1]
        if kind == "storage" and self.storages is not None:
            return self.storages.get(*pid[1:])
        raise pickle.UnpicklingError(f"unsupported persistent id {kind!r}")


class StoragePool:
    """Flat tensors keyed as in the file; legacy files fill them after the main pickle."""

    def __init__(self, budget_bytes: int, read_zip_entry=None) -> None:
        self.tensors: dict[str, torch.Tensor] = {}
        self.budget = budget_bytes  # storages cannot hold more bytes than the file has
        self.read_zip_entry = read_zip_entry

    def get(
        self, storage_type: StorageType, key: str, location: str, numel: int, view=None
    ) -> torch.Tensor:
        if not isinstance(storage_type, StorageType):
            raise pickle.UnpicklingError(f"unknown storage type {storage_type!r}")
        key = str(key)
        if key not in self.tensors:
            nbytes = numel * torch.empty((), dtype=storage_type.dtype).element_size()
            self.budget -= nbytes
            if numel < 0 or self.budget < 0:
                raise pickle.UnpicklingError(f"storage {key} claims more bytes than the file has")
            if self.read_zip_entry is None:
                self.tensors[key] = torch.empty(numel, dtype=storage_type.dtype)
            else:
                raw = self.read_zip_entry(key, nbytes)
                self.tensors[key] = _from_bytes(raw, storage_type.dtype, numel)
        root = self.tensors[key]
        if view is not None:  # (view key, offset, size) in legacy files
            _, offset, size = view
            return root[offset : offset + size]
        return root


def _from_bytes(raw: bytes, dtype: torch.dtype, numel: int) -> torch.Tensor:
    """Little-endian bytes -> a 1-D tensor of ``numel`` elements (copied, writable)."""
    if dtype == torch.bfloat16:
        return torch.from_numpy(np.frombuffer(raw, "<u2", numel).copy()).view(torch.bfloat16)
    np_dtype = torch.empty((), dtype=dtype).numpy().dtype.newbyteorder("<")
    return torch.from_numpy(np.frombuffer(raw, np_dtype, numel).astype(np_dtype.newbyteorder("=")))


def read_pickled(path: str | os.PathLike) -> Any:
    """The object ``torch.save`` wrote to ``path``, with classes as :class:`PickledObject`."""
    path = Path(path).expanduser()
    if zipfile.is_zipfile(path):
        return _read_zip(path)
    return _read_legacy(path)


def check_stored(archive: zipfile.ZipFile, path: Path) -> None:
    """Refuse compressed entries: torch.save never compresses, and a tiny compressed entry can
    unpack to gigabytes (Python's zipfile unpacks a bzip2 block whole, whatever is asked)."""
    for info in archive.infolist():
        if info.compress_type != zipfile.ZIP_STORED:
            raise ValueError(
                f"{path}: entry {info.filename} is compressed, which torch.save never does"
            )


def _read_zip(path: Path) -> Any:
    """The zip format. The sizes that a zip declares are not trusted: entries must be stored
    uncompressed, none is read past the bytes it is meant to hold, and all storages together
    may not exceed the file's real size."""
    file_bytes = path.stat().st_size
    with zipfile.ZipFile(path) as archive:
        check_stored(archive, path)
        pkl = [n for n in archive.namelist() if n.endswith("data.pkl")]
        if not pkl:
            raise ValueError(f"{path} is a zip file without data.pkl: not a torch.save file")
        root = pkl[0][: -len("data.pkl")]

        def read_entry(key: str, nbytes: int) -> bytes:
            raw = _read_at_most(archive, f"{root}data/{key}", nbytes)
            if len(raw) < nbytes:
                raise pickle.UnpicklingError(f"{path}: storage {key} is truncated")
            return raw

        pool = StoragePool(budget_bytes=file_bytes, read_zip_entry=read_entry)
        data = _read_at_most(archive, pkl[0], file_bytes + 1)
        if len(data) > file_bytes:
            raise pickle.UnpicklingError(f"{path}: data.pkl unpacks to more than the whole file")
        return RestrictedUnpickler(io.BytesIO(data), pool).load()


def _read_at_most(archive: zipfile.ZipFile, name: str, limit: int) -> bytes:
    """At most ``limit`` bytes of entry ``name``, however large it claims or unpacks to be."""
    with archive.open(name) as f:
        return f.read(limit)


def _read_legacy(path: Path) -> Any:
    data = path.read_bytes()
    f = io.BytesIO(data)
    try:
        magic = RestrictedUnpickler(f).load()
    except Exception as e:
        raise ValueError(f"{path} is not a torch.save file ({e})") from e
    if magic != LEGACY_MAGIC:
        raise ValueError(f"{path} is not a torch.save file (no legacy magic number, not a zip)")
    RestrictedUnpickler(f).load()  # protocol version
    sys_info = RestrictedUnpickler(f).load()
    if not sys_info.get("little_endian", True):
        raise ValueError(f"{path} was saved on a big-endian machine, which is not supported")
    pool = StoragePool(budget_bytes=len(data))
    obj = RestrictedUnpickler(f, pool).load()
    for key in RestrictedUnpickler(f).load():
        flat = pool.tensors[str(key)]
        (numel,) = struct.unpack("<q", f.read(8))
        nbytes = numel * flat.element_size()
        if numel != flat.numel() or f.tell() + nbytes > len(data):
            raise ValueError(f"{path}: storage {key} is truncated or inconsistent")
        flat.copy_(_from_bytes(f.read(nbytes), flat.dtype, numel))
    return obj


def named_records(obj: Any, prefix: str = "") -> Iterator[tuple[str, PickledObject]]:
    """Every pickled ``nn.Module`` record in a tree, with its dotted name ('' for the root).

    Each record is visited once: a pickle can make a module its own child, or share children
    down many levels so that a naive walk would take forever.
    """
    seen: set[int] = set()
    stack = [(prefix, obj)]
    while stack:
        name, record = stack.pop()
        if not isinstance(record, PickledObject) or id(record) in seen:
            continue
        seen.add(id(record))
        yield name, record
        children = getattr(record, "_modules", None) or {}
        if not isinstance(children, dict):
            raise ValueError(f"{record!r} at {name or 'the root'} has _modules of {children!r}")
        stack += [(f"{name}{key}.", child) for key, child in reversed(children.items())]


def module_state(obj: Any) -> dict[str, torch.Tensor]:
    """A pickled module's parameters and buffers as a state dict (keys as ``state_dict()``)."""
    state: dict[str, torch.Tensor] = {}
    for prefix, record in named_records(obj):
        for group in ("_parameters", "_buffers"):
            for name, value in (getattr(record, group, None) or {}).items():
                if isinstance(value, torch.Tensor):
                    state[prefix + name] = value
    return state
