"""Old-photo degradations (``data.degrade=old_photo``): each step, the wiring, reproducibility."""

from __future__ import annotations

import math

import albumentations as A
import cv2
import numpy as np
import pytest
import torch
import yaml
from hydra.utils import instantiate

from revive.batch import Batch, ColorBatch, DenoiseBatch
from revive.color import get_color_space, lab_to_rgb_uint8, luminance_uint8
from revive.config import config_dir
from revive.data.fakes import fake_photos
from revive.data.old_photo import (
    OPERATIONS,
    Defocus,
    DegradedInputs,
    Spots,
    degradation,
    old_photo_pipeline,
)
from revive.data.transforms import _transforms
from revive.models.dncnn import DnCNNModule
from revive.training.run import train
from tests.tiny_runs import QUICK, TINY_DNCNN, TINY_PIX2PIX, gray_folder

KNOBS = yaml.safe_load((config_dir() / "degrade" / "old_photo.yaml").read_text())


def only(name: str, **changes) -> dict:
    """The default knobs with every step off except ``name`` (always applied), ``changes`` set."""
    knobs = {op: dict(k, p=0.0) for op, k in KNOBS.items()}
    knobs[name] = dict(KNOBS[name], p=1.0, **changes)
    return knobs


def photo(size: int = 96, seed: int = 3) -> np.ndarray:
    """A smooth fake color photo with some fine texture (so that blur has detail to remove)."""
    base = fake_photos(1, size, size, seed=seed)[0].astype(np.float32)
    texture = np.random.default_rng(seed).normal(0, 20, (size, size, 1))
    return np.clip(base + texture, 0, 255).astype(np.uint8)


def high_freq_energy(image: np.ndarray) -> float:
    """Energy of the gray image's spectrum above half the Nyquist frequency."""
    gray = image.astype(np.float32).mean(-1)
    spectrum = np.abs(np.fft.fftshift(np.fft.fft2(gray - gray.mean()))) ** 2
    h, w = gray.shape
    fy, fx = np.meshgrid(np.arange(h) - h // 2, np.arange(w) - w // 2, indexing="ij")
    return float(spectrum[np.hypot(fy / h, fx / w) > 0.25].sum())


def apply(knobs: dict, image: np.ndarray, seed: int = 0, gray: bool = False) -> np.ndarray:
    return old_photo_pipeline(knobs, seed=seed, gray=gray)(image=image)["image"]


NOTHING = {op: dict(k, p=0.0) for op, k in KNOBS.items()}  # every step off


@pytest.mark.parametrize("name", list(OPERATIONS))
def test_every_step_changes_the_image_and_keeps_its_form(name):
    image = photo()
    out = apply(only(name), image)
    assert out.shape == image.shape and out.dtype == np.uint8
    assert not np.array_equal(out, image)


@pytest.mark.parametrize("name", list(OPERATIONS))
def test_every_step_changes_the_gray_scan_a_colorizer_is_given(name):
    image = photo()
    scan = luminance_uint8(image)[..., None]
    out = apply(only(name), image, gray=True)
    assert out.shape == scan.shape and out.dtype == np.uint8
    assert not np.array_equal(out, scan)


def test_with_every_step_off_the_gray_scan_is_the_gray_predict_reads():
    """eval.py and predict.py gray a photo to the gray of equal CIE Y; the loader's scan is
    that gray in 8 bits, so its LAB L* is the clean photo's up to 8-bit rounding."""
    image = photo()
    out = apply(NOTHING, image, gray=True)
    assert np.array_equal(out[..., 0], luminance_uint8(image))
    rgb = torch.from_numpy(image).permute(2, 0, 1)[None]
    clean_l = get_color_space("lab").split(ColorBatch(rgb=rgb))
    sample = ColorBatch(rgb=rgb, degraded=torch.from_numpy(out).permute(2, 0, 1)[None])
    scan_l, _ = get_color_space("lab").split(sample)
    assert (scan_l - clean_l[0]).abs().max() * 50 < 0.25  # L* units; half a gray level is 0.2


def test_a_gray_pipeline_needs_rgb_photos():
    with pytest.raises(ValueError, match="channels=3"):
        old_photo_pipeline(NOTHING, channels=1, gray=True)


def test_the_cast_changes_the_tones_of_the_gray_scan():
    """A yellowed print scans darker where it was blue: the cast acts before the gray."""
    image = photo()
    blue = np.ascontiguousarray(image[..., ::-1])  # a photo with much more blue than red
    without = apply(NOTHING, blue, gray=True).astype(np.float32)
    for seed in range(3):
        cast = apply(only("cast"), blue, seed, gray=True).astype(np.float32)
        assert abs(cast.mean() - without.mean()) > 2


def test_defocus_blurs_as_albumentations_does_with_a_smaller_kernel():
    image = photo(128)
    for radius in (1, 2, 3, 5, 8, 9, 12):
        for alias_blur in (0.1, 0.3, 0.5):
            ours = Defocus(p=1.0).apply(image, radius=radius, alias_blur=alias_blur)
            library = A.Defocus(p=1.0).apply(image, radius=radius, alias_blur=alias_blur)
            # cv2 convolves the library's 17x17 kernel by DFT: last-bit rounding differences.
            assert np.abs(ours.astype(int) - library).max() <= 1, (radius, alias_blur)


@pytest.mark.parametrize("channels", [1, 3])
def test_spots_darken_a_few_soft_blotches(channels):
    flat = np.full((128, 160, channels), 200, np.uint8)
    for seed in range(3):
        spots = A.Compose([Spots((0.5, 0.5), (0.04, 0.04), p=1.0)], seed=seed)
        out = spots(image=flat)["image"]
        assert out.shape == flat.shape and out.dtype == np.uint8
        stained = np.any(out < 200, axis=-1)
        assert 0.02 < stained.mean() < 0.15  # the 4% core and its soft edges
        assert out.max() == 200 and out.min() < 200 - 0.4 * (200 - 96)  # toward the dark mud
        if channels == 3:  # brown: red stays above blue in a stain
            darkest = out.reshape(-1, 3)[out.reshape(-1, 3).sum(1).argmin()]
            assert darkest[0] > darkest[2] + 20


def test_the_config_has_a_knob_set_for_every_step_and_nothing_else():
    assert set(KNOBS) == set(OPERATIONS)


def test_jpeg_step_is_the_real_codec():
    image = photo()
    out = apply(only("jpeg", quality=[40, 40]), image)
    # What a JPEG file at quality 40 decodes to (albumentations hands cv2 the channels as they are).
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 40])
    decoded = cv2.imdecode(encoded, cv2.IMREAD_UNCHANGED)
    assert ok and np.array_equal(out, decoded)


