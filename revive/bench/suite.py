"""The benchmarks by name, and how the command line's options reach each of them."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from revive.bench import pix2pix

Records = list[dict[str, Any]]


def _given(args: argparse.Namespace, *names: str) -> dict[str, Any]:
    """The options the user set, under the keyword names the benchmark functions take."""
    return {name: getattr(args, name) for name in names if getattr(args, name) is not None}


def _pix2pix_step(args: argparse.Namespace) -> Records:
    kwargs = _given(args, "steps", "warmup", "repeats")
    if args.batch_size is not None:
        kwargs["batch_sizes"] = (args.batch_size,)
    return pix2pix.pix2pix_step(overrides=args.override, **kwargs)


BENCHMARKS: dict[str, Callable[[argparse.Namespace], Records]] = {
    "pix2pix_step": _pix2pix_step,
}


def run_benchmark(name: str, args: argparse.Namespace) -> Records:
    """Run benchmark ``name`` with the command line's options."""
    return BENCHMARKS[name](args)
