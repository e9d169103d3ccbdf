"""Optional LPIPS/FID: skipped offline with a reason, computed from stand-in weights on disk."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from scipy.linalg import sqrtm as scipy_sqrtm

from revive.data.fakes import fake_photos
from revive.evaluation.inception import FidInception, frechet_distance
from revive.evaluation.perceptual import ALEXNET_CONVS, load_lpips, lpips_metric
from revive.evaluation.protocol import evaluate
from revive.io import save_image
from revive.nets import UnetGenerator

# lpips' AlexNet slices: which torchvision feature indices each of its five slices holds.
SLICE_OF = {0: 1, 3: 2, 6: 3, 8: 4, 10: 5}


def stand_in_weights(seed: int = 0) -> dict[str, torch.Tensor]:
    """Random tensors in the layout of the lpips package's whole module (AlexNet, v0.1)."""
    gen = torch.Generator().manual_seed(seed)
    state = {}
    for i, (c_in, c_out, k, _, _) in ALEXNET_CONVS.items():
        state[f"net.slice{SLICE_OF[i]}.{i}.weight"] = torch.randn(c_out, c_in, k, k, generator=gen)
        state[f"net.slice{SLICE_OF[i]}.{i}.bias"] = torch.randn(c_out, generator=gen) * 0.1
    for n, (_, c_out, *_) in enumerate(ALEXNET_CONVS.values()):
        state[f"lin{n}.model.1.weight"] = torch.rand(1, c_out, 1, 1, generator=gen)
    return state


def reference_lpips(state: dict[str, torch.Tensor], a: np.ndarray, b: np.ndarray) -> float:
    """LPIPS written out op by op as the lpips package computes it (scaling layer, AlexNet
    slices, normalize_tensor, 1x1 heads, spatial_average, sum)."""
    shift = torch.tensor([-0.030, -0.088, -0.188]).view(1, 3, 1, 1)
    scale = torch.tensor([0.458, 0.448, 0.450]).view(1, 3, 1, 1)

    def features(image: np.ndarray) -> list[torch.Tensor]:
        x = torch.from_numpy(image.astype(np.float32)).permute(2, 0, 1)[None] / 127.5 - 1
        x = (x - shift) / scale
        taps = []
        for i, (_, _, _, stride, pad) in ALEXNET_CONVS.items():
            if i in (3, 6):
                x = F.max_pool2d(x, kernel_size=3, stride=2)
            w, bias = (state[f"net.slice{SLICE_OF[i]}.{i}.{p}"] for p in ("weight", "bias"))
            x = F.relu(F.conv2d(x, w, bias, stride=stride, padding=pad))
            taps.append(x)
        return taps

    total = 0.0
    for n, (fa, fb) in enumerate(zip(features(a), features(b), strict=True)):
        na = fa / (torch.sqrt(torch.sum(fa**2, dim=1, keepdim=True)) + 1e-10)
        nb = fb / (torch.sqrt(torch.sum(fb**2, dim=1, keepdim=True)) + 1e-10)
        head = F.conv2d((na - nb) ** 2, state[f"lin{n}.model.1.weight"])
        total += float(head.mean([2, 3]))
    return total


def test_lpips_matches_the_reference_in_both_layouts(tmp_path: Path) -> None:
    state = stand_in_weights()
    torch.save(state, tmp_path / "lpips_alex.pth")
    merged = {
        (f"features.{k.split('.')[2]}.{k.split('.')[3]}" if k.startswith("net.") else k): v
        for k, v in state.items()
    }
    save_file(merged, str(tmp_path / "alexnet_and_heads.safetensors"))
    a, b = fake_photos(2, 96, 80, seed=5)
    expected = reference_lpips(state, a, b)
    for name in ("lpips_alex.pth", "alexnet_and_heads.safetensors"):
        metric = lpips_metric(load_lpips(tmp_path / name))
        # float32 convolutions through the same ops in another order
        assert metric(a, b) == pytest.approx(expected, rel=1e-4)
        assert metric(a, a) == 0.0
    with pytest.raises(KeyError, match="lins.0.weight"):
        torch.save({k: v for k, v in state.items() if "lin0" not in k}, tmp_path / "bad.pth")
        load_lpips(tmp_path / "bad.pth")


def eval_overrides(tmp_path: Path) -> list[str]:
    folder = tmp_path / "photos"
    for i, photo in enumerate(fake_photos(2, 64, 72, seed=6)):
        save_image(photo, folder / f"p{i}.png")
    torch.manual_seed(0)
    torch.save(UnetGenerator(1, 2, num_downs=5, ngf=8).state_dict(), tmp_path / "g_net_G.pth")
    return [
        "model=pix2pix",
        f"weights={tmp_path / 'g_net_G.pth'}",
        f"data.test_dir={folder}",
        "render_size=64",
        f"json={tmp_path / 'm.json'}",
    ]


