"""Loading DnCNN weights: every published layout, told from its keys, and never running pickles."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from revive.errors import UserError
from revive.evaluation.denoisers import evaluate_denoiser
from revive.nets.dncnn import DnCNN
from revive.safe.pickled import module_state, read_pickled
from revive.weights.dncnn import load_denoiser, read_denoiser_state
from tests.conftest import assert_fp32_close, require_shared

# file -> (depth, channels, BN eps of the unfused network)
OFFICIAL = {
    "dncnn_25.pth": (17, 1, None),
    "dncnn_color_blind.pth": (20, 3, None),
    "dncnn_s25_saoyan_net.pth": (17, 1, 1e-5),
    "dncnn_sigma25_cszn_model.pth": (17, 1, 1e-4),
}


@pytest.mark.parametrize("name", list(OFFICIAL))
def test_official_weights_load_fused_with_the_same_outputs(name: str) -> None:
    path = require_shared("weights", name)
    depth, channels, eps = OFFICIAL[name]
    fused = load_denoiser(path)
    raw = load_denoiser(path, fuse=False)
    assert (fused.depth, fused.channels, fused.features) == (depth, channels, 64)
    assert not fused.training and not fused.bn
    assert not any(isinstance(m, nn.BatchNorm2d) for m in fused.modules())
    bn_eps = {m.eps for m in raw.modules() if isinstance(m, nn.BatchNorm2d)}
    assert bn_eps == ({eps} if eps else set())
    y = torch.rand(1, channels, 48, 40, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        assert_fp32_close(fused(y), raw(y))


def test_cszn_pickled_module_is_read_as_inert_records() -> None:
    path = require_shared("weights", "dncnn_sigma25_cszn_model.pth")
    with pytest.raises(Exception):  # noqa: B017 - the safe loader refuses it, as the README says
        torch.load(path, map_location="cpu", weights_only=True)
    obj = read_pickled(path)
    assert obj.origin == "__main__.DnCNN"
    assert read_denoiser_state(path).layout == "cszn pickled module"


class Exploit:
    """An object whose unpickling would write a file: a safe reader must not let it."""

    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self):
        return (exec, (f"open({str(self.target)!r}, 'w').write('pwned')",))


@pytest.mark.parametrize("legacy", [False, True])
def test_a_malicious_pickle_is_never_executed(tmp_path: Path, legacy: bool) -> None:
    marker = tmp_path / "pwned.txt"
    path = tmp_path / "evil.pth"
    torch.save({"model": Exploit(marker)}, path, _use_new_zipfile_serialization=not legacy)
    with pytest.raises(ValueError, match="Known:"):
        load_denoiser(path)
    assert not marker.exists()


@pytest.mark.parametrize("legacy", [False, True])
def test_whole_pickled_modules_round_trip(tmp_path: Path, legacy: bool) -> None:
    """Both torch.save formats of a whole module give back its exact state dict."""
    net = DnCNN(depth=4, features=8)
    net.model[3].running_var.uniform_(0.5, 2.0)
    path = tmp_path / "whole.pth"
    torch.save(net, path, _use_new_zipfile_serialization=not legacy)
    state = module_state(read_pickled(path))
    expected = net.state_dict()
    assert state.keys() == expected.keys()
    assert all(torch.equal(state[k], expected[k]) for k in expected)


def test_our_plain_state_dicts_load(tmp_path: Path) -> None:
    net = DnCNN(channels=3, depth=5, features=16).eval()
    torch.save(net.state_dict(), tmp_path / "bn.pth")
    loaded = load_denoiser(tmp_path / "bn.pth")
    assert (loaded.channels, loaded.depth, loaded.features) == (3, 5, 16)
    y = torch.rand(1, 3, 20, 20)
    with torch.inference_mode():
        assert_fp32_close(loaded(y), net(y))


def test_unknown_layout_names_the_known_ones(tmp_path: Path) -> None:
    path = tmp_path / "other.pth"
    torch.save({"encoder.conv.weight": torch.zeros(3, 3)}, path)
    with pytest.raises(ValueError, match="unknown denoiser layout") as info:
        load_denoiser(path)
    for layout in ("train.py", "KAIR", "SaoYan", "cszn"):
        assert layout in str(info.value)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="not found.*nope.pth"):
        load_denoiser(tmp_path / "nope.pth")


@pytest.mark.slow
@pytest.mark.parametrize("name", ["dncnn_s25_saoyan_net.pth", "dncnn_sigma25_cszn_model.pth"])
def test_other_pytorch_ports_reach_the_paper_on_set12(name: str) -> None:
    net = load_denoiser(require_shared("weights", name))
    table = evaluate_denoiser(net, require_shared("Set12"), sigma=25, progress=False)
    assert len(table) == 12
    assert table["psnr"].mean() >= 30.35
