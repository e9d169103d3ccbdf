"""Art Images: categories, corrupt and non-RGB files, reduced JPEG decoding, training."""

import logging

import numpy as np
import pytest
import torch
from PIL import Image

from revive.data.art import ArtDataModule, read_rgb_reduced
from revive.data.fakes import fake_photos, make_art
from revive.errors import UserError
from revive.training.run import train
from tests.tiny_runs import TINY_TRAIN

SMALL = {"load_size": 72, "crop_size": 64, "num_workers": 0, "batch_size": 2}


def test_corrupt_file_is_skipped_counted_and_named(tmp_path, caplog):
    root = make_art(tmp_path, n_train=4, n_val=2)
    dm = ArtDataModule(str(root), **SMALL)
    with caplog.at_level(logging.WARNING):
        sizes = dm.split_sizes()
    assert sizes == {"train": 6, "val": 2}  # 4 photos + CMYK + gray; broken.jpg left out
    assert [p.name for p in dm.skipped] == ["broken.jpg"]
    assert "skipping 1 unreadable file(s) of 7" in caplog.text
    assert "training_set/painting/broken.jpg" in caplog.text


def test_cmyk_and_gray_files_arrive_as_rgb(tmp_path):
    dm = ArtDataModule(str(make_art(tmp_path)), **SMALL)
    dm.setup()
    ds = dm.datasets["train"]
    by_name = {p.name: i for i, p in enumerate(ds.paths)}
    gray = ds.load(by_name["gray.png"])
    cmyk = ds.load(by_name["cmyk.jpg"])
    assert gray.shape[2] == 3 and (gray[..., 0] == gray[..., 1]).all()
    assert cmyk.shape[2] == 3 and cmyk.dtype == np.uint8
    original = fake_photos(2, 48, 60, seed=99)[0].astype(int)
    assert np.abs(cmyk.astype(int) - original).mean() < 8  # same picture, JPEG-compressed


def test_an_epoch_survives_files_that_break_only_when_decoded(tmp_path, caplog):
    root = make_art(tmp_path, n_train=4)
    folder = root / "dataset_updated" / "training_set" / "painting"
    # A half-downloaded JPEG: its header passes the setup check, its pixels do not decode.
    noisy = np.random.default_rng(0).integers(0, 256, (200, 200, 3), dtype=np.uint8)
    Image.fromarray(noisy).save(folder / "whole.jpg")
    data = (folder / "whole.jpg").read_bytes()
    (folder / "whole.jpg").unlink()
    (folder / "truncated.jpg").write_bytes(data[: len(data) // 2])
    dm = ArtDataModule(str(root), **{**SMALL, "batch_size": 1})
    dm.setup()
    assert "truncated.jpg" in {p.name for p in dm.datasets["train"].paths}
    with caplog.at_level(logging.WARNING):
        batches = list(dm.train_dataloader())
    assert len(batches) == len(dm.datasets["train"])
    assert all(b.rgb.shape == (1, 3, 64, 64) and b.rgb.dtype == torch.uint8 for b in batches)
    assert "truncated.jpg" in caplog.text


def test_categories_select_folders_and_unknown_ones_are_listed(tmp_path):
    root = make_art(tmp_path, categories=("painting", "drawings"), n_train=3, n_val=1)
    both = ArtDataModule(str(root), categories=["painting", "drawings"], **SMALL)
    assert both.split_sizes() == {"train": 3 + 2 + 3, "val": 2}
    with pytest.raises(UserError, match=r"\['sculpture'\].*available: \['drawings', 'painting'\]"):
        ArtDataModule(str(root), categories=["sculpture"], **SMALL).setup()


def test_root_may_be_the_dataset_updated_folder_itself(tmp_path):
    root = make_art(tmp_path)
    dm = ArtDataModule(str(root / "dataset_updated"), **SMALL)
    assert dm.split_sizes()["train"] == 6


def test_missing_layout_names_paths_and_download(tmp_path):
    with pytest.raises(UserError) as err:
        ArtDataModule(str(tmp_path), **SMALL).setup()
    message = str(err.value)
    assert "dataset_updated/training_set/<category>" in message
    assert "kaggle.com/datasets/thedownhill" in message


def test_large_jpegs_decode_reduced_but_never_below_the_needed_size(tmp_path):
    path = tmp_path / "big.jpg"
    Image.fromarray(fake_photos(1, 900, 1200)[0]).save(path)
    assert read_rgb_reduced(path, None).shape == (900, 1200, 3)
    reduced = read_rgb_reduced(path, 286)
    assert reduced.shape == (450, 600, 3)  # 1/2: 1/4 would give 225 < 286
    assert read_rgb_reduced(path, 100).shape == (113, 150, 3)  # 1/8
    # Training with a random resized crop needs full resolution; eval only the crop size.
    dm = ArtDataModule(str(make_art(tmp_path / "a")), random_resized_crop=[0.5, 1.0], **SMALL)
    assert dm.min_side == {"train": None, "val": 64, "test": 64}


@pytest.mark.slow
def test_fast_dev_run_through_hydra(make_cfg, tmp_path):
    root = make_art(tmp_path / "art")
    cfg = make_cfg("train", ["data=art", f"data.root={root}", "color_space=rgb", *TINY_TRAIN])
    metrics = train(cfg)
    assert np.isfinite(metrics["train/g_l1"]) and 5 < metrics["val/psnr"] < 60
