"""Every experiment config trains for one batch (``fast_dev_run``) on tiny fakes of its data."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
import torchvision
from hydra.utils import get_class

from revive.config import config_dir
from revive.data.fakes import (
    fake_photos,
    make_art,
    make_celeba,
    make_colorization,
    make_colorize_split,
    make_family,
    make_study,
)
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
    make_family(root / "family")
    color_folder(root / "landscapes", n=3, seed=12)
    (root / "weights").mkdir()  # a stand-in for the ImageNet ResNet-34 (random weights)
    torch.save(
        torchvision.models.resnet34(weights=None).state_dict(), root / "weights/resnet34.pth"
    )
    make_study(root / "study", n=1)  # seed_study's test folders
    make_colorize_split(root / "colorize_split", n_train=2, n_eval=1)  # revive_colorizer's
    return root


def tiny_overrides(cfg) -> list[str]:
    """Tiny networks for the experiment's model and generator."""
    if "generator" not in cfg.model:  # a denoiser
        return TINY_DNCNN
    model = get_class(cfg.model._target_).__name__
    generator = cfg.model.generator._target_.rsplit(".", 1)[1]
    if generator == "PretrainedUnet":  # keeps the experiment's encoder, so its weights fit
        nets = ["model.generator.decoder_channels=[16,16,16,8,8]", "model.discriminator.ndf=8"]
        return [*nets, "data.load_size=72", "data.crop_size=64"]
    if generator == "ResnetGenerator":
        nets = ["model.generator.ngf=4", "model.generator.n_blocks=2", "model.discriminator.ndf=4"]
        size = ["data.a_load_size=72"] if model == "CycleGAN" else []
        return [*nets, *size, "data.load_size=72", "data.crop_size=64"]
    return TINY_PIX2PIX


def test_the_seeds_runs_all_have_a_config():
    assert set(SEED_RUNS) <= set(EXPERIMENTS)


@pytest.mark.slow
@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_experiment_trains_one_batch(experiment, make_cfg, data_dir):
    base = [f"experiment={experiment}", f"paths.data_dir={data_dir}"]
    composed = make_cfg("train", base)
    model = get_class(composed.model._target_).__name__
    cfg = make_cfg(
        "train", [*base, *tiny_overrides(composed), *QUICK, "+trainer.fast_dev_run=true"]
    )
    if experiment in SEED_RUNS:
        assert cfg.name == experiment  # its own run folder and wandb group
    if model == "Pix2Pix" and experiment in SEED_RUNS:
        assert cfg.color_space.name == experiment.rsplit("_", 1)[1]
    metrics = train(cfg)
    assert math.isfinite(metrics["val/psnr"]), metrics
    for name in cfg.get("test_dirs") or {}:  # scored after training, beside the gray baseline
        assert math.isfinite(metrics[f"{name}/test/psnr"]), metrics
        assert math.isfinite(metrics[f"{name}/gray/psnr"]), metrics
