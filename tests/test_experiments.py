"""Every experiment config trains for one batch (``fast_dev_run``) on tiny fakes of its data."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hydra.utils import get_class

from revive.config import config_dir
from revive.data.fakes import fake_photos, make_art, make_celeba, make_colorization, make_study
from revive.io import save_image
from revive.training.run import train
from tests.tiny_runs import QUICK, TINY_DNCNN, TINY_PIX2PIX, gray_folder

EXPERIMENTS = sorted(p.stem for p in (config_dir() / "experiment").glob("*.yaml"))
SEED_RUNS = [
    f"{data}_{space}"
    for data in ("celeba", "colorization", "art", "mix")
    for space in ("lab", "rgb")
] + ["dncnn_s25", "dncnn_blind", "dncnn_color"]


def color_folder(root: Path, n: int, size: int = 32, seed: int = 8) -> Path:
    for i, photo in enumerate(fake_photos(n, size, size, seed=seed)):
        save_image(photo, root / f"color_{i:02d}.png")
    return root


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    """``paths.data_dir`` holding a tiny fake of every dataset the experiments name."""
    root = tmp_path_factory.mktemp("data")
    make_celeba(root / "celeba", n=6)
    make_colorization(root / "colorization", n=20, size=32)
    make_art(root / "art", categories=("painting",), n_train=2, n_val=1)
    gray_folder(root / "Train400", n=2)
    gray_folder(root / "Set12", n=1, seed=9)
    gray_folder(root / "BSD68", n=1, seed=10)
    color_folder(root / "CBSD432", n=2)
    color_folder(root / "CBSD68", n=1, seed=11)
    make_study(root / "study", n=1)  # seed_study's test folders
    return root


def test_the_seeds_runs_all_have_a_config():
    assert set(SEED_RUNS) <= set(EXPERIMENTS)


@pytest.mark.slow
@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_experiment_trains_one_batch(experiment, make_cfg, data_dir):
    base = [f"experiment={experiment}", f"paths.data_dir={data_dir}"]
    model = get_class(make_cfg("train", base).model._target_).__name__
    tiny = TINY_PIX2PIX if model == "Pix2Pix" else TINY_DNCNN
    cfg = make_cfg("train", [*base, *tiny, *QUICK, "+trainer.fast_dev_run=true"])
    if experiment in SEED_RUNS:
        assert cfg.name == experiment  # its own run folder and wandb group
    if model == "Pix2Pix" and experiment in SEED_RUNS:
        assert cfg.color_space.name == experiment.rsplit("_", 1)[1]
    metrics = train(cfg)
    assert math.isfinite(metrics["val/psnr"]), metrics
    for name in cfg.get("test_dirs") or {}:  # scored after training, beside the gray baseline
        assert math.isfinite(metrics[f"{name}/test/psnr"]), metrics
        assert math.isfinite(metrics[f"{name}/gray/psnr"]), metrics
