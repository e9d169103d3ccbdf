"""eval.py and the KAIR test protocol: the published weights must give the paper's numbers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from revive.data.noise import kair_noisy
from revive.errors import UserError
from revive.evaluation.denoisers import evaluate_denoiser
from revive.evaluation.metrics import psnr_8bit, ssim_8bit
from revive.evaluation.protocol import evaluate
from revive.nets.dncnn import DnCNN
from revive.restore.forward import denoising_forward
from revive.weights.dncnn import load_denoiser
from tests.conftest import REPO, assert_fp32_close, require_shared


def test_noise_follows_kairs_global_seed_protocol() -> None:
    image = np.random.default_rng(1).random((6, 5, 3), dtype=np.float32)
    np.random.seed(0)
    expected = image.copy()
    expected += np.random.normal(0, 25 / 255.0, expected.shape)  # main_test_dncnn.py
    noisy = kair_noisy(image, 25)
    assert noisy.dtype == np.float32
    np.testing.assert_array_equal(noisy, expected)
    assert noisy.min() < 0 or noisy.max() > 1  # not clipped


def test_psnr_and_ssim_on_8_bit_images() -> None:
    a = np.full((32, 32, 1), 100, np.uint8)
    b = a.copy()
    b[0, 0, 0] = 110  # MSE = 100 / 1024
    assert psnr_8bit(b, a) == pytest.approx(10 * np.log10(255**2 * 1024 / 100))
    assert psnr_8bit(a, a) == float("inf")
    texture = np.random.default_rng(0).integers(0, 256, (40, 40, 3), dtype=np.uint8)
    assert ssim_8bit(texture, texture) == pytest.approx(1.0)
    assert ssim_8bit(255 - texture, texture) < 0.5


def write_images(folder: Path, n: int, size: tuple[int, int], mode: str = "L") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    shape = size if mode == "L" else (*size, 3)
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode).save(folder / f"{i}.png")
    return folder


def test_a_network_that_predicts_no_noise_scores_the_noisy_input(tmp_path: Path) -> None:
    folder = write_images(tmp_path / "imgs", 2, (24, 30), "RGB")
    net = DnCNN(channels=3, depth=3, features=4, bn=False).eval()
    torch.nn.init.zeros_(net.model[-1].weight)
    torch.nn.init.zeros_(net.model[-1].bias)
    table = evaluate_denoiser(net, folder, sigma=25, progress=False)
    assert list(table["image"]) == ["0.png", "1.png"]
    np.testing.assert_allclose(table["psnr"], table["input_psnr"])
    assert (table["psnr"] < 25).all()


def eval_overrides(weights: Path, test_dir: Path, *extra: str) -> list[str]:
    return ["model=dncnn", f"weights={weights}", f"data.test_dir={test_dir}", *extra]


def test_evaluate_from_config_writes_the_per_image_csv(make_cfg, tmp_path: Path) -> None:
    weights = tmp_path / "tiny.pth"
    torch.save(DnCNN(depth=3, features=8, bn=False).state_dict(), weights)
    folder = write_images(tmp_path / "gray", 3, (20, 20))
    csv = tmp_path / "out" / "per_image.csv"
    cfg = make_cfg("eval", eval_overrides(weights, folder, "sigma=15", f"csv={csv}", "device=cpu"))
    metrics = evaluate(cfg)
    assert set(metrics) == {"test/psnr", "test/ssim", "test/input_psnr"}
    table = pd.read_csv(csv)
    assert len(table) == 3
    assert table["psnr"].mean() == pytest.approx(metrics["test/psnr"], abs=1e-3)
    assert not [p for p in csv.parent.iterdir() if p.name.startswith(".")]  # no temp file left


def test_the_removed_ckpt_name_says_to_use_weights(make_cfg, tmp_path: Path) -> None:
    """One name for the weights: ``ckpt=`` (once an alias) stops with its replacement named."""
    weights = tmp_path / "tiny.pth"
    torch.save(DnCNN(depth=3, features=8, bn=False).state_dict(), weights)
    folder = write_images(tmp_path / "gray", 1, (16, 16))
    cfg = make_cfg("eval", ["model=dncnn", f"ckpt={weights}", f"data.test_dir={folder}"])
    with pytest.raises(UserError, match=f"ckpt= is now weights=: weights={weights}"):
        evaluate(cfg)


@pytest.mark.parametrize(
    ("overrides", "error", "message"),
    [
        (["data.test_dir=FOLDER"], UserError, "weights=PATH"),
        (["weights=WEIGHTS"], UserError, "data.test_dir="),
        (["weights=missing.pth", "data.test_dir=FOLDER"], UserError, "missing.pth"),
        (["weights=WEIGHTS", "data.test_dir=no_such_dir"], UserError, "no_such_dir"),
        (
            ["weights=WEIGHTS", "data.test_dir=FOLDER", "model._target_=torch.nn.Identity"],
            UserError,
            "evaluates",
        ),
    ],
)
def test_clear_errors(make_cfg, tmp_path: Path, overrides, error, message) -> None:
    weights = tmp_path / "tiny.pth"
    torch.save(DnCNN(depth=3, features=8, bn=False).state_dict(), weights)
    folder = write_images(tmp_path / "gray", 1, (16, 16))
    real = [o.replace("WEIGHTS", str(weights)).replace("FOLDER", str(folder)) for o in overrides]
    cfg = make_cfg("eval", ["model=dncnn", *real])
    with pytest.raises(error, match=message):
        evaluate(cfg)


@pytest.mark.slow
def test_eval_py_reproduces_the_paper_on_set12(tmp_path: Path) -> None:
    """The README command, exactly, plus where to put the logs and the per-image table."""
    require_shared("weights", "dncnn_25.pth")
    require_shared("Set12")
    csv = tmp_path / "set12.csv"
    command = [
        "eval.py",
        "model=dncnn",
        "weights=../shared/data/weights/dncnn_25.pth",
        "data.test_dir=../shared/data/Set12",
        "sigma=25",
    ]
    result = subprocess.run(
        [sys.executable, *command, f"csv={csv}", f"hydra.run.dir={tmp_path / 'run'}"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "test/psnr" in result.stdout and "test/ssim" in result.stdout
    table = pd.read_csv(csv)
    assert len(table) == 12
    assert table["psnr"].mean() == pytest.approx(30.44, abs=0.05)
    assert f"{table['psnr'].mean():.4f}" in result.stdout
    assert table["input_psnr"].mean() == pytest.approx(20.2, abs=0.3)


@pytest.mark.slow
def test_dncnn_s_reproduces_the_paper_on_bsd68() -> None:
    net = load_denoiser(require_shared("weights", "dncnn_25.pth"))
    table = evaluate_denoiser(net, require_shared("BSD68"), sigma=25, progress=False)
    assert len(table) == 68
    assert table["psnr"].mean() == pytest.approx(29.23, abs=0.05)


@pytest.mark.slow
def test_cdncnn_b_reproduces_the_paper_on_cbsd68() -> None:
    net = load_denoiser(require_shared("weights", "dncnn_color_blind.pth"))
    assert net.channels == 3
    table = evaluate_denoiser(net, require_shared("CBSD68"), sigma=25, progress=False)
    assert len(table) == 68
    assert table["psnr"].mean() == pytest.approx(31.23, abs=0.05)


def test_the_cpu_fast_path_gives_the_same_outputs() -> None:
    net = DnCNN(channels=3, depth=5, features=16).eval().fuse_bn()
    y = torch.rand(1, 3, 33, 47)
    with torch.inference_mode():
        fast = denoising_forward(net, torch.device("cpu"))(y)
        assert_fp32_close(fast, net(y))
