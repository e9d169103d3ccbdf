"""The benchmarks by name, and how the command line's options reach each of them.

The benchmark modules (torch, Lightning) are imported when a benchmark runs, so that ``--help``
and argument errors answer at once.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Records = list[dict[str, Any]]


@dataclass(frozen=True)
class BenchOptions:
    """The command's options (``conf/bench.yaml``), checked; ``None``: the benchmark's own
    default. Each benchmark reads the ones it takes."""

    batch_size: int | None = None
    steps: int | None = None
    warmup: int | None = None
    repeats: int | None = None
    threads: int | None = None
    megapixels: float | None = None
    sessions: int | None = None
    train_overrides: list[str] = field(default_factory=list)
    """``+train.KEY=VALUE`` as ``KEY=VALUE``: the ``*_step`` benchmarks' training overrides."""


# The datamodules with a training split (family scans have no color truth to train on).
DATASETS = ("samples", "folder", "celeba", "colorization", "art", "mix")


def _given(args: BenchOptions, *names: str) -> dict[str, Any]:
    """The options the user set, under the keyword names the benchmark functions take."""
    return {name: getattr(args, name) for name in names if getattr(args, name) is not None}


def _pix2pix_step(args: BenchOptions) -> Records:
    from revive.bench import pix2pix

    kwargs = _given(args, "steps", "warmup", "repeats")
    if args.batch_size is not None:
        kwargs["batch_sizes"] = (args.batch_size,)
    return pix2pix.pix2pix_step(overrides=args.train_overrides, **kwargs)


def _dncnn_step(args: BenchOptions) -> Records:
    from revive.bench import dncnn

    kwargs = _given(args, "batch_size", "steps", "warmup", "repeats")
    return dncnn.dncnn_step(overrides=args.train_overrides, **kwargs)


def _dncnn_infer(args: BenchOptions) -> Records:
    from revive.bench import dncnn

    return dncnn.dncnn_infer(**_given(args, "batch_size", "steps", "warmup", "repeats"))


def _revive_24mp(args: BenchOptions) -> Records:
    from revive.bench import revival

    return revival.revive_24mp(**_given(args, "megapixels", "repeats"))


def _onnx_infer(args: BenchOptions) -> Records:
    from revive.bench import onnx

    return onnx.onnx_infer(**_given(args, "batch_size", "steps", "warmup", "repeats"))


def _revive_upscale(args: BenchOptions) -> Records:
    from revive.bench import upscale

    return upscale.revive_upscale(**_given(args, "repeats"))


def _app_load(args: BenchOptions) -> Records:
    from revive.bench import app_load

    return app_load.app_load(**_given(args, "sessions", "repeats"))


def _data(name: str, args: BenchOptions) -> Records:
    from revive.bench import data

    return data.data_benchmark(name, **_given(args, "batch_size", "steps", "warmup", "repeats"))


def _data_old_photo(args: BenchOptions) -> Records:
    """The bundled samples at 256^2 with every old-photo degradation drawn as configured."""
    from revive.bench import data

    kwargs = _given(args, "batch_size", "steps", "warmup", "repeats")
    return data.data_benchmark("samples", extra=["data.degrade=old_photo"], **kwargs)


BENCHMARKS: dict[str, Callable[[BenchOptions], Records]] = {
    "pix2pix_step": _pix2pix_step,
    "dncnn_step": _dncnn_step,
    "dncnn_infer": _dncnn_infer,
    "revive_24mp": _revive_24mp,
    "onnx_infer": _onnx_infer,
    "revive_upscale": _revive_upscale,
    "app_load": _app_load,
    **{f"data_{name}": functools.partial(_data, name) for name in DATASETS},
    "data_old_photo": _data_old_photo,
}


def run_benchmark(name: str, args: BenchOptions) -> Records:
    """Run benchmark ``name`` with the command line's options."""
    return BENCHMARKS[name](args)
