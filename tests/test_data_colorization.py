"""Image Colorization (.npy): exact LAB decoding, memory mapping, seeded splits, training."""

import pickle

import cv2
import kornia.color as kc
import numpy as np
import pytest
import torch

from revive.data.colorization import ColorizationDataModule, decode_lab
from revive.data.fakes import colorization_photos, make_colorization
from revive.errors import UserError
from revive.training.run import train
from tests.tiny_runs import TINY_TRAIN

SMALL = {"load_size": 32, "crop_size": 32, "num_workers": 0, "batch_size": 2}


def kornia_lab(rgb: np.ndarray) -> np.ndarray:
    """kornia's LAB of uint8 RGB [H,W,3], as [H,W,3] float."""
    x = torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 255.0
    return kc.rgb_to_lab(x)[0].permute(1, 2, 0).numpy()


def test_decoded_lab_matches_kornia_within_one_unit(tmp_path):
    root = make_colorization(tmp_path, n=10, size=32)
    photos = colorization_photos(10, 32)
    dm = ColorizationDataModule(str(root), **SMALL)
    dm.setup()
    seen = 0
    for split, ds in dm.datasets.items():
        raw = dm.make_dataset(split, None)  # no augmentation: row for row comparable
        for i, row in enumerate(raw.indices):
            lab = raw[i].lab
            assert lab.dtype == torch.float32 and lab.shape == (3, 32, 32)
            diff = np.abs(lab.permute(1, 2, 0).numpy() - kornia_lab(photos[row]))
            # OpenCV's 8-bit LAB (how the files were made) is fixed-point: in dark saturated
            # pixels it is itself up to ~1.4 off (e.g. RGB (15,19,43)); elsewhere within 1.
            assert (diff <= 1.0).mean() >= 0.995 and diff.max() <= 1.5, (split, row)
            assert diff.mean() <= 0.3
            seen += 1
        if split != "train":  # the eval transform (a resize to the native size) changes nothing
            np.testing.assert_allclose(ds[0].lab.numpy(), raw[0].lab.numpy(), atol=1e-4)
    assert seen == 10


def test_decoding_is_the_inverse_of_opencvs_8bit_encoding():
    encoded = np.array([[[255, 128, 128], [0, 0, 255], [51, 100, 200]]], np.uint8)
    expected = [[[100.0, 0.0, 0.0], [0.0, -128.0, 127.0], [20.0, -28.0, 72.0]]]
    np.testing.assert_allclose(decode_lab(encoded), expected, atol=1e-5)


def test_full_gamut_pixels_decode_close_to_kornia():
    """Saturated random colors: OpenCV's 8-bit fixed-point LAB drifts a little more at the edges
    of the gamut, but stays well within the quantization step on average."""
    rgb = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    diff = np.abs(decode_lab(cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB)) - kornia_lab(rgb))
    assert diff.max() <= 2.0 and diff.mean() <= 0.3


def test_rgb_output_gives_back_the_photos(tmp_path):
    root = make_colorization(tmp_path, n=6, size=32)
    ds = ColorizationDataModule(str(root), output="rgb", **SMALL).make_dataset("train", None)
    photos = colorization_photos(6, 32)
    for i, row in enumerate(ds.indices):
        rgb = ds[i].rgb
        assert rgb.dtype == torch.uint8 and rgb.shape == (3, 32, 32)
        rgb = rgb.permute(1, 2, 0).numpy().astype(int)
        # Exact (float) inverse of the stored LAB: our conversion adds at most one level ...
        stored = decode_lab(ds.encoded(i))
        exact = cv2.cvtColor(stored, cv2.COLOR_LAB2RGB) * 255.0
        assert np.abs(rgb - exact).max() <= 1.5
        # ... and the pictures come back, up to the 8-bit LAB quantization of the files.
        assert np.abs(rgb - photos[row]).mean() < 1.0


def test_flat_and_nested_ab_folders_hold_the_same_data(tmp_path):
    nested = ColorizationDataModule(str(make_colorization(tmp_path / "a", nested=True)), **SMALL)
    flat = ColorizationDataModule(str(make_colorization(tmp_path / "b", nested=False)), **SMALL)
    assert [p.name for p in nested.ab_paths()] == ["ab1.npy", "ab2.npy", "ab3.npy"]
    assert flat.split_sizes() == nested.split_sizes()
    flat_rows, nested_rows = flat.make_dataset("train", None), nested.make_dataset("train", None)
    np.testing.assert_array_equal(flat_rows[3].lab, nested_rows[3].lab)


