"""``python -m revive.bench [NAME] [--batch-size N] [--steps N] [--json PATH]``."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from revive.bench.suite import BENCHMARKS, run_benchmark


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m revive.bench",
        description="Measure training and inference speed against plain baselines, in one run.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="example (DnCNN inference against plain PyTorch, about a minute on a CPU):\n"
        "  revive-bench dncnn_infer --steps 3 --repeats 1\n"
        "(revive-bench is python -m revive.bench; onnx_infer needs revive[export], "
        "revive_upscale revive[sr])",
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
        "--repeats",
        type=int,
        help="runs of each measurement (ours and the baseline, two processes taking turns)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        help="torch threads in every measuring process (default: one per core). On a machine "
        "busy with other work, 1 keeps ratios honest: threads that wait for each other stall",
    )
    parser.add_argument(
        "--megapixels", type=float, help="revive_24mp: size of the scan (default: 24)"
    )
    parser.add_argument(
        "--sessions", type=int, help="app_load: sessions reviving at once (default: 6)"
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
        help="Hydra override of the training config of *_step (repeatable), "
        "e.g. -o trainer.precision=32-true",
    )
    args = parser.parse_args(argv)
    for flag in ("batch_size", "steps", "repeats", "threads", "sessions"):
        value = getattr(args, flag)
        if value is not None and value < 1:
            parser.error(f"--{flag.replace('_', '-')} must be at least 1 (got {value})")
    if args.megapixels is not None and args.megapixels <= 0:
        parser.error(f"--megapixels must be positive (got {args.megapixels})")
    if args.warmup is not None and args.warmup < 0:
        parser.error(f"--warmup must be 0 or more (got {args.warmup})")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.threads is not None:  # before torch loads, here and in every child
        os.environ["OMP_NUM_THREADS"] = str(args.threads)
    from rich.console import Console

    from revive.bench.common import machine
    from revive.bench.report import arithmetic_notes, table
    from revive.io import atomic_path

    console = Console()
    if not console.is_terminal:  # a log file or a pipe: keep each row on one line
        console = Console(width=200)
    names = list(BENCHMARKS) if args.name == "all" else [args.name]
    path = args.json or Path("outputs/bench") / time.strftime("bench_%Y%m%d-%H%M%S.json")
    records: list[dict] = []
    failed: list[str] = []
    for name in names:
        where = machine()  # the load before the benchmark, among the rest
        try:
            with console.status(f"[bold]{name}[/bold] running (each in its own process)"):
                records += [{**r, "machine": where} for r in run_benchmark(name, args)]
        except Exception as e:  # one broken benchmark must not cost the others their results
            failed.append(name)
            console.print(f"[red]{name} failed[/red]: {e}", markup=True, highlight=False)
            continue
        with atomic_path(path) as tmp:  # after each benchmark, so an interrupted run keeps its part
            tmp.write_text(json.dumps(records, indent=2) + "\n")
    if records:
        console.print(table(records))
        for note in arithmetic_notes(records):
            console.print(note)
        console.print(f"records written to {path}")
    if failed:
        console.print(f"[red]{len(failed)} benchmark(s) failed:[/red] {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
