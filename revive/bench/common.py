"""What every benchmark shares: isolated measurement processes, peak memory, the machine.

Each measurement runs in a fresh Python process (:func:`run_isolated`), so that the peak RSS it
reports belongs to that measurement alone rather than to whatever ran before it in the parent.
"""

from __future__ import annotations

import importlib
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import torch

RESULT_MARK = "@@revive-bench-result@@ "


def peak_rss_mb(children: bool = False) -> float:
    """The highest resident set size this process (or its largest finished child) reached, MiB."""
    try:
        import resource
    except ImportError:  # Windows: no record of finished children
        import psutil

        return 0.0 if children else psutil.Process().memory_info().peak_wset / 2**20
    who = resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF
    peak = resource.getrusage(who).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10  # bytes vs KiB


def default_device() -> torch.device:
    """Where benchmarks run: the GPU when there is one, as ``accelerator: auto`` would pick."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def synchronize(device: torch.device) -> None:
    """Wait for queued GPU work, so a clock read after it means the work is done."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@cache
def cpu_model() -> str:
    """The CPU's marketing name (``lscpu``'s "Model name")."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict[str, Any]:
    """Where the numbers come from, stored with every record."""
    info: dict[str, Any] = {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "device": str(default_device()),
    }
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    if hasattr(os, "getloadavg"):
        info["load_1min"] = round(os.getloadavg()[0], 2)
    return info


class Clock:
    """Wall time between ``start()`` and ``stop()``, with queued GPU work counted in.

    Only these two reads synchronise with the device, so steps in between stay pipelined as in
    training. Benchmarks start it after their warm-up steps (lazy initialisation, autotuning and
    compilation stay out of the number).
    """

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.begin: float | None = None
        self.end: float | None = None

    def start(self) -> None:
        synchronize(self.device)
        self.begin = time.perf_counter()

    def stop(self) -> None:
        synchronize(self.device)
        self.end = time.perf_counter()

    @property
    def seconds(self) -> float:
        if self.begin is None or self.end is None:
            raise RuntimeError("the clock was not started and stopped")
        return self.end - self.begin


def run_isolated(target: str, timeout: float | None = None, **kwargs: Any) -> dict[str, Any]:
    """Run ``module:function(**kwargs)`` in a fresh interpreter and return its dict result.

    The child adds its own ``peak_rss_mb``. A failing child raises with the end of its output.
    """
    code = "import sys; from revive.bench.common import child_main; child_main(sys.argv[1:])"
    cmd = [sys.executable, "-c", code, target, json.dumps(kwargs)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(RESULT_MARK):
            return json.loads(line[len(RESULT_MARK) :])
    raise RuntimeError(
        f"benchmark process {target} failed (exit code {proc.returncode}):\n"
        + "\n".join((proc.stdout + proc.stderr).splitlines()[-30:])
    )


def child_main(argv: Sequence[str]) -> None:
    """Entry of :func:`run_isolated`'s process: run one measurement, print its result."""
    target, kwargs = argv[0], json.loads(argv[1])
    module, name = target.split(":")
    fn: Callable[..., dict[str, Any]] = getattr(importlib.import_module(module), name)
    result = fn(**kwargs)
    result["peak_rss_mb"] = round(peak_rss_mb(), 1)
    print(RESULT_MARK + json.dumps(result), flush=True)


def significant(value: float, digits: int = 4) -> float:
    """``value`` rounded to ``digits`` significant digits (speeds span 0.01 to 1000s)."""
    return float(f"{value:.{digits}g}")


class Runs:
    """The results of repeated measurements of one variant."""

    def __init__(self) -> None:
        self.runs: list[dict[str, Any]] = []

    def median(self, key: str) -> float:
        return float(statistics.median(r[key] for r in self.runs))

    def summary(self, key: str, prefix: str = "") -> dict[str, Any]:
        """``{key: median, peak_rss_mb: max, runs_key: [...]}``, names prefixed by ``prefix``."""
        return {
            prefix + key: significant(self.median(key)),
            prefix + "peak_rss_mb": max(r["peak_rss_mb"] for r in self.runs),
            prefix + "runs_" + key: [significant(r[key]) for r in self.runs],
        }


def alternate(
    ours: str,
    baseline: str,
    repeats: int,
    ours_args: dict[str, Any],
    base_args: dict[str, Any] | None = None,
) -> tuple[Runs, Runs]:
    """Measure ``ours`` and ``baseline`` (``module:function`` targets) in turns, each time in a
    fresh process, so that load from other work on the machine slows both alike."""
    mine, theirs = Runs(), Runs()
    for _ in range(repeats):
        mine.runs.append(run_isolated(ours, **ours_args))
        theirs.runs.append(
            run_isolated(baseline, **(ours_args if base_args is None else base_args))
        )
    return mine, theirs