@pytest.mark.parametrize("name", ["downscale", "blur"])
def test_resolution_loss_and_blur_remove_high_frequencies(name):
    image = photo()
    before = high_freq_energy(image)
    for seed in range(3):  # each kind of blur and several scales
        assert high_freq_energy(apply(only(name), image, seed)) < 0.5 * before


def test_fading_raises_the_black_level_and_lowers_contrast():
    image = photo()
    out = apply(only("fade", black=[0.2, 0.2], gamma=[100, 100], contrast=[-0.3, -0.3]), image)
    assert out.min() >= round(0.2 * 255) - 1 > image.min()
    assert out.astype(np.float32).std() < 0.8 * image.astype(np.float32).std()


def test_cast_turns_a_gray_photo_warm():
    gray = np.repeat(photo()[..., 1:2], 3, axis=2)
    for seed in range(4):  # sepia or yellowed
        mean = apply(only("cast"), gray, seed).reshape(-1, 3).astype(np.float32).mean(0)
        assert mean[0] > mean[2] + 5 and mean[1] > mean[2]


def test_vignette_darkens_corners_not_center():
    flat = np.full((65, 65, 3), 200, np.uint8)
    out = apply(only("vignette", strength=[0.4, 0.4]), flat)
    assert out[32, 32, 0] == 200 and out[0, 0, 0] == round(200 * 0.6)


def test_dust_and_scratches_touch_few_pixels():
    image = photo(128)
    for name, limit in (("dust", 0.02), ("scratches", 0.1)):
        changed = np.any(apply(only(name), image) != image, axis=-1).mean()
        assert 0 < changed < limit, (name, changed)


@pytest.mark.parametrize("name", ["grain", "gaussian_noise", "poisson_noise"])
def test_noise_keeps_the_mean_and_adds_variance(name):
    flat = np.full((128, 128, 3), 128, np.uint8)
    out = apply(only(name), flat).astype(np.float32)
    assert out.std() > 1.0
    assert abs(out.mean() - 128) < 0.05 * 128  # zero-mean noise; ShotNoise rounds in gamma space


def test_grain_is_one_gray_field():
    flat = np.full((64, 64, 3), 128, np.uint8)
    out = apply(only("grain"), flat)
    assert np.array_equal(out[..., 0], out[..., 1]) and np.array_equal(out[..., 1], out[..., 2])


