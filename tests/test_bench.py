"""``python -m revive.bench``: tiny runs of every benchmark, checked for correctness only.

No timing is asserted (CI machines differ); the records must carry their contract fields with
finite, positive values, and ratios must be the ratios of the speeds they sit next to.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time

import pytest
import torch

from revive import hardware
from revive.bench import common, data, dncnn, flops, onnx, pix2pix, report, revival
from revive.bench.__main__ import main
from revive.bench.suite import BENCHMARKS, DATASETS


def positive(value) -> bool:
    return isinstance(value, int | float) and math.isfinite(value) and value > 0


def check_ratio(record: dict) -> None:
    metric = record["metric"]
    ratio = record[metric] / record["baseline_" + metric]
    assert record["speedup"] == pytest.approx(ratio, rel=0.01)


def run_cli(command, tmp_path, *args: str) -> list[dict]:
    out = tmp_path / "bench.json"
    command(main, *args, f"json={out}")
    return json.loads(out.read_text())


def test_every_benchmark_of_the_issue_is_registered():
    names = {"pix2pix_step", "dncnn_step", "dncnn_infer", "revive_24mp", "onnx_infer"}
    names |= {f"data_{n}" for n in ("samples", "folder", "celeba", "colorization", "art", "mix")}
    assert names <= set(BENCHMARKS)


@pytest.mark.slow
def test_pix2pix_step_command_writes_the_contract_record(tmp_path, command):
    (record,) = run_cli(
        command, tmp_path, "benchmark=pix2pix_step", "steps=2", "batch_size=1", "warmup=0",
        "repeats=1",
    )  # fmt: skip
    assert record["name"] == "pix2pix_step" and record["batch_size"] == 1
    for key in ("images_per_s", "baseline_images_per_s", "peak_rss_mb", "baseline_peak_rss_mb"):
        assert positive(record[key]), key
    check_ratio(record)
    # measured with the training defaults of this machine
    assert record["precision"] == hardware.resolve_precision("auto", "auto")
    assert record["overrides"] == [] and record["steps"] == 2
    # the arithmetic rate is the speed times the step's FLOPs, next to this machine's ceilings
    assert record["gflops"] == pytest.approx(
        record["images_per_s"] * record["gflop_per_image"], rel=0.01
    )
    assert positive(record["matmul_gflops"]["fp32"])
    # bf16's ceiling exactly where bf16 is native (emulated, one product can take minutes)
    if hardware.cpu_has_native_bf16():
        assert positive(record["matmul_gflops"]["bf16"])
    else:
        assert "bf16" not in record["matmul_gflops"]


def test_ceilings_skip_emulated_bf16_and_stay_within_their_time_budget(monkeypatch):
    """The path of a CPU without AVX-512 BF16/AMX: only fp32 is measured, in bounded time."""
    monkeypatch.setattr(hardware, "cpu_has_native_bf16", lambda: False)
    monkeypatch.setattr(flops, "default_device", lambda: torch.device("cpu"))
    timed = []
    real_matmul_gflops = flops.matmul_gflops

    def spy(dtype, budget_s=2.0):
        timed.append(dtype)
        return real_matmul_gflops(dtype, budget_s=0.2)

    monkeypatch.setattr(flops, "matmul_gflops", spy)
    ceilings = flops.measure_ceilings()
    assert timed == [torch.float32] and set(ceilings) == {"fp32"} and ceilings["fp32"] > 0
    notes = report.arithmetic_notes(
        [
            {
                "name": "pix2pix_step", "batch_size": 1, "gflop_per_image": 86.0, "gflops": 40.0,
                "baseline_gflops": 30.0, "matmul_gflops": ceilings, "precision": "bf16-mixed",
            }
        ]
    )  # fmt: skip
    assert "bf16 is emulated here" in notes[0]


def test_matmul_repeats_fit_the_budget(monkeypatch):
    """A machine on which one product takes longer than the budget times it once, not 8 times."""
    products = []
    real_clock = flops.Clock

    class SlowClock(real_clock):
        @property
        def seconds(self) -> float:
            return 10.0  # every timed stretch "took" 10 s

    monkeypatch.setattr(flops, "Clock", SlowClock)
    monkeypatch.setattr(torch.Tensor, "__matmul__", lambda a, b: products.append(1) or a)
    flops.matmul_gflops(torch.float32, budget_s=2.0)
    assert len(products) == 3  # warm-up, the probe, and one timed repeat


def test_a_pix2pix_step_is_86_gflop_per_image():
    """G (unet_256, 12 GFLOP forward) forward and backward, D (6.3 GFLOP forward) three times
    forward, twice backward with weight gradients and once for the input only: 86 GFLOP."""
    assert pix2pix.pix2pix_step_gflop() == pytest.approx(86.0, rel=0.005)


def test_module_entry_point_lists_the_benchmarks():
    done = subprocess.run(
        [sys.executable, "-m", "revive.bench", "--help"], capture_output=True, text=True
    )
    assert done.returncode == 0 and "pix2pix_step" in done.stdout and "json=PATH" in done.stdout


def test_dncnn_step_times_the_configured_module_and_the_plain_step():
    result = dncnn.measure_step(4, steps=1, warmup=1, overrides=["trainer.precision=32-true"])
    assert len(result["step_s"]) == 2 and all(positive(t) for t in result["step_s"])
    assert result["settings"].startswith("32-true")
    baseline = dncnn.measure_step_baseline(4, steps=1, warmup=0)
    assert len(baseline["step_s"]) == 1 and positive(baseline["step_s"][0])


def test_dncnn_infer_times_fused_and_eager():
    for fused in (True, False):
        result = dncnn.measure_infer(1, steps=2, warmup=1, fused=fused, tile=64)
        assert len(result["step_s"]) == 3 and all(positive(t) for t in result["step_s"])


@pytest.mark.slow
def test_onnx_infer_times_onnxruntime_against_pytorch_on_the_same_network():
    (record,) = onnx.onnx_infer(steps=1, warmup=1, networks=("dncnn",), tile=48)
    assert record["name"] == "onnx_infer" and record["network"] == "dncnn"
    for key in ("megapixels_per_s", "baseline_megapixels_per_s", "peak_rss_mb"):
        assert positive(record[key]), key
    check_ratio(record)
    assert "onnxruntime" in record["settings"] and "PyTorch fp32" in record["settings"]


def stamped_steps(steps: int, seconds: float) -> dict:
    """A measuring function for run_in_turns: when each of its steps began and ended."""
    stamps = []
    for _ in range(steps):
        common.await_turn()
        begin = time.time()
        time.sleep(seconds)
        stamps.append((begin, time.time()))
    return {"stamps": stamps}


def failing_steps() -> dict:
    common.await_turn()
    raise ValueError("planted failure")


def test_processes_in_turns_never_step_at_the_same_time():
    target = f"{__name__}:stamped_steps"
    first, second = common.run_in_turns((target, {"steps": 3, "seconds": 0.05}),
                                         (target, {"steps": 2, "seconds": 0.05}))  # fmt: skip
    steps = sorted(
        [(*s, "first") for s in first["stamps"]] + [(*s, "second") for s in second["stamps"]]
    )
    assert [who for *_, who in steps] == ["first", "second", "first", "second", "first"]
    for (_, end, _), (begin, _, _) in zip(steps, steps[1:], strict=False):
        assert end <= begin  # one step ends before the next begins
    assert first["peak_rss_mb"] > 0 and second["peak_rss_mb"] > 0


def test_a_failing_process_in_turns_reports_its_error():
    with pytest.raises(RuntimeError, match="planted failure"):
        common.run_in_turns((f"{__name__}:stamped_steps", {"steps": 2, "seconds": 0.0}),
                            (f"{__name__}:failing_steps", {}))  # fmt: skip


@pytest.mark.slow
def test_revival_of_a_scan_with_and_without_denoiser(tmp_path):
    height, width = revival.write_scan(tmp_path / "scan.jpg", megapixels=0.05)
    assert width * height == pytest.approx(0.05e6, rel=0.05) and width > height
    colorizer, denoiser = revival.write_weights(tmp_path)
    for noise_net in (None, denoiser):
        out = tmp_path / f"out_{noise_net is None}"
        result = revival.measure_revival(
            str(tmp_path / "scan.jpg"),
            str(out),
            colorizer=str(colorizer),
            denoiser=noise_net and str(noise_net),
        )
        assert positive(result["seconds"])
        assert len(list(out.glob("*_revived.png"))) == 1


@pytest.mark.parametrize("name", DATASETS)
def test_each_datamodule_loads_its_synthetic_layout(tmp_path, name):
    overrides = data.prepare(name, tmp_path, count=8)
    result = data.measure_loader(name, overrides, batch_size=2, steps=2, warmup=1)
    assert positive(result["samples_per_s"]) and positive(result["worker_peak_rss_mb"])
    assert result["sample"].endswith("[3, 256, 256]")


@pytest.mark.slow
def test_a_data_benchmark_writes_enough_samples_for_the_splits_it_loses():
    """colorization keeps 5% + 5% for val and test: the training split must still hold
    warmup + steps batches (it ran dry at 200 steps before)."""
    [record] = data.data_benchmark("colorization", steps=90, warmup=1)
    assert positive(record["samples_per_s"]) and record["steps"] == 90


def test_a_broken_benchmark_leaves_the_others_results(monkeypatch, tmp_path, capsys, command):
    import revive.bench.__main__ as entry
    from revive.bench import suite

    def broken(args):
        raise RuntimeError("benchmark process died: out of memory")

    def working(args):
        return [{"name": "working", "metric": "samples_per_s", "samples_per_s": 3.0}]

    fake = {"broken": broken, "working": working}
    monkeypatch.setattr(suite, "BENCHMARKS", fake)
    monkeypatch.setattr(entry, "BENCHMARKS", fake)
    out = tmp_path / "bench.json"
    with pytest.raises(SystemExit) as exit_info:
        command(main, f"json={out}")
    assert exit_info.value.code == 1
    printed = capsys.readouterr().out
    assert "broken failed" in printed and "out of memory" in printed
    assert "1 benchmark(s) failed: broken" in printed and "working" in printed
    assert [r["name"] for r in json.loads(out.read_text())] == ["working"]


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["benchmark=pix2pix_step", "steps=0"], "steps=0: it must be a whole number, at least 1"),
        (["warmup=-1"], "warmup=-1: it must be a whole number, at least 0"),
        (["megapixels=0"], "megapixels=0: it must be a positive number"),
        (["benchmark=no_such_bench"], "benchmark=no_such_bench: no such benchmark (choices: all,"),
        (["pix2pix_step"], "pix2pix_step: arguments are now key=value: benchmark=pix2pix_step"),
        (["--steps", "2"], "--steps is now steps=N"),
        (["-o", "trainer.precision=32-true"], "-o is now +train.KEY=VALUE"),
        (["train.seed=1"], "train.seed=1: no such key (a new key is added with +train.seed=1)"),
        (["step=2"], "step=2: no such key; did you mean steps=2?"),
    ],
)
def test_bad_and_old_options_are_refused_with_the_reason(args, line, command):
    assert line in command.error(main, "revive-bench", *args)


def test_train_overrides_reach_the_step_benchmarks():
    from revive.bench.__main__ import options
    from revive.config import compose

    cfg = compose("bench", ["+train.trainer.precision=32-true", "+train.model=dncnn", "steps=3"])
    args = options(cfg)
    assert args.train_overrides == ["trainer.precision=32-true", "model=dncnn"] and args.steps == 3
    assert args.batch_size is None and args.sessions is None
