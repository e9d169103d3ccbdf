"""The package installed outside the checkout composes the same configs through its scripts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """``pip install <checkout>`` (no dependencies: they are this venv's) into a fresh folder."""
    site = tmp_path_factory.mktemp("site")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--target",
            str(site),
            str(REPO),
        ],
        check=True,
        capture_output=True,
    )
    return site


def run_installed(site: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(site)}
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.slow
def test_scripts_compose_the_configs_outside_the_checkout(installed, tmp_path):
    where = run_installed(installed, tmp_path, "-c", "import revive; print(revive.__file__)")
    assert Path(where.stdout.strip()).is_relative_to(installed)  # not the checkout's package
    for script in ("revive-train", "revive-predict", "revive-eval"):
        assert (installed / "bin" / script).is_file(), script

    done = run_installed(
        installed, tmp_path, str(installed / "bin" / "revive-train"),
        "model=pix2pix", "data=celeba", "color_space=lab", "--cfg", "job",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    job = yaml.safe_load(done.stdout)
    assert job["data"]["_target_"] == "revive.data.celeba.CelebADataModule"
    assert job["color_space"]["name"] == "lab"
    assert job["model"]["_target_"] == "revive.models.pix2pix.Pix2Pix"

    evaluated = run_installed(
        installed, tmp_path, str(installed / "bin" / "revive-eval"), "--cfg", "job"
    )
    assert evaluated.returncode == 0 and yaml.safe_load(evaluated.stdout)["task_name"] == "eval"
    missing = run_installed(installed, tmp_path, str(installed / "bin" / "revive-predict"))
    assert missing.returncode != 0 and "input" in missing.stderr  # input=??? must be given