def test_same_seed_same_result_other_seed_differs():
    image = photo()
    a = old_photo_pipeline(KNOBS, seed=7)
    b = old_photo_pipeline(KNOBS, seed=7)
    first = [a(image=image)["image"] for _ in range(4)]
    assert all(np.array_equal(x, b(image=image)["image"]) for x in first)
    c = old_photo_pipeline(KNOBS, seed=8)
    assert not all(np.array_equal(x, c(image=image)["image"]) for x in first)


def test_bad_settings_are_refused_with_their_name():
    with pytest.raises(ValueError, match="data.degrade='sepia'"):
        degradation("sepia", KNOBS)
    with pytest.raises(ValueError, match="unknown degradation"):
        old_photo_pipeline({**KNOBS, "mold": {"p": 1}})
    with pytest.raises(ValueError, match="jpeg.p=2"):
        old_photo_pipeline({**KNOBS, "jpeg": {"p": 2, "quality": [1, 2]}})
    with pytest.raises(ValueError, match="cast needs RGB"):
        old_photo_pipeline(KNOBS, channels=1)
    assert degradation(None, KNOBS) is None


class Fixed(torch.utils.data.Dataset):
    """Always the same samples, so that the wrapper's effect is all that changes."""

    def __init__(self, sample: Batch) -> None:
        self.sample = sample

    def __len__(self) -> int:
        return 3

    def __getitem__(self, index: int) -> Batch:
        return self.sample.map(torch.clone)


def test_wrapper_adds_a_degraded_input_and_leaves_the_target():
    rgb = torch.from_numpy(photo().transpose(2, 0, 1).copy())
    photos = Fixed(ColorBatch(rgb=rgb))
    sample = DegradedInputs(photos, old_photo_pipeline(only("jpeg")))[0]
    assert torch.equal(sample.rgb, rgb)
    assert sample.degraded.shape == rgb.shape and not torch.equal(sample.degraded, rgb)
    gray = DegradedInputs(photos, old_photo_pipeline(only("jpeg"), gray=True))[0]
    assert torch.equal(gray.rgb, rgb) and gray.degraded.shape == (1, *rgb.shape[1:])


def test_lab_samples_are_degraded_from_their_rgb():
    lab = torch.stack([torch.full((8, 8), 60.0), torch.full((8, 8), 20.0), torch.zeros(8, 8)])
    photos = Fixed(ColorBatch(lab=lab))
    sample = DegradedInputs(photos, old_photo_pipeline(only("cast", yellow=[40, 40])))[0]
    assert torch.equal(sample.lab, lab) and sample.degraded.dtype == torch.uint8
    assert sample.degraded[0].float().mean() > sample.degraded[2].float().mean()  # warmer
    scan = DegradedInputs(photos, old_photo_pipeline(NOTHING, gray=True))[0]
    rgb = lab_to_rgb_uint8(lab.permute(1, 2, 0).numpy())
    assert np.array_equal(scan.degraded[0].numpy(), luminance_uint8(rgb))


def test_gray_patches_gain_noisy_copies_for_dncnn():
    clean = torch.from_numpy(photo(40)[..., :1].transpose(2, 0, 1).astype(np.float32) / 255)
    knobs = {**only("grain"), "cast": {"p": 0}}
    sample = DegradedInputs(Fixed(DenoiseBatch(clean)), old_photo_pipeline(knobs, channels=1))[0]
    assert torch.equal(sample.clean, clean)
    assert sample.noisy.shape == clean.shape and (sample.noisy - clean).abs().max() > 0


def test_colorizers_take_degraded_luminance_and_clean_targets():
    rgb = torch.from_numpy(photo(32).transpose(2, 0, 1).copy())[None]
    scan = apply(only("fade"), photo(32), gray=True)
    degraded = torch.from_numpy(scan.transpose(2, 0, 1).copy())[None]
    batch = ColorBatch(rgb=rgb, degraded=degraded)
    for name in ("lab", "rgb"):
        space = get_color_space(name)
        x, y = space.split(batch)
        clean_x, clean_y = space.split(ColorBatch(rgb=rgb))
        assert torch.equal(y, clean_y) and not torch.equal(x, clean_x)
        # The input is what predict.py makes of this gray scan.
        expected = space.input_from_gray(degraded.float() / 255.0)
        assert (x - expected).abs().max() < 1e-5
    shown = batch.input_rgb()  # the scan as the equal-RGB gray (panels, inspect)
    assert shown.shape == rgb.shape and torch.equal(shown[:, 0], shown[:, 2])


