"""A run killed with SIGKILL in mid-epoch, launched again, continues exactly where it stopped."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from tests.tiny_runs import (
    QUICK,
    TINY_PIX2PIX,
    TRAIN_PY,
    image_folder,
    only_child,
    run_train,
    tensor_digest,
)

BATCHES = 24  # per epoch; 2 optimizer steps (D, G) per batch


def args_for(name: str, root: Path, probe: Path) -> list[str]:
    return [
        f"name={name}",
        "data=folder",
        f"data.root={root}",
        *TINY_PIX2PIX,
        *QUICK,
        # deterministic views of one repeated picture: the data order cannot matter
        "data.load_size=64",
        "data.flip=false",
        "model.n_epochs=1",
        "model.n_epochs_decay=1",  # the learning rate changes in the second epoch
        "callbacks.step_checkpoint.every_n_train_steps=6",
        "+callbacks.probe._target_=tests.tiny_runs.ResumeProbe",
        f"+callbacks.probe.path={probe}",
    ]


def launches(probe: Path) -> list[tuple[dict, dict[int, dict]]]:
    """Per launch: the state its first step started from, and each step's record by global step."""
    out: list[tuple[dict, dict[int, dict]]] = []
    for line in probe.read_text().splitlines():
        record = json.loads(line)
        if record["event"] == "start":
            out.append((record, {}))
        else:
            out[-1][1][record["global_step"]] = record
    return out


def launch_and_kill_after_first_checkpoint(args: list[str], cwd: Path, runs: Path) -> None:
    env = {**os.environ, "WANDB_MODE": "offline", "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [sys.executable, str(TRAIN_PY), *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 180
    try:
        while not list(runs.glob("*/checkpoints/last.ckpt")):
            if proc.poll() is not None:
                raise AssertionError(
                    f"the run ended before its first checkpoint:\n{proc.stderr.read()[-3000:]}"
                )
            if time.monotonic() > deadline:
                raise AssertionError("no checkpoint within 180 s")
            time.sleep(0.02)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL


@pytest.mark.slow
def test_killed_run_resumes_at_its_checkpoint_with_the_same_state_and_losses(tmp_path):
    root = image_folder(tmp_path / "imgs", n_train=BATCHES, n_val=1, size=64, same=True)
    runs = tmp_path / "outputs" / "train" / "runs"
    probe = tmp_path / "probe.jsonl"
    args = args_for("killed", root, probe)

    launch_and_kill_after_first_checkpoint(args, tmp_path, runs / "killed")
    run = only_child(runs / "killed")
    saved = torch.load(run / "checkpoints" / "last.ckpt", weights_only=False)
    step = saved["global_step"]
    assert 0 < step < 2 * BATCHES and step % 6 == 0  # in mid-epoch 0
    assert saved["rng_states"] and len(saved["rng_states"]) == 1

    run_train(args, cwd=tmp_path, OMP_NUM_THREADS="1")  # the same command again
    assert only_child(runs / "killed") == run  # no second folder
    (first, killed), (resumed, after) = launches(probe)
    assert first["global_step"] == 0
    assert resumed["global_step"] == step
    assert resumed["optimizers"] == [tensor_digest(s) for s in saved["optimizer_states"]]
    assert resumed["schedulers"] == [s["last_epoch"] for s in saved["lr_schedulers"]]
    assert resumed["rng"] == tensor_digest(saved["rng_states"][0])
    final = torch.load(run / "checkpoints" / "last.ckpt", weights_only=False)
    assert final["global_step"] == 2 * 2 * BATCHES and final["epoch"] == 1

    # the losses after the resume are those of a run that was never interrupted
    straight_probe = tmp_path / "straight.jsonl"
    run_train(args_for("straight", root, straight_probe), cwd=tmp_path, OMP_NUM_THREADS="1")
    ((_, straight),) = launches(straight_probe)
    assert all(killed[s] == straight[s] for s in killed)  # the runs agree until the kill
    assert sorted(after) == list(range(step + 2, 4 * BATCHES + 1, 2))
    for s, record in after.items():
        assert (record["g"], record["d"]) == pytest.approx((straight[s]["g"], straight[s]["d"])), s
        assert record["weights"] == straight[s]["weights"], s  # bit for bit
