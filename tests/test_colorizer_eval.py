"""eval.py for colorizers: metrics, the gray baseline, the predict pipeline on any photo."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import kornia.color as kc
import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image
from skimage.color import deltaE_ciede2000, rgb2lab
from skimage.metrics import peak_signal_noise_ratio, structural_similarity
from torch import nn

from revive.color import LabSpace
from revive.data.fakes import fake_photos, make_family
from revive.evaluation.colorizers import evaluate_colorizer
from revive.evaluation.metrics import (
    colorfulness_8bit,
    deltae2000,
    mean_deltae2000_8bit,
    psnr_8bit,
    ssim_8bit,
)
from revive.evaluation.protocol import evaluate
from revive.evaluation.truth import tone_measures, truth_of
from revive.io import image_luminance, save_image
from revive.nets import UnetGenerator
from revive.restore.restorer import Restorer
from revive.weights.export import export_colorizer
from tests.conftest import REPO

METRICS = ("psnr", "ssim", "deltae2000", "colorfulness", "delta_cf")


def photo_folder(root: Path, n: int = 3, size: tuple[int, int] = (40, 64), seed: int = 2) -> Path:
    for i, photo in enumerate(fake_photos(n, *size, seed=seed)):
        save_image(photo, root / f"p{i}.png")
    return root


# -- metrics against independent computations ----------------------------------------------------
def test_metrics_agree_with_skimage() -> None:
    a, b = fake_photos(2, 37, 53, seed=3)
    noisy = np.clip(a + np.random.default_rng(0).normal(0, 20, a.shape), 0, 255).astype(np.uint8)
    for x, y in ((a, b), (a, noisy)):
        assert psnr_8bit(x, y) == pytest.approx(peak_signal_noise_ratio(y, x, data_range=255))
        expected_ssim = structural_similarity(
            x,
            y,
            gaussian_weights=True,
            sigma=1.5,
            use_sample_covariance=False,
            channel_axis=2,
            data_range=255,
        )
        # both in float64 on the same windows: only summation order differs
        assert ssim_8bit(x, y) == pytest.approx(expected_ssim, abs=1e-9)
        expected_de = deltaE_ciede2000(rgb2lab(x), rgb2lab(y)).mean()
        # kornia's and skimage's sRGB->LAB share their constants; float64 throughout
        assert mean_deltae2000_8bit(x, y, band_pixels=100) == pytest.approx(expected_de, rel=1e-6)


def test_ciede2000_matches_sharmas_published_pairs() -> None:
    """Pairs 1, 7 and 17 of Sharma, Wu & Dalal's test data (4 decimals published)."""
    pairs = [
        ((50.0, 2.6772, -79.7751), (50.0, 0.0, -82.7485), 2.0425),
        ((50.0, 0.0, 0.0), (50.0, -1.0, 2.0), 2.3669),
        ((50.0, 2.5, 0.0), (73.0, 25.0, -18.0), 27.1492),
    ]
    for lab1, lab2, expected in pairs:
        value = deltae2000(torch.tensor(lab1).double(), torch.tensor(lab2).double())
        assert float(value) == pytest.approx(expected, abs=5e-5)


def test_colorfulness_is_hasler_susstrunk() -> None:
    rgb = fake_photos(1, 20, 30, seed=4)[0].astype(np.float64)
    rg = rgb[..., 0] - rgb[..., 1]
    yb = 0.5 * (rgb[..., 0] + rgb[..., 1]) - rgb[..., 2]
    expected = np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean())
    # training's formula runs in float32 (relative precision 6e-8, over ~600 summed pixels)
    assert colorfulness_8bit(rgb.astype(np.uint8)) == pytest.approx(expected, rel=1e-6)
    assert colorfulness_8bit(np.full((4, 4, 3), 77, np.uint8)) == 0.0


