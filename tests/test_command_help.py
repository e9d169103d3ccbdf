"""One command-line convention (issue #22): every command is a Hydra command installed as a
console script, and its ``--help`` shows an example that works as written.

Each example is run as the user would type it (through ``python -m``/the script the console
script calls), in a fresh folder that holds what it names; train's and the web page's examples
(minutes of training, a server) are composed with ``--cfg job`` instead.
"""

from __future__ import annotations

import importlib
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from tests.conftest import REPO

# How each console script is also run: the shims of the checkout, or python -m.
COMMANDS = {
    "revive-train": [str(REPO / "train.py")],
    "revive-predict": [str(REPO / "predict.py")],
    "revive-eval": [str(REPO / "eval.py")],
    "revive-app": ["-m", "revive.app"],
    "revive-compare": ["-m", "revive.compare"],
    "revive-bench": ["-m", "revive.bench"],
    "revive-export": ["-m", "revive.weights.export"],
    "revive-inspect": ["-m", "revive.data.inspect"],
    "revive-holdout": ["-m", "revive.data.holdout"],
}
COMPOSED_ONLY = {"revive-train", "revive-app"}  # their examples train for minutes, or serve


def run(script: str, args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "WANDB_MODE": "offline", "PYTHONPATH": str(REPO)}
    env.pop("HYDRA_FULL_ERROR", None)
    return subprocess.run(
        [sys.executable, *COMMANDS[script], *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def example(script: str, cwd: Path) -> list[str]:
    """The arguments of the first example that ``script --help`` shows."""
    done = run(script, ["--help"], cwd)
    assert done.returncode == 0, done.stderr
    assert re.search(r"\bexamples?\b", done.stdout, re.IGNORECASE), done.stdout
    lines = re.findall(rf"^[ \t]+{script}\b(.*)$", done.stdout, re.MULTILINE)
    assert lines, done.stdout
    return shlex.split(lines[0])


def test_every_console_script_is_a_command_here():
    section = (REPO / "pyproject.toml").read_text().split("[project.scripts]")[1].split("\n[")[0]
    assert set(re.findall(r"^([\w-]+) = ", section, re.MULTILINE)) == set(COMMANDS)
    for script in COMMANDS:
        assert callable(console_script(script)), script


def console_script(script: str):
    """The function that the console script ``script`` calls (pyproject.toml)."""
    section = (REPO / "pyproject.toml").read_text().split("[project.scripts]")[1].split("\n[")[0]
    target = dict(re.findall(r'^([\w-]+) = "([\w.:]+)"', section, re.MULTILINE))[script]
    module, _, function = target.partition(":")
    return getattr(importlib.import_module(module), function)


@pytest.mark.parametrize("script", sorted(COMMANDS))
def test_help_shows_an_example_that_composes(script, tmp_path, monkeypatch, command, capsys):
    """In this process (fast): ``--help``, then its example with ``--cfg job``."""
    monkeypatch.chdir(tmp_path)
    main = console_script(script)
    with pytest.raises(SystemExit) as exit_info:
        command(main, "--help")
    assert exit_info.value.code == 0
    shown = capsys.readouterr().out
    assert re.search(r"\bexamples?\b", shown, re.IGNORECASE), shown
    lines = re.findall(rf"^[ \t]+{script}\b(.*)$", shown, re.MULTILINE)
    assert lines, shown
    command(main, *shlex.split(lines[0]), "--cfg", "job")
    composed = capsys.readouterr()
    assert yaml.safe_load(composed.out)["task_name"], composed.err
    assert not list(tmp_path.iterdir())  # --help and --cfg job write nothing


def prepare(script: str, where: Path) -> None:
    """Make what ``script``'s example names, in ``where``."""
    from revive.data.fakes import fake_photos
    from revive.io import save_image

    if script == "revive-predict":
        save_image(fake_photos(1, 40, 56, seed=0)[0][..., 0], where / "scans" / "old.png")
    elif script == "revive-eval":
        for i, photo in enumerate(fake_photos(2, 40, 56, seed=1)):
            save_image(photo, where / "photos" / f"p{i}.png")
    elif script == "revive-holdout":  # one more photo per group than the split sets aside
        from revive.data.holdout import COUNTS

        rng = np.random.default_rng(0)
        layout = {"faces": COUNTS["faces"], "varied": COUNTS["varied"]}
        layout |= {f"scenes/{c}": COUNTS["scenes"] for c in ("forest", "sea")}
        for folder, need in layout.items():
            for i in range(need.test + need.val + 1):
                pixels = rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)
                save_image(pixels, where / "photos" / folder / f"{i:03d}.jpg")
    elif script == "revive-export":
        (where / "revive").symlink_to(REPO / "revive")  # the example runs from a checkout
    elif script == "revive-compare":
        from revive.training.run import train
        from tests.conftest import compose_config
        from tests.tiny_runs import image_folder, pix2pix_args

        root = image_folder(where / "imgs", n_train=2, n_val=2)
        sweep = where / "outputs" / "demo" / "multiruns" / "lab_vs_rgb"
        for space in ("lab", "rgb"):
            overrides = [*pix2pix_args(root, epochs=1), f"color_space={space}"]
            train(compose_config("train", overrides, sweep / space))


@pytest.mark.slow
@pytest.mark.parametrize("script", sorted(COMMANDS.keys() - COMPOSED_ONLY))
def test_help_shows_an_example_that_works(script, tmp_path):
    prepare(script, tmp_path)
    before = set(tmp_path.iterdir())
    done = run(script, example(script, tmp_path), tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    made = {p.name for p in set(tmp_path.iterdir()) - before}
    wanted = {
        "revive-predict": {"revived", "outputs"},  # outputs/: predict's log folder
        "revive-eval": {"outputs"},
        "revive-compare": set(),  # into the sweep's compare/
        "revive-bench": {"outputs"},  # outputs/bench/bench_<time>.json
        "revive-export": {"colorizer.onnx"},
        "revive-inspect": {"sheet.png"},
        "revive-holdout": {"split"},
    }[script]
    assert made == wanted, made
