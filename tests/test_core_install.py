"""The core install alone (no extra) trains, predicts, and says which extra a feature needs.

The venv is made by :func:`tests.core_venv.make_core_venv`: exactly the distributions that
``pyproject.toml``'s core requirements resolve to, linked from this (full) install rather than
downloaded again, and revive installed into it by pip from the checkout. Its console scripts are
the ones pip writes for a user.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from tests.core_venv import make_core_venv, size_bytes

pytestmark = pytest.mark.slow

SCRIPTS = (
    "revive-train",
    "revive-predict",
    "revive-eval",
    "revive-app",
    "revive-compare",
    "revive-bench",
    "revive-export",
    "revive-inspect",
    "revive-holdout",
)
# The commands that keep a Hydra run folder (with its log) under paths.log_dir.
LOGGING_SCRIPTS = {"revive-train", "revive-predict", "revive-eval", "revive-app"}
EXTRAS_LEFT_OUT = ("gradio", "onnx", "onnxruntime", "onnxscript", "spandrel", "timm")


@pytest.fixture(scope="module")
def core(tmp_path_factory) -> Path:
    """A fresh venv holding revive and its core requirements only; its size goes to the log."""
    where = tmp_path_factory.mktemp("core") / "venv"
    start = time.perf_counter()
    dists = make_core_venv(where)
    seconds = time.perf_counter() - start
    print(
        f"core venv: {len(dists)} distributions, {size_bytes(where) / 2**30:.2f} GiB, "
        f"made in {seconds:.0f} s"
    )
    return where


def run(core: Path, cwd: Path, script: str, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "HYDRA_FULL_ERROR")}
    env["WANDB_MODE"] = "offline"
    return subprocess.run(
        [str(core / "bin" / script), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_extras_are_absent_and_revive_is_the_installed_copy(core, tmp_path):
    code = (
        "import importlib.util, revive; print(revive.__file__); "
        f"print([m for m in {EXTRAS_LEFT_OUT + ('torchvision',)!r} "
        "if importlib.util.find_spec(m)])"
    )
    done = subprocess.run(
        [str(core / "bin" / "python"), "-c", code], cwd=tmp_path, capture_output=True, text=True
    )
    where, found = done.stdout.splitlines()
    assert Path(where).is_relative_to(core), where  # not the checkout's package
    assert found == "[]"


def test_train_composes_and_predict_revives_a_photo_with_the_shipped_colorizer(core, tmp_path):
    job = run(core, tmp_path, "revive-train", "--cfg", "job")
    assert job.returncode == 0, job.stderr
    assert yaml.safe_load(job.stdout)["task_name"] == "train"

    gray = np.random.default_rng(0).integers(0, 256, (37, 53), dtype=np.uint8)
    Image.fromarray(gray).save(tmp_path / "tiny.png")
    done = run(core, tmp_path, "revive-predict", "input=tiny.png", "output=out", "device=cpu")
    assert done.returncode == 0, done.stderr
    revived = Image.open(tmp_path / "out" / "tiny_revived.png")
    assert revived.size == (53, 37) and revived.mode == "RGB"


@pytest.mark.parametrize(
    ("extra", "script", "args"),
    [
        ("app", "revive-app", ()),
        ("export", "revive-export", ("weights={shipped}", "out=x.onnx")),
        ("sr", "revive-predict", ("input=tiny.png", "output=out", "upscaler=x4.pth")),
        ("export", "revive-predict", ("input=tiny.png", "output=out", "backend=onnx")),
        (
            "encoders",
            "revive-train",
            ("model/generator=pretrained_unet", "trainer.accelerator=cpu", "logger=csv"),
        ),
    ],
)
def test_a_feature_without_its_extra_says_which_to_install(core, tmp_path, extra, script, args):
    (shipped,) = core.joinpath("lib").glob("python*/site-packages/revive/weights/shipped")
    args = [a.format(shipped=shipped / "colorizer.safetensors") for a in args]
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "tiny.png")
    (tmp_path / "x4.pth").write_bytes(b"never read: the extra is checked first")
    (tmp_path / "colorizer.onnx").write_bytes(b"never read either")
    if "backend=onnx" in args:
        args.append("colorizer=colorizer.onnx")
    if script in LOGGING_SCRIPTS:
        args.append(f"paths.log_dir={tmp_path / 'logs'}")
    done = run(core, tmp_path, script, *args)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert "Traceback" not in done.stderr
    assert lines[-1].endswith(f"pip install 'revive[{extra}]'"), done.stderr
    assert ": error: " in lines[-1]


@pytest.mark.parametrize("script", SCRIPTS)
def test_every_script_has_help_with_a_working_example(core, tmp_path, script):
    """``--help`` exits 0 and shows an example, which composes as given (every command is a
    Hydra command)."""
    done = run(core, tmp_path, script, "--help")
    assert done.returncode == 0, done.stderr
    examples = re.findall(rf"^[ \t]+({script}\b.*)$", done.stdout, re.MULTILINE)
    assert re.search(r"\bexamples?\b", done.stdout, re.IGNORECASE) and examples, done.stdout
    args = examples[0].split()[1:]
    composed = run(core, tmp_path, script, *args, "--cfg", "job")
    assert composed.returncode == 0, composed.stderr