@pytest.mark.slow
def test_offline_lpips_and_fid_are_skipped_with_a_reason(make_cfg, tmp_path, capsys) -> None:
    overrides = eval_overrides(tmp_path)
    metrics = evaluate(make_cfg("eval", overrides))
    printed = capsys.readouterr().out
    assert "lpips: skipped (metrics.lpips_weights is not set" in printed
    assert "fid: skipped (metrics.fid_weights is not set" in printed
    assert not any("lpips" in k or "fid" in k for k in metrics)
    missing = tmp_path / "nowhere.pth"
    evaluate(make_cfg("eval", [*overrides, f"metrics.lpips_weights={missing}"]))
    assert (
        f"lpips: skipped (metrics.lpips_weights={missing} does not exist)"
        in capsys.readouterr().out
    )


@pytest.mark.slow
def test_lpips_is_scored_for_the_model_and_the_gray_baseline(make_cfg, tmp_path) -> None:
    torch.save(stand_in_weights(), tmp_path / "lpips_alex.pth")
    overrides = [*eval_overrides(tmp_path), f"metrics.lpips_weights={tmp_path / 'lpips_alex.pth'}"]
    metrics = evaluate(make_cfg("eval", overrides))
    saved = json.loads((tmp_path / "m.json").read_text())
    for key in ("test/lpips", "gray/lpips"):
        assert math.isfinite(metrics[key]) and metrics[key] > 0 and saved[key] == metrics[key]
    assert metrics["test/lpips"] != metrics["gray/lpips"]


def test_frechet_distance_has_the_closed_form() -> None:
    """b = 2a + 3: mean 2 mu + 3, covariance 4 S, so FID = |mu + 3|^2 + tr(S) + 4 tr(S) -
    2 tr((4 S^2)^(1/2)) = |mu + 3|^2 + tr(S)."""
    rng = np.random.default_rng(0)
    for samples in (50, 4):  # more samples than dimensions (sqrtm), and fewer (the SVD route)
        a = rng.normal(size=(samples, 6)) @ np.diag([1.0, 2, 3, 0.5, 1, 4])
        b = 2 * a + 3
        expected = ((a.mean(0) + 3) ** 2).sum() + np.trace(np.cov(a, rowvar=False))
        assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-9)
        assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-9)
        c = rng.normal(size=(samples + 1, 6))  # both routes agree on unrelated sets too
        cov = [np.cov(x, rowvar=False) for x in (a, c)]
        root = np.trace(np.real(scipy_sqrtm(cov[0] @ cov[1])))
        direct = ((a.mean(0) - c.mean(0)) ** 2).sum() + np.trace(cov[0] + cov[1]) - 2 * root
        assert frechet_distance(a, c) == pytest.approx(direct, rel=1e-6)


def stand_in_inception(path: Path) -> Path:
    """Random weights in pytorch-fid's layout (with its unused 1008-class head); He-normal
    convolutions keep the activations alive through the 94 layers."""
    torch.manual_seed(0)
    net = FidInception()
    for module in net.modules():
        if isinstance(module, torch.nn.Conv2d):
            torch.nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
    state = net.state_dict()
    state["fc.weight"], state["fc.bias"] = torch.zeros(1008, 2048), torch.zeros(1008)
    torch.save(state, path)
    return path


@pytest.mark.slow
def test_fid_is_scored_from_weights_on_disk(make_cfg, tmp_path, capsys) -> None:
    fid_file = stand_in_inception(tmp_path / "pt_inception.pth")
    overrides = [*eval_overrides(tmp_path), f"metrics.fid_weights={fid_file}"]
    metrics = evaluate(make_cfg("eval", overrides))
    assert "fid: skipped" not in capsys.readouterr().out
    saved = json.loads((tmp_path / "m.json").read_text())
    for key in ("test/fid", "gray/fid"):
        assert math.isfinite(metrics[key]) and metrics[key] > 0 and saved[key] == metrics[key]
    assert metrics["test/fid"] != metrics["gray/fid"]
    torch.save(stand_in_weights(), tmp_path / "lpips.pth")  # the wrong network
    evaluate(make_cfg("eval", [*overrides[:-1], f"metrics.fid_weights={tmp_path / 'lpips.pth'}"]))
    assert "fid: skipped (metrics.fid_weights=" in capsys.readouterr().out
