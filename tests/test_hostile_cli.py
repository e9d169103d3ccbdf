"""Every entry point answers a bad file with one line and exit status 2, never a traceback;
HYDRA_FULL_ERROR=1 (or debug) shows the traceback to whoever debugs revive itself."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.conftest import REPO
from tests.hostile_files import colorizer_checkpoint, write_export
from tests.tiny_runs import QUICK


def run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, "WANDB_MODE": "offline", "HYDRA_FULL_ERROR": "0", **env}
    return subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=240,
    )


def one_error_line(proc: subprocess.CompletedProcess, program: str, *names: str) -> str:
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr + proc.stdout
    (line,) = [x for x in proc.stderr.splitlines() if x.startswith(f"{program}: error:")]
    assert all(name in line for name in names), line
    return line


@pytest.fixture
def bad(tmp_path) -> Path:
    """A colorizer checkpoint whose hyper_parameters are a list (a traceback before)."""
    ckpt = colorizer_checkpoint()
    ckpt["hyper_parameters"] = [1, 2]
    torch.save(ckpt, tmp_path / "bad.ckpt")
    return tmp_path / "bad.ckpt"


@pytest.mark.slow
def test_predict_py(tmp_path, bad):
    (tmp_path / "in").mkdir()
    args = [str(REPO / "predict.py"), "input=in", "output=out", f"colorizer={bad}"]
    one_error_line(run(args, tmp_path), "predict.py", "colorizer=", str(bad))
    assert not (tmp_path / "out").exists()
    full = run([*args, "debug=true"], tmp_path)
    assert full.returncode != 0 and "Traceback" in full.stderr


@pytest.mark.slow
def test_eval_py(tmp_path):
    weights = tmp_path / "cut.pth"
    torch.save({"model.0.weight": torch.zeros(4, 1, 3, 3)}, weights)
    weights.write_bytes(weights.read_bytes()[:100])
    (tmp_path / "imgs").mkdir()
    args = [str(REPO / "eval.py"), f"weights={weights}", f"data.test_dir={tmp_path / 'imgs'}"]
    one_error_line(run(args, tmp_path), "eval.py", str(weights), "truncated")


@pytest.mark.slow
def test_export(tmp_path, bad):
    args = ["-m", "revive.weights.export", f"weights={bad}", f"out={tmp_path / 'x.safetensors'}"]
    one_error_line(run(args, tmp_path), "revive-export", str(bad))
    write_export(existing := tmp_path / "existing.safetensors")
    args[-1] = f"out={existing}"
    torch.save(colorizer_checkpoint(), good := tmp_path / "good.ckpt")
    args[-2] = f"weights={good}"
    one_error_line(run(args, tmp_path), "revive-export", "exists", "overwrite=true")
    full = run([*args, "debug=true"], tmp_path)
    assert full.returncode != 0 and "Traceback" in full.stderr
    old = ["-m", "revive.weights.export", str(good), str(existing), "--overwrite"]
    one_error_line(run(old, tmp_path), "revive-export", "--overwrite is now overwrite=true")
    one_error_line(run(old[:-1], tmp_path), "revive-export", f"weights={good} out={existing}")


@pytest.mark.slow
def test_train_py(tmp_path):
    (tmp_path / "junk.ckpt").write_bytes(b"PK\x03\x04 not really")
    args = [str(REPO / "train.py"), "ckpt_path=junk.ckpt"]
    one_error_line(run(args, tmp_path), "train.py", str(tmp_path / "junk.ckpt"))
    full = run(args, tmp_path, HYDRA_FULL_ERROR="1")
    assert full.returncode != 0 and "Traceback" in full.stderr
    missing = [str(REPO / "train.py"), "data=folder", "data.root=nowhere", *QUICK]
    one_error_line(run(missing, tmp_path), "train.py", "data.root=nowhere")
