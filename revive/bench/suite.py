"""The benchmarks by name, and how the command line's options reach each of them.

The benchmark modules (torch, Lightning) are imported when a benchmark runs, so that ``--help``
and argument errors answer at once.
"""

from __future__ import annotations

import argparse
import functools
from collections.abc import Callable
from typing import Any

Records = list[dict[str, Any]]
# The datamodules with a training split (family scans have no color truth to train on).
DATASETS = ("samples", "folder", "celeba", "colorization", "art", "mix")


def _given(args: argparse.Namespace, *names: str) -> dict[str, Any]:
    """The options the user set, under the keyword names the benchmark functions take."""
    return {name: getattr(args, name) for name in names if getattr(args, name) is not None}


def _pix2pix_step(args: argparse.Namespace) -> Records:
    from revive.bench import pix2pix

    kwargs = _given(args, "steps", "warmup", "repeats")
    if args.batch_size is not None:
        kwargs["batch_sizes"] = (args.batch_size,)
    return pix2pix.pix2pix_step(overrides=args.override, **kwargs)


def _dncnn_step(args: argparse.Namespace) -> Records:
    from revive.bench import dncnn

    kwargs = _given(args, "batch_size", "steps", "warmup", "repeats")
    return dncnn.dncnn_step(overrides=args.override, **kwargs)


def _dncnn_infer(args: argparse.Namespace) -> Records:
    from revive.bench import dncnn

    return dncnn.dncnn_infer(**_given(args, "batch_size", "steps", "warmup", "repeats"))


def _revive_24mp(args: argparse.Namespace) -> Records:
    from revive.bench import revival

    return revival.revive_24mp(**_given(args, "megapixels", "repeats"))


def _onnx_infer(args: argparse.Namespace) -> Records:
    from revive.bench import onnx

    return onnx.onnx_infer(**_given(args, "batch_size", "steps", "warmup", "repeats"))


def _revive_upscale(args: argparse.Namespace) -> Records:
    from revive.bench import upscale

    return upscale.revive_upscale(**_given(args, "repeats"))


def _app_load(args: argparse.Namespace) -> Records:
    from revive.bench import app_load

    return app_load.app_load(**_given(args, "sessions", "repeats"))


def _data(name: str, args: argparse.Namespace) -> Records:
    from revive.bench import data

    return data.data_benchmark(name, **_given(args, "batch_size", "steps", "warmup", "repeats"))


def _data_old_photo(args: argparse.Namespace) -> Records:
    """The bundled samples at 256^2 with every old-photo degradation drawn as configured."""
    from revive.bench import data

    kwargs = _given(args, "batch_size", "steps", "warmup", "repeats")
    return data.data_benchmark("samples", extra=["data.degrade=old_photo"], **kwargs)


BENCHMARKS: dict[str, Callable[[argparse.Namespace], Records]] = {
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


def run_benchmark(name: str, args: argparse.Namespace) -> Records:
    """Run benchmark ``name`` with the command line's options."""
    return BENCHMARKS[name](args)
