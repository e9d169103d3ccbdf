"""Denoising forward passes for photos and test sets: fp32 exact, bf16 close and fast."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from revive import hardware
from revive.evaluation.denoisers import evaluate_denoiser
from revive.nets.dncnn import DnCNN
from revive.restore import Restorer, SetupError
from revive.restore.forward import denoising_forward, inference_dtype
from revive.weights.dncnn import load_denoiser
from tests.conftest import require_shared

CPU = torch.device("cpu")


def small_denoiser() -> DnCNN:
    torch.manual_seed(0)
    return DnCNN(depth=6, features=16).eval().fuse_bn()


def test_bf16_forward_is_close_to_fp32_and_leaves_the_network_alone():
    net = small_denoiser()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    noisy = torch.rand(1, 1, 40, 56)
    with torch.inference_mode():
        exact = net(noisy)
        low = denoising_forward(net, CPU, torch.bfloat16)(noisy)
    assert low.dtype == torch.float32 and low.shape == exact.shape
    assert (low - exact).abs().max().item() < 0.02  # bf16 noise estimate, fp32 subtraction
    assert (low - exact).abs().max().item() > 0  # it really ran in bf16
    for key, value in net.state_dict().items():
        assert value.dtype == torch.float32 and torch.equal(value, before[key]), key


@pytest.mark.parametrize(
    ("precision", "native", "expected"),
    [
        ("auto", True, torch.bfloat16),
        ("auto", False, torch.float32),
        ("32", True, torch.float32),
        ("bf16", False, torch.bfloat16),
    ],
)
def test_precision_auto_follows_the_hardware(monkeypatch, precision, native, expected):
    monkeypatch.setattr(hardware, "cpu_has_native_bf16", lambda: native)
    assert inference_dtype(precision, CPU) == expected


def test_unknown_precision_is_a_setup_error_that_lists_the_choices():
    with pytest.raises(SetupError, match="auto, 32, bf16"):
        Restorer(torch.nn.Identity(), None, small_denoiser(), precision="fp8")  # type: ignore[arg-type]


def test_reviver_denoises_in_the_resolved_precision(monkeypatch):
    monkeypatch.setattr(hardware, "cpu_has_native_bf16", lambda: True)
    gray = torch.rand(30, 44)
    results = {}
    for precision in ("auto", 32):  # Hydra hands `precision=32` over as an int
        restorer = Restorer(torch.nn.Identity(), None, small_denoiser(), precision=precision)  # type: ignore[arg-type]
        results[restorer.denoise_dtype] = restorer.denoise(gray)
    assert set(results) == {torch.bfloat16, torch.float32}
    difference = (results[torch.bfloat16] - results[torch.float32]).abs().max().item()
    assert 0 < difference < 0.02


def center_crops(folder, dest, side: int):
    """The central ``side``² of every image in ``folder``, as PNGs in ``dest``."""
    dest.mkdir()
    for path in sorted(folder.glob("*.png")):
        image = Image.open(path)
        left, top = (image.width - side) // 2, (image.height - side) // 2
        image.crop((left, top, left + side, top + side)).save(dest / path.name)
    return dest


@pytest.mark.slow
def test_bf16_loses_less_than_a_twentieth_of_a_db_on_set12(monkeypatch, tmp_path):
    """What predict.yaml's comment promises for the official DnCNN-S (sigma=25).

    Where bf16 is emulated (no AVX-512 BF16/AMX) the whole of Set12 takes minutes in bf16, so
    there the same comparison runs on the central 128² of each of the 12 images; both precisions
    always see the same pixels and the same noise.
    """
    net = load_denoiser(require_shared("weights", "dncnn_25.pth"))
    folder = require_shared("Set12")
    full = hardware.cpu_has_native_bf16()
    if not full:
        folder = center_crops(folder, tmp_path / "crops", 128)
    scores = {}
    for dtype in (torch.float32, torch.bfloat16):
        monkeypatch.setattr(
            "revive.evaluation.denoisers.denoising_forward",
            lambda net, device, dtype=dtype: denoising_forward(net, device, dtype),
        )
        scores[dtype] = evaluate_denoiser(net, folder, 25, progress=False)["psnr"].mean()
    if full:
        assert scores[torch.float32] == pytest.approx(30.44, abs=0.02)
    else:  # smaller images, another average: still a real denoising, far above the noisy input
        assert scores[torch.float32] > 28.0
    assert abs(scores[torch.float32] - scores[torch.bfloat16]) < 0.05
    assert np.isfinite(scores[torch.bfloat16])
