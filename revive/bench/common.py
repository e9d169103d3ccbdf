"""What every benchmark shares: isolated measurement processes, peak memory, the machine.

Each measurement runs in a fresh Python process (:func:`run_isolated`), so that the peak RSS it
reports belongs to that measurement alone rather than to whatever ran before it in the parent.
A variant and its baseline run in two such processes that take turns step by step
(:func:`run_in_turns`).
"""

from __future__ import annotations

import importlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import torch

from revive.hardware import resolve_device

RESULT_MARK = "@@revive-bench-result@@ "
READY_MARK = "@@revive-bench-ready@@"
TURNS_ENV = "REVIVE_BENCH_TURNS"


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
    """Where benchmarks run: what ``accelerator: auto`` picks (a GPU when there is one)."""
    return resolve_device("auto")


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


def rate(step_s: Sequence[float], units_per_step: float, warmup: int) -> float:
    """Units/s over the steps after ``warmup``."""
    counted = step_s[warmup:]
    if not counted:
        raise RuntimeError(f"no timed steps: {len(step_s)} steps, {warmup} of them warm-up")
    return units_per_step * len(counted) / sum(counted)


def _child_command(target: str, kwargs: dict[str, Any]) -> list[str]:
    code = "import sys; from revive.bench.common import child_main; child_main(sys.argv[1:])"
    return [sys.executable, "-c", code, target, json.dumps(kwargs)]


def _failure(target: str, returncode: int | None, output: str) -> RuntimeError:
    tail = "\n".join(output.splitlines()[-30:])
    return RuntimeError(f"benchmark process {target} failed (exit code {returncode}):\n{tail}")


def run_isolated(target: str, timeout: float | None = None, **kwargs: Any) -> dict[str, Any]:
    """Run ``module:function(**kwargs)`` in a fresh interpreter and return its dict result.

    The child adds its own ``peak_rss_mb``. A failing child raises with the end of its output.
    """
    cmd = _child_command(target, kwargs)
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(RESULT_MARK):
            return json.loads(line[len(RESULT_MARK) :])
    raise _failure(target, proc.returncode, proc.stdout + proc.stderr)


def await_turn() -> None:
    """Before each timed step: in a process of :func:`run_in_turns`, say that this process is
    idle and wait until it may take its step. Anywhere else, return at once."""
    if os.environ.get(TURNS_ENV) != "1":
        return
    print(READY_MARK, flush=True)
    if not sys.stdin.readline():
        raise RuntimeError("the benchmark's parent process is gone")


def timed_steps(
    step: Callable[[Any], Any], batches: Sequence[Any], device: torch.device
) -> list[float]:
    """Seconds of ``step(batch)`` for each batch, each step taken in its turn."""
    seconds = []
    for batch in batches:
        await_turn()
        seconds.append(timed(step, batch, device=device))
    return seconds


class _TurnTaker:
    """One measuring process of :func:`run_in_turns`, seen from the parent."""

    def __init__(self, target: str, kwargs: dict[str, Any]) -> None:
        self.target = target
        self.stderr = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 (closed by close())
        self.proc = subprocess.Popen(
            _child_command(target, kwargs),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            text=True,
            env={**os.environ, TURNS_ENV: "1"},
        )
        self.result: dict[str, Any] | None = None
        self.output: list[str] = []

    def advance(self) -> bool:
        """Read on until the process waits for its next turn (True) or has ended (False)."""
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith(READY_MARK):
                return True
            if line.startswith(RESULT_MARK):
                self.result = json.loads(line[len(RESULT_MARK) :])
            else:
                self.output.append(line)
        self.proc.wait()
        if self.result is None:
            self.stderr.seek(0)
            raise _failure(
                self.target, self.proc.returncode, "".join(self.output) + self.stderr.read()
            )
        return False

    def take_turn(self) -> bool:
        """Let the process take one step; True while it has more to take."""
        assert self.proc.stdin is not None
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()
        return self.advance()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.stderr.close()


def run_in_turns(*measurements: tuple[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Run each ``(module:function, kwargs)`` in its own fresh interpreter, the processes taking
    turns step by step (each step runs while the others wait, idle), and return their results.

    Separate processes keep each variant's process-wide settings (allocator, threads, caches)
    its own and make each one's peak RSS its own; taking turns step by step means a burst of
    outside load on a shared machine slows a step of each rather than the whole of one of them.
    The measuring functions call :func:`await_turn` before each step they time.
    """
    takers = [_TurnTaker(target, kwargs) for target, kwargs in measurements]
    try:
        waiting = [taker.advance() for taker in takers]  # each set up, at its first step
        while any(waiting):
            for i, taker in enumerate(takers):
                if waiting[i]:
                    waiting[i] = taker.take_turn()
        return [taker.result for taker in takers]  # type: ignore[misc]
    finally:
        for taker in takers:
            taker.close()


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
    runs: Sequence[Sequence[dict[str, Any]]],
    units_per_step: float,
    warmup: int,
) -> dict[str, Any]:
    """Record fields from repeated :func:`run_in_turns` runs of ``(ours, baseline)``, each
    result holding its ``step_s``: ``metric``, ``baseline_<metric>`` and ``speedup`` (medians
    over the runs), both peak RSS, the per-run values and the timed step seconds."""
    ours = [rate(o["step_s"], units_per_step, warmup) for o, _ in runs]
    base = [rate(b["step_s"], units_per_step, warmup) for _, b in runs]
    fields = {
        metric: significant(statistics.median(ours)),
        "baseline_" + metric: significant(statistics.median(base)),
        "speedup": significant(statistics.median(ours) / statistics.median(base)),
        "peak_rss_mb": max(o["peak_rss_mb"] for o, _ in runs),
        "baseline_peak_rss_mb": max(b["peak_rss_mb"] for _, b in runs),
        "runs_" + metric: [significant(r) for r in ours],
        "baseline_runs_" + metric: [significant(r) for r in base],
        "step_s": [significant(t) for o, _ in runs for t in o["step_s"][warmup:]],
        "baseline_step_s": [significant(t) for _, b in runs for t in b["step_s"][warmup:]],
        "threads": runs[0][0]["threads"],
    }
    if any("peak_gpu_mb" in o for o, _ in runs):
        fields["peak_gpu_mb"] = max(o.get("peak_gpu_mb", 0.0) for o, _ in runs)
        fields["baseline_peak_gpu_mb"] = max(b.get("peak_gpu_mb", 0.0) for _, b in runs)
    return fields
