"""CelebA: the official aligned layout, its partition file, the face crop, and a training run."""

import logging

import numpy as np
import pytest
import torch

from revive.data.celeba import CelebADataModule, face_box
from revive.data.fakes import CELEBA_SIZE, make_celeba
from revive.errors import UserError
from revive.io import read_rgb
from revive.training.run import train
from tests.tiny_runs import TINY_TRAIN

SMALL = {"load_size": 72, "crop_size": 64, "num_workers": 0, "batch_size": 2}


def test_counts_follow_the_partition_file(tmp_path):
    root = make_celeba(tmp_path, n=12, partition=[0] * 7 + [1] * 3 + [2] * 2)
    dm = CelebADataModule(str(root), **SMALL)
    assert dm.split_sizes() == {"train": 7, "val": 3, "test": 2}
    names = {s: [p.name for p in ds.paths] for s, ds in dm.datasets.items()}
    assert names["val"] == ["000008.jpg", "000009.jpg", "000010.jpg"]
    assert set(names["train"]).isdisjoint(names["val"] + names["test"])


def test_batches_are_uint8_rgb_of_the_crop_size(tmp_path):
    dm = CelebADataModule(str(make_celeba(tmp_path)), **SMALL)
    dm.setup("fit")
    train_batch = next(iter(dm.train_dataloader()))
    val_batch = next(iter(dm.val_dataloader()))
    for batch in (train_batch, val_batch):
        assert batch.rgb.shape == (2, 3, 64, 64) and batch.rgb.dtype == torch.uint8
        assert batch.rgb.float().std() > 0  # real pictures, not a blank fill


def test_face_crop_cuts_a_square_around_the_face_centre(tmp_path):
    root = make_celeba(tmp_path, n=3)
    dm = CelebADataModule(str(root), face_crop=True, **SMALL)
    dm.setup()
    ds = dm.datasets["train"]
    full = read_rgb(ds.paths[0])
    assert full.shape[:2] == (CELEBA_SIZE[1], CELEBA_SIZE[0])
    face = ds.load(0)
    assert face.shape == (128, 128, 3)
    # The progressive-GAN crop of the aligned 178x218 faces: centre (89, 121).
    np.testing.assert_array_equal(face, full[57:185, 25:153])
    assert face_box(178, 218, 500) == (32, 0, 210, 178)  # as large as fits, still centred


def test_kaggle_copy_with_csv_and_nested_folder(tmp_path):
    make_celeba(tmp_path / "k", n=6, csv=True)
    (tmp_path / "k" / "img_align_celeba").rename(tmp_path / "nested")
    (tmp_path / "k" / "img_align_celeba").mkdir()
    (tmp_path / "nested").rename(tmp_path / "k" / "img_align_celeba" / "img_align_celeba")
    dm = CelebADataModule(str(tmp_path / "k"), **SMALL)
    assert sum(dm.split_sizes().values()) == 6


def test_missing_files_are_counted_and_logged(tmp_path, caplog):
    root = make_celeba(tmp_path, n=9, partition=[0] * 6 + [1] * 3)
    (root / "img_align_celeba" / "000002.jpg").unlink()
    dm = CelebADataModule(str(root), **SMALL)
    with caplog.at_level(logging.WARNING):
        sizes = dm.split_sizes()
    assert sizes["train"] == 5 and "test" not in sizes
    assert "1 of 6 listed images are missing" in caplog.text and "000002.jpg" in caplog.text


def test_missing_layout_names_paths_and_download(tmp_path):
    dm = CelebADataModule(str(tmp_path / "nowhere"), **SMALL)
    with pytest.raises(UserError) as err:
        dm.setup()
    message = str(err.value)
    for expected in ("img_align_celeba", "list_eval_partition.txt", "mmlab.ie.cuhk.edu.hk"):
        assert expected in message


def test_bad_partition_line_is_reported_with_its_line_number(tmp_path):
    root = make_celeba(tmp_path, n=3)
    (root / "list_eval_partition.txt").write_text("000001.jpg 0\n000002.jpg train\n")
    with pytest.raises(ValueError, match=r"list_eval_partition.txt:2"):
        CelebADataModule(str(root), **SMALL).setup()


@pytest.mark.slow
def test_fast_dev_run_through_hydra(make_cfg, tmp_path):
    root = make_celeba(tmp_path / "celeba")
    cfg = make_cfg("train", ["data=celeba", f"data.root={root}", "data.face_crop=96", *TINY_TRAIN])
    metrics = train(cfg)
    assert np.isfinite(metrics["train/g_l1"]) and 5 < metrics["val/psnr"] < 60
