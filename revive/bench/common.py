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
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import torch

RESULT_MARK = "@@revive-bench-result@@ "


def peak_rss_mb(children: bool = False) -> float:
    """The highest resident set size of this process (or of its largest finished child), MiB.

    On Linux this reads ``VmHWM``, which belongs to the process's own memory map: getrusage's
    ``ru_maxrss`` would also count the parent's RSS at the moment it forked this process.
    """
    if not children:
        try:
            for line in Path("/proc/self/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 2**10  # kB
        except OSError:
            pass
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


def timed(fn: Callable[..., Any], *args: Any, device: torch.device) -> float:
    """Seconds that ``fn(*args)`` takes, its queued GPU work included."""
    clock = Clock(device)
    clock.start()
    fn(*args)
    clock.stop()
    return clock.seconds


@dataclass
class PairedTimes:
    """Seconds per step of ours and of the baseline, measured in turns, warm-up steps included.

    Alternating step by step is what makes the ratio trustworthy on a shared machine: a burst
    of outside load slows a step of each rather than the whole of one measurement.
    """

    ours: list[float] = field(default_factory=list)
    baseline: list[float] = field(default_factory=list)

    def rates(self, units_per_step: float, warmup: int) -> dict[str, Any]:
        """Units/s of ours and of the baseline over the steps after ``warmup``."""
        ours, base = self.ours[warmup:], self.baseline[warmup:]
        if not ours or len(ours) != len(base):
            raise RuntimeError(f"expected paired timed steps, got {len(ours)} and {len(base)}")
        return {
            "ours_per_s": units_per_step * len(ours) / sum(ours),
            "baseline_per_s": units_per_step * len(base) / sum(base),
            "ours_step_s": [significant(t) for t in ours],
            "baseline_step_s": [significant(t) for t in base],
        }


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
    result["threads"] = torch.get_num_threads()
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        result["peak_gpu_mb"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
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
        """``{key: median, peak_rss_mb: max, runs_key: [...]}``, names prefixed by ``prefix``
        (and ``peak_gpu_mb`` when the runs used a GPU)."""
        out = {
            prefix + key: significant(self.median(key)),
            prefix + "peak_rss_mb": max(r["peak_rss_mb"] for r in self.runs),
            prefix + "runs_" + key: [significant(r[key]) for r in self.runs],
            "threads": self.runs[0]["threads"],
        }
        if any("peak_gpu_mb" in r for r in self.runs):
            out[prefix + "peak_gpu_mb"] = max(r.get("peak_gpu_mb", 0.0) for r in self.runs)
        return out


def paired_fields(
    metric: str,
    speed_runs: Sequence[dict[str, Any]],
    ours_memory: dict[str, Any],
    baseline_memory: dict[str, Any],
) -> dict[str, Any]:
    """Record fields from paired speed runs (``PairedTimes.rates`` results) and one isolated
    run of each variant for its peak memory: ``metric``, ``baseline_<metric>``, ``speedup``,
    ``peak_rss_mb``, ``baseline_peak_rss_mb``, the per-run values and the timed step seconds."""
    ours = statistics.median(r["ours_per_s"] for r in speed_runs)
    base = statistics.median(r["baseline_per_s"] for r in speed_runs)
    fields = {
        metric: significant(ours),
        "baseline_" + metric: significant(base),
        "speedup": significant(ours / base),
        "peak_rss_mb": ours_memory["peak_rss_mb"],
        "baseline_peak_rss_mb": baseline_memory["peak_rss_mb"],
        "runs_" + metric: [significant(r["ours_per_s"]) for r in speed_runs],
        "baseline_runs_" + metric: [significant(r["baseline_per_s"]) for r in speed_runs],
        "step_s": [t for r in speed_runs for t in r["ours_step_s"]],
        "baseline_step_s": [t for r in speed_runs for t in r["baseline_step_s"]],
        "threads": speed_runs[0]["threads"],
    }
    for key in ("peak_gpu_mb",):
        if key in ours_memory:
            fields[key] = ours_memory[key]
            fields["baseline_" + key] = baseline_memory.get(key)
    return fields