def test_dncnn_learns_the_loader_s_degradation():
    module = DnCNNModule(net={"depth": 3, "features": 8})
    clean = torch.rand(2, 1, 16, 16)
    noisy = clean + 0.1 * torch.randn_like(clean)
    module.log = lambda *args, **kwargs: None
    loss = module.training_step(DenoiseBatch(clean, noisy), 0)
    expected = ((module.net.residual(noisy) - (noisy - clean)) ** 2).sum() / 4
    assert math.isclose(loss.item(), expected.item(), rel_tol=1e-5)


@pytest.mark.parametrize("data", ["samples", "celeba", "colorization", "art", "folder", "mix"])
def test_the_override_works_for_every_image_data_config(make_cfg, data):
    cfg = make_cfg(
        "train", [f"data={data}", "data.degrade=old_photo", "data.degradations.jpeg.p=1"]
    )
    assert cfg.data.degrade == "old_photo" and cfg.data.degradations.jpeg.p == 1


def test_datamodule_degrades_training_inputs_reproducibly(make_cfg):
    overrides = ["data.degrade=old_photo", "data.load_size=72", "data.crop_size=64"]
    samples = []
    for _ in range(2):
        module = instantiate(make_cfg("train", overrides).data)
        module.setup()
        train_set = module.datasets["train"]
        assert module.degrade_tf in list(_transforms(train_set))  # reseeded per worker
        samples.append([train_set[i] for i in range(3)])
        assert module.datasets["val"][0].degraded is None  # validation stays comparable
    for a, b in zip(*samples, strict=True):
        assert torch.equal(a.degraded, b.degraded) and torch.equal(a.rgb, b.rgb)


@pytest.mark.slow
def test_colorizer_trains_one_batch_on_degraded_inputs(make_cfg):
    cfg = make_cfg(
        "train",
        ["data.degrade=old_photo", *TINY_PIX2PIX, *QUICK, "+trainer.fast_dev_run=true"],
    )
    assert math.isfinite(train(cfg)["val/psnr"])


@pytest.mark.slow
def test_dncnn_trains_one_batch_on_degraded_patches(make_cfg, tmp_path):
    root = gray_folder(tmp_path / "clean", n=2)
    overrides = [
        "model=dncnn",
        "data=denoise",
        f"data.root={root}",
        f"data.val_dir={root}",
        "data.degrade=old_photo",
        *TINY_DNCNN,
        *QUICK,
        "+trainer.fast_dev_run=true",
    ]
    assert math.isfinite(train(make_cfg("train", overrides))["val/psnr"])


def test_the_degraded_data_benchmark_runs():
    from revive.bench import data
    from revive.bench.suite import BENCHMARKS

    assert "data_old_photo" in BENCHMARKS
    overrides = ["data.train_samples=8", "data.degrade=old_photo"]
    result = data.measure_loader("samples", overrides, batch_size=2, steps=2, warmup=1)
    assert result["samples_per_s"] > 0
    assert result["sample"] == "rgb [3, 256, 256] + degraded input"


@pytest.mark.slow
def test_the_degraded_data_benchmark_reports_its_baseline_and_target():
    from revive.bench import data

    [record] = data.data_benchmark("samples", steps=4, warmup=1, extra=["data.degrade=old_photo"])
    assert record["name"] == "data_old_photo" and record["baseline_samples_per_s"] > 0
    ratio = record["samples_per_s"] / record["baseline_samples_per_s"]
    assert record["speedup"] == pytest.approx(ratio, rel=1e-3)
    assert record["meets_target"] == (record["samples_per_s"] >= data.OLD_PHOTO_TARGET)
    assert ("NOT met" in record["settings"]) != record["meets_target"]


def test_inspect_draws_clean_and_degraded_rows(tmp_path, capsys):
    from PIL import Image

    from revive.config import compose
    from revive.data.inspect import inspect

    out = tmp_path / "sheet.png"
    args = ["data.degrade=old_photo", "data.load_size=40", "data.crop_size=32"]
    inspect(compose("inspect", [*args, "samples=4", "columns=4", f"out={out}"]))
    assert "gray and degraded gray below color" in capsys.readouterr().out
    sheet = np.asarray(Image.open(out)).astype(int)
    assert sheet.shape == (3 * 32 + 4 * 4, 4 * 32 + 5 * 4, 3)  # color, gray, degraded gray
    gray, degraded = sheet[40:72, 4:-4], sheet[76:108, 4:-4]
    assert np.abs(degraded[..., 0] - degraded[..., 2]).max() <= 1  # shown as the network's gray
    assert np.abs(gray - degraded).mean() > 1  # and unlike the clean gray
