"""``revive-bench [benchmark=NAME] [steps=N] [json=PATH] ...`` (``python -m revive.bench``);
the options are ``conf/bench.yaml``'s keys."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from revive.bench.suite import BENCHMARKS, BenchOptions, run_benchmark
from revive.config import flatten, hydra_command
from revive.errors import UserError, user_errors

PROGRAM = "revive-bench"
# The options of the argparse command before it took key=value, and what replaced each.
RETIRED = {
    "--batch-size": "batch_size=N",
    "--steps": "steps=N",
    "--warmup": "warmup=N",
    "--repeats": "repeats=N",
    "--threads": "threads=N",
    "--megapixels": "megapixels=N",
    "--sessions": "sessions=N",
    "--json": "json=PATH",
    "-o": "+train.KEY=VALUE",
    "--override": "+train.KEY=VALUE",
}


def options(cfg: DictConfig) -> BenchOptions:
    """The command's options as the benchmarks take them (:func:`run_benchmark`), checked."""
    if cfg.benchmark not in ("all", *BENCHMARKS):
        names = ", ".join(["all", *BENCHMARKS])
        raise UserError(f"benchmark={cfg.benchmark}: no such benchmark (choices: {names})")
    for key in ("batch_size", "steps", "repeats", "threads", "sessions", "warmup"):
        value, least = cfg[key], 0 if key == "warmup" else 1
        if value is not None and (type(value) is not int or value < least):
            raise UserError(f"{key}={value}: it must be a whole number, at least {least}")
    if cfg.megapixels is not None and (
        type(cfg.megapixels) not in (int, float) or cfg.megapixels <= 0
    ):
        raise UserError(f"megapixels={cfg.megapixels}: it must be a positive number")
    train = OmegaConf.to_container(cfg.train, resolve=True)
    overrides = [f"{key}={value}" for key, value in flatten(train).items()]
    keys = ("batch_size", "steps", "warmup", "repeats", "threads", "megapixels", "sessions")
    return BenchOptions(**{key: cfg[key] for key in keys}, train_overrides=overrides)


@hydra_command("bench", PROGRAM, RETIRED, positional=("benchmark",))
def main(cfg: DictConfig) -> None:
    """Run the benchmarks; exit status 1 when one of them failed."""
    with user_errors(PROGRAM):
        args = options(cfg)
    if args.threads is not None:  # before torch loads, here and in every child
        os.environ["OMP_NUM_THREADS"] = str(args.threads)
    from rich.console import Console

    from revive.bench.common import machine
    from revive.bench.report import arithmetic_notes, table
    from revive.io import atomic_path

    console = Console()
    if not console.is_terminal:  # a log file or a pipe: keep each row on one line
        console = Console(width=200)
    names = list(BENCHMARKS) if cfg.benchmark == "all" else [cfg.benchmark]
    path = Path(cfg.json or Path("outputs/bench") / time.strftime("bench_%Y%m%d-%H%M%S.json"))
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
        sys.exit(1)


if __name__ == "__main__":
    main()