# -- the gray baseline ---------------------------------------------------------------------------
class ConstantChroma(nn.Module):
    """A 'colorizer' that returns a fixed canvas of ab/110, whatever it is shown."""

    size_multiple = 1

    def __init__(self, ab: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("ab", ab)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.ab.expand(x.shape[0], -1, -1, -1)


def test_zero_chroma_scores_exactly_the_gray_baseline(tmp_path: Path) -> None:
    folder = photo_folder(tmp_path / "photos")
    restorer = Restorer(ConstantChroma(torch.zeros(1, 2, 64, 64)), LabSpace(), render_size=64)
    table, _ = evaluate_colorizer(restorer, folder, progress=False)
    assert table["truth"].all()
    for metric in METRICS:
        np.testing.assert_array_equal(table[metric], table[f"gray_{metric}"], err_msg=metric)
    assert (table["gray_colorfulness"] == 0).all()


def test_an_oracle_of_the_true_chroma_is_bounded_only_by_8_bit_rounding(tmp_path: Path) -> None:
    """The true a*b* on a canvas of the photo's own size pass the merge unresampled: what is
    left is the rounding of the output to 8 bits, at most 1 level per channel, so the PSNR is at
    least 20 log10(255 / 1) = 48.13 dB (the gray baseline of these photos: about 14 dB)."""
    for i, truth in enumerate(fake_photos(3, 40, 64, seed=7)):
        folder = tmp_path / f"photo{i}"
        save_image(truth, folder / "p.png")
        lab = kc.rgb_to_lab(torch.from_numpy(truth).permute(2, 0, 1).float() / 255.0)
        canvas = torch.zeros(1, 2, 64, 64)
        canvas[0, :, 12:52] = lab[1:] / 110.0  # the 64x40 photo is centered: 12 rows above
        restorer = Restorer(ConstantChroma(canvas), LabSpace(), render_size=64)
        assert restorer.canvas(40, 64).top == 12
        out = restorer.restore(torch.from_numpy(np.asarray(truth_luminance(folder / "p.png"))))
        assert np.abs(out.astype(int) - truth.astype(int)).max() <= 1
        row = evaluate_colorizer(restorer, folder, progress=False)[0].iloc[0]
        assert row["psnr"] >= 20 * math.log10(255.0)
        assert row["gray_psnr"] < 25 and row["psnr"] - row["gray_psnr"] > 20
        assert row["deltae2000"] < 0.5 < 5 < row["gray_deltae2000"]
        assert abs(row["delta_cf"]) < 0.5 and row["gray_delta_cf"] < -20


def truth_luminance(path: Path) -> np.ndarray:
    from revive.io import read_luminance

    return read_luminance(path)


# -- any photo, at its own size ------------------------------------------------------------------
def test_non_square_16_bit_and_rgba_photos_are_scored_at_their_own_size(tmp_path: Path) -> None:
    family = make_family(tmp_path / "family")  # I;16 80x64, RGBA 50x70, EXIF 30x40, sepia 72x72
    save_image(fake_photos(1, 9, 97, seed=9)[0], family / "wide.png")
    net = UnetGenerator(1, 2, num_downs=5, ngf=4).eval()
    restorer = Restorer(net, LabSpace(), render_size=32)
    table, sheet = evaluate_colorizer(restorer, family, sheet_count=2, progress=False)
    sizes = {row.image: (row.width, row.height) for row in table.itertuples()}
    assert sizes == {
        "1950s/wedding.png": (80, 64),
        "1950s/beach/portrait.png": (50, 70),
        "phone/rotated.jpg": (30, 40),
        "sepia.tif": (72, 72),
        "wide.png": (97, 9),
    }
    scored = table.set_index("image")
    assert scored.loc["1950s/beach/portrait.png", "truth"]  # RGBA: composited onto white
    assert scored.loc["wide.png", "truth"] and math.isfinite(scored.loc["wide.png", "psnr"])
    assert math.isnan(scored.loc["wide.png", "ssim"])  # 9 rows: no 11-px window fits
    for gray in ("1950s/wedding.png", "sepia.tif"):
        assert not scored.loc[gray, "truth"] and math.isnan(scored.loc[gray, "psnr"])
        assert scored.loc[gray, "colorfulness"] >= 0
    assert "mode I;16" in scored.loc["1950s/wedding.png", "note"]
    assert "toned" in scored.loc["sepia.tif", "note"]
    assert [len(r.revived) for r in sheet] == [70, 64]  # portrait.png, wedding.png


# -- with a super-resolution stage ---------------------------------------------------------------
def nearest_upscaler(path: Path, scale: int = 2) -> Path:
    """Real-ESRGAN's Compact with its last convolution zeroed: exactly a nearest-neighbour
    enlargement, since the network adds the nearest-upsampled input to what it computes."""
    from spandrel.architectures.Compact import Compact

    net = Compact(num_in_ch=3, num_out_ch=3, num_feat=8, num_conv=2, upscale=scale)
    last = [m for m in net.body if isinstance(m, nn.Conv2d)][-1]
    nn.init.zeros_(last.weight)
    nn.init.zeros_(last.bias)
    torch.save(net.state_dict(), path)
    return path


def shaved_psnr(a: np.ndarray, b: np.ndarray, shave: int) -> float:
    to8 = [np.round(x[shave:-shave, shave:-shave] * 255).astype(np.uint8) for x in (a, b)]
    return peak_signal_noise_ratio(to8[1], to8[0], data_range=255)


def test_an_upscaler_is_scored_on_photos_shrunk_by_its_scale(tmp_path: Path) -> None:
    """Each photo (cut to even sides) is shrunk x2, revived back, and scored against itself;
    the upscaled luminance is scored against the photo's, beside a bicubic enlargement."""
    from revive.restore.upscale import Upscaler
    from revive.weights.upscaler import load_upscaler

    folder = photo_folder(tmp_path / "photos", n=2, size=(41, 65))
    upscaler = Upscaler(load_upscaler(nearest_upscaler(tmp_path / "nearest_x2.pth")))
    zero = ConstantChroma(torch.zeros(1, 2, 64, 64))
    restorer = Restorer(zero, LabSpace(), render_size=64, upscaler=upscaler)
    table, sheet = evaluate_colorizer(restorer, folder, sheet_count=1, progress=False)
    assert list(zip(table["width"], table["height"], strict=True)) == [(64, 40), (64, 40)]
    assert sheet[0].revived.shape == sheet[0].truth.shape == (40, 64, 3)
    for row in table.itertuples():
        with Image.open(folder / row.image) as img:
            truth = image_luminance(img.crop((0, 0, 64, 40)))
        small = np.asarray(
            Image.fromarray(truth, mode="F").resize((32, 20), Image.Resampling.BICUBIC)
        )
        small = np.round(np.clip(small, 0, 1) * 255) / 255  # the 8-bit input a file would hold
        nearest = small.repeat(2, axis=0).repeat(2, axis=1)
        assert row.sr_y_psnr == pytest.approx(shaved_psnr(nearest, truth, 2), abs=1e-9)
        bicubic = np.asarray(
            Image.fromarray(small.astype(np.float32), mode="F").resize(
                (64, 40), Image.Resampling.BICUBIC
            )
        )
        assert row.bicubic_y_psnr == pytest.approx(shaved_psnr(bicubic, truth, 2), abs=1e-9)
        assert row.bicubic_y_psnr > row.sr_y_psnr  # smooth photos: bicubic beats nearest
        assert row.psnr == row.gray_psnr  # zero chroma: the gray baseline of the same luminance


@pytest.mark.slow
def test_eval_py_takes_an_upscaler(make_cfg, tmp_path: Path, capsys) -> None:
    folder = photo_folder(tmp_path / "photos", n=2, size=(40, 64))
    cfg = make_cfg(
        "eval",
        [
            "model=pix2pix",
            f"weights={official_weights(tmp_path / 'tiny_net_G.pth')}",
            f"upscaler={nearest_upscaler(tmp_path / 'nearest_x2.pth')}",
            f"data.test_dir={folder}",
            f"json={tmp_path / 'm.json'}",
            "render_size=64",
        ],
    )
    metrics = evaluate(cfg)
    printed = capsys.readouterr().out
    assert "upscaled luminance against the photo's" in printed and "bicubic" in printed
    saved = json.loads((tmp_path / "m.json").read_text())
    assert {"sr/y_psnr", "sr/y_ssim", "bicubic/y_psnr", "bicubic/y_ssim"} <= set(saved)
    assert saved == pytest.approx(metrics) and metrics["sr/y_psnr"] < metrics["bicubic/y_psnr"]
    dncnn = make_cfg("eval", ["model=dncnn", f"upscaler={tmp_path / 'nearest_x2.pth'}"])
    with pytest.raises(ValueError, match="upscaler= is for colorizers"):
        evaluate(dncnn)


def test_what_counts_as_truth() -> None:
    photo = fake_photos(1, 32, 32, seed=1)[0]
    assert truth_of(Image.fromarray(photo))[0] is not None
    gray = np.repeat(photo[..., 1:2], 3, axis=2)
    assert "gray picture" in truth_of(Image.fromarray(gray))[1]
    sepia = np.clip(gray * np.array([1.0, 0.85, 0.62]), 0, 255).astype(np.uint8)
    (toned_hue, toned_spread), (photo_hue, photo_spread) = map(tone_measures, (sepia, photo))
    assert toned_hue > 0.999 > 0.9 > photo_hue
    assert toned_spread < 1 < 5 < photo_spread
    assert "toned" in truth_of(Image.fromarray(sepia))[1]
    # one dominant hue is not enough: green fields whose chroma varies at equal lightness
    rng = np.random.default_rng(0)
    field = np.stack([rng.uniform(20, 90, (32, 32)), rng.uniform(120, 230, (32, 32))], -1)
    green = np.dstack([field[..., 0], field[..., 1], field[..., 0] * 0.5]).astype(np.uint8)
    hue, spread = tone_measures(green)
    assert hue > 0.99 and spread > 3
    assert truth_of(Image.fromarray(green))[0] is not None


# -- eval.py -------------------------------------------------------------------------------------
def official_weights(path: Path) -> Path:
    torch.manual_seed(0)
    torch.save(UnetGenerator(1, 2, num_downs=5, ngf=8).state_dict(), path)
    return path


@pytest.mark.slow
def test_eval_config_scores_every_weights_format(make_cfg, tmp_path: Path) -> None:
    folder = photo_folder(tmp_path / "photos")
    official = official_weights(tmp_path / "tiny_net_G.pth")
    exported = export_colorizer(official, tmp_path / "tiny.safetensors")
    net = UnetGenerator(1, 2, num_downs=5, ngf=8)
    net.load_state_dict(torch.load(official, weights_only=True))
    ours = tmp_path / "last.ckpt"  # the layout train.py's checkpoints have
    torch.save(
        {
            "state_dict": {f"generator.{k}": v for k, v in net.state_dict().items()},
            "hyper_parameters": {"color_space": "lab", "generator": {"num_downs": 5, "ngf": 8}},
        },
        ours,
    )
    results = []
    for weights in (official, exported, ours):
        out = tmp_path / weights.stem
        cfg = make_cfg(
            "eval",
            [
                "model=pix2pix",
                f"weights={weights}",
                f"data.test_dir={folder}",
                "device=cpu",
                "render_size=64",
                f"csv={out}.csv",
                f"json={out}.json",
                f"sheet={out}.png",
                "sheet_count=2",
            ],
        )
        metrics = evaluate(cfg)
        saved = json.loads(Path(f"{out}.json").read_text())
        assert saved == pytest.approx(metrics)
        for prefix in ("test", "gray"):
            assert {f"{prefix}/{m}" for m in METRICS} <= set(saved)
        assert len(pd.read_csv(f"{out}.csv")) == 3
        with Image.open(f"{out}.png") as sheet:  # 2 rows of 3 cells of 64x40
            assert sheet.size == (3 * 64 + 4 * 4, 2 * 40 + 3 * 4)
        results.append(metrics)
    # the same tensors in three containers: the same arithmetic, the same scores
    assert results[0] == results[1] == results[2]


def test_a_folder_without_truth_gets_a_no_reference_report(make_cfg, tmp_path: Path, capsys):
    folder = tmp_path / "scans"
    for i, photo in enumerate(fake_photos(2, 30, 40, seed=3)):
        save_image(photo[..., 0], folder / f"scan{i}.png")
    cfg = make_cfg(
        "eval",
        [
            "model=pix2pix",
            f"weights={official_weights(tmp_path / 'g_net_G.pth')}",
            f"data.test_dir={folder}",
            f"json={tmp_path / 'm.json'}",
            "render_size=32",
        ],
    )
    metrics = evaluate(cfg)
    printed = capsys.readouterr().out
    assert "no truth for 2 of 2 photos" in printed and "gray file (mode L)" in printed
    assert "colorfulness of the outputs" in printed
    assert metrics["test/colorfulness"] > 0 and math.isnan(metrics["test/psnr"])
    assert json.loads((tmp_path / "m.json").read_text())["test/psnr"] is None


def test_bad_input_fails_with_one_line(make_cfg, tmp_path: Path) -> None:
    weights = official_weights(tmp_path / "g_net_G.pth")
    cases = [
        ([f"weights={weights}", f"data.test_dir={tmp_path / 'missing'}"], "is not a folder"),
        ([f"weights={tmp_path / 'none.pth'}", f"data.test_dir={tmp_path}"], "not found"),
        ([f"weights={weights}", f"data.test_dir={tmp_path}"], "no images"),
    ]
    for overrides, message in cases:
        with pytest.raises((FileNotFoundError, ValueError), match=message):
            evaluate(make_cfg("eval", ["model=pix2pix", *overrides]))


@pytest.mark.slow
def test_the_documented_command(tmp_path: Path) -> None:
    folder = photo_folder(tmp_path / "photos", n=2)
    weights = official_weights(tmp_path / "tiny_net_G.pth")
    proc = subprocess.run(
        [
            sys.executable,
            str(REPO / "eval.py"),
            "model=pix2pix",
            f"weights={weights}",
            f"data.test_dir={folder}",
            f"hydra.run.dir={tmp_path / 'run'}",
        ],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "gray baseline" in proc.stdout and "deltae2000" in proc.stdout
    assert "colorizing photos" in proc.stderr  # the progress bar


@pytest.mark.slow
def test_the_command_fails_with_one_line(tmp_path: Path) -> None:
    weights = official_weights(tmp_path / "tiny_net_G.pth")
    missing = tmp_path / "no_photos"
    proc = subprocess.run(
        [
            sys.executable,
            str(REPO / "eval.py"),
            "model=pix2pix",
            f"weights={weights}",
            f"data.test_dir={missing}",
            f"hydra.run.dir={tmp_path / 'run'}",
        ],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=tmp_path,
    )
    assert proc.returncode == 2
    assert f"data.test_dir={missing} is not a folder" in proc.stderr + proc.stdout
    assert "Traceback" not in proc.stderr
