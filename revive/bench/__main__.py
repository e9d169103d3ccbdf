"""``python -m revive.bench [NAME] [--batch-size N] [--steps N] [--json PATH]``: see ``revive.bench``."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console

from revive.bench.report import table
from revive.bench.suite import BENCHMARKS, run_benchmark
from revive.io import atomic_path


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m revive.bench",
        description="Measure training and inference speed against plain baselines, in one run.",
    )
    parser.add_argument(
        "name",
        nargs="?",
        default="all",
        choices=["all", *BENCHMARKS],
        metavar="NAME",
        help=f"one benchmark (default: all of them): {', '.join(BENCHMARKS)}",
    )
    parser.add_argument("--batch-size", type=int, help="batch size (default: each benchmark's)")
    parser.add_argument("--steps", type=int, help="timed steps per measurement")
    parser.add_argument("--warmup", type=int, help="untimed steps before each measurement")
    parser.add_argument(
        "--repeats", type=int, help="measurements of ours and the baseline, alternated"
    )
    parser.add_argument(
        "--json",
        type=Path,
        help="write the records here (default: outputs/bench/bench_<time>.json)",
    )
    parser.add_argument(
        "-o",
        "--override",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="Hydra override of the training config for *_step, e.g. trainer.precision=32-true",
    )
    args = parser.parse_args(argv)
    for flag in ("batch_size", "steps", "repeats"):
        value = getattr(args, flag)
        if value is not None and value < 1:
            parser.error(f"--{flag.replace('_', '-')} must be at least 1 (got {value})")
    if args.warmup is not None and args.warmup < 0:
        parser.error(f"--warmup must be 0 or more (got {args.warmup})")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    console = Console()
    names = list(BENCHMARKS) if args.name == "all" else [args.name]
    path = args.json or Path("outputs/bench") / time.strftime("bench_%Y%m%d-%H%M%S.json")
    records: list[dict] = []
    for name in names:
        with console.status(f"[bold]{name}[/bold] running (each measurement in its own process)"):
            records += run_benchmark(name, args)
        with atomic_path(path) as tmp:  # after each benchmark, so an interrupted run keeps its part
            tmp.write_text(json.dumps(records, indent=2) + "\n")
    console.print(table(records))
    console.print(f"records written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