def test_splits_are_seeded_disjoint_and_complete(tmp_path):
    root = str(make_colorization(tmp_path, n=40))
    fractions = {"val_fraction": 0.2, "test_fraction": 0.1}
    a = ColorizationDataModule(root, seed=1, **fractions, **SMALL).split_rows()
    b = ColorizationDataModule(root, seed=1, **fractions, **SMALL).split_rows()
    c = ColorizationDataModule(root, seed=2, **fractions, **SMALL).split_rows()
    assert {k: len(v) for k, v in a.items()} == {"test": 4, "val": 8, "train": 28}
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["val"], c["val"])
    assert sorted(np.concatenate(list(a.values())).tolist()) == list(range(40))


def test_arrays_are_memory_mapped_and_never_pickled(tmp_path):
    root = make_colorization(tmp_path, n=12, size=64)  # 49 KB of L, 98 KB of ab
    ds = ColorizationDataModule(str(root), **SMALL).make_dataset("train", None)
    ds[0]
    light, ab, _ = ds._arrays
    assert isinstance(light, np.memmap) and all(isinstance(a, np.memmap) for a in ab)
    clone = pickle.loads(pickle.dumps(ds))  # what a spawned DataLoader worker receives
    assert len(pickle.dumps(ds)) < 4000 and clone._arrays is None
    np.testing.assert_array_equal(clone[5].lab, ds[5].lab)


def test_augmentation_moves_l_and_ab_together(tmp_path):
    root = make_colorization(tmp_path, n=6, size=32)
    dm = ColorizationDataModule(str(root), flip=True, **SMALL)
    dm.setup()
    raw = dm.make_dataset("train", None)
    flips = set()
    for _ in range(20):  # both outcomes appear unless p = 2 ** -19
        lab = dm.datasets["train"][0].lab.numpy()
        plain = raw[0].lab.numpy()
        same = np.allclose(lab, plain, atol=1e-4)
        mirrored = np.allclose(lab, plain[:, :, ::-1], atol=1e-4)
        assert same or mirrored  # all three channels flipped, or none
        flips.add(mirrored)
    assert flips == {True, False}


def test_train_batches_after_resize_and_crop_stay_in_range(tmp_path):
    root = make_colorization(tmp_path, n=6, size=32)
    dm = ColorizationDataModule(str(root), **{**SMALL, "load_size": 40, "crop_size": 24})
    dm.setup()
    lab = next(iter(dm.train_dataloader())).lab
    assert lab.shape == (2, 3, 24, 24) and lab.dtype == torch.float32
    assert lab[:, 0].min() >= 0 and lab[:, 0].max() <= 100
    assert lab[:, 1:].min() >= -128 and lab[:, 1:].max() <= 127


def test_missing_or_mismatched_arrays_are_explained(tmp_path):
    with pytest.raises(UserError) as err:
        ColorizationDataModule(str(tmp_path / "none"), **SMALL).setup()
    assert "l/gray_scale.npy" in str(err.value) and "shravankumar9892" in str(err.value)

    root = make_colorization(tmp_path / "partial", n=9)
    (root / "ab" / "ab" / "ab3.npy").unlink()
    with pytest.raises(ValueError, match="holds 9 images but the ab files"):
        ColorizationDataModule(str(root), **SMALL).setup()


def test_lab_batches_round_trip_through_the_lab_space(tmp_path):
    root = make_colorization(tmp_path, n=6, size=32)
    dm = ColorizationDataModule(str(root), **SMALL)
    dm.setup()
    batch = next(iter(dm.val_dataloader()))
    from revive.color import get_color_space

    lab_space = get_color_space("lab")
    x, y = lab_space.split(batch)
    assert x.shape[1] == 1 and y.shape[1] == 2
    np.testing.assert_allclose(((x + 1) * 50).numpy(), batch.lab[:, :1].numpy(), atol=1e-4)


@pytest.mark.slow
def test_fast_dev_run_through_hydra(make_cfg, tmp_path):
    root = make_colorization(tmp_path / "col", n=8, size=32)
    cfg = make_cfg("train", ["data=colorization", f"data.root={root}", *TINY_TRAIN])
    metrics = train(cfg)
    assert np.isfinite(metrics["train/g_l1"]) and 5 < metrics["val/psnr"] < 60
