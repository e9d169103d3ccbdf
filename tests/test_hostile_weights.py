"""Weights files made to hurt: no network is built bigger than the file's own tensors, nothing
unpacks past what it needs, and every bad file ends in one UserError that names it."""

from __future__ import annotations

import json
import struct
import time
from pathlib import Path

import pytest
import torch

from revive.errors import UserError
from revive.nets.dncnn import DnCNN
from revive.restore import RestoreOptions, SetupError, load_restorer
from revive.safe import load as safe
from revive.weights.colorizer import load_colorizer
from revive.weights.dncnn import load_denoiser
from tests.hostile_files import (
    CsznDnCNN,
    colorizer_checkpoint,
    peak_rss_growth,
    recompress,
    tiny_colorizer,
    write_export,
)

MB = 1 << 20


@pytest.mark.slow  # compressing the 400 MB takes a few seconds
def test_a_bzip2_bomb_in_a_pickled_module_is_never_unpacked(tmp_path):
    """A few hundred bytes that unpack to 400 MB: the reader stops at what the storage needs."""
    torch.save(CsznDnCNN(), tmp_path / "cszn.pth")
    bomb = recompress(tmp_path / "cszn.pth", tmp_path / "bomb.pth", "/data/0", 400 * MB)
    assert bomb.stat().st_size < 20_000
    result, grown = peak_rss_growth(lambda: load_denoiser(bomb))
    assert isinstance(result, DnCNN | UserError), result
    assert grown < 100 * MB, f"{grown / MB:.0f} MB"


@pytest.mark.parametrize("where", ["hyper_parameters", "safetensors"])
def test_a_claimed_num_downs_of_20_is_refused_before_building(tmp_path, where):
    if where == "hyper_parameters":
        ckpt = colorizer_checkpoint()
        ckpt["hyper_parameters"]["generator"]["num_downs"] = 20
        ckpt["hyper_parameters"]["generator"]["ngf"] = 64
        torch.save(ckpt, path := tmp_path / "deep.ckpt")
    else:
        arch = {"input_nc": 1, "output_nc": 2, "num_downs": 20, "ngf": 64, "norm": "batch"}
        path = write_export(tmp_path / "deep.safetensors", arch)
    began = time.perf_counter()
    result, grown = peak_rss_growth(lambda: load_colorizer(path))
    assert isinstance(result, UserError) and "num_downs=20" in str(result), result
    assert str(path) in str(result)
    assert grown < 100 * MB and time.perf_counter() - began < 5


def test_a_width_that_the_tensors_do_not_have_is_refused_on_the_meta_device(tmp_path):
    ckpt = colorizer_checkpoint()
    ckpt["hyper_parameters"]["generator"]["ngf"] = 4096  # 16,000x the parameters of the file
    torch.save(ckpt, tmp_path / "wide.ckpt")
    result, grown = peak_rss_growth(lambda: load_colorizer(tmp_path / "wide.ckpt"))
    assert isinstance(result, UserError) and "needs" in str(result), result
    assert grown < 100 * MB


def test_tensors_sharing_one_storage_are_refused(tmp_path):
    """19 KB that claimed a 94 M-parameter DnCNN: every weight a zero-stride view of one float."""
    one = torch.zeros(1)
    state = {}
    for i in range(20):
        cin = 1 if i == 0 else 768
        cout = 1 if i == 19 else 768
        state[f"model.{2 * i}.weight"] = one.expand(cout, cin, 3, 3)
        state[f"model.{2 * i}.bias"] = one.expand(cout)
    torch.save(state, tmp_path / "shared.pth")
    assert (tmp_path / "shared.pth").stat().st_size < 30_000
    result, grown = peak_rss_growth(lambda: load_denoiser(tmp_path / "shared.pth"))
    assert isinstance(result, UserError) and "share or repeat" in str(result), result
    assert grown < 100 * MB

    base = torch.zeros(4 * 4 * 9)  # plain views of one storage, no zero strides
    net = DnCNN(depth=3, features=4, bn=False).state_dict()
    views = {k: base[: v.numel()].view(v.shape) for k, v in net.items()}
    torch.save(views, tmp_path / "views.pth")
    with pytest.raises(UserError, match="share or repeat"):
        load_denoiser(tmp_path / "views.pth")


def test_parameters_are_bounded(tmp_path, monkeypatch):
    torch.save(DnCNN(depth=3, features=16).state_dict(), tmp_path / "dncnn.pth")  # 2,640
    monkeypatch.setattr(safe, "MAX_PARAMETERS", 1000)
    with pytest.raises(UserError, match="over the limit of 1,000"):
        load_denoiser(tmp_path / "dncnn.pth")


def _hp_as_list(tmp_path: Path) -> tuple[Path, str]:
    ckpt = colorizer_checkpoint()
    ckpt["hyper_parameters"] = [1, 2]
    torch.save(ckpt, tmp_path / "hp_list.ckpt")
    return tmp_path / "hp_list.ckpt", "colorizer"


def _truncated_safetensors(tmp_path: Path) -> tuple[Path, str]:
    path = write_export(tmp_path / "cut.safetensors")
    path.write_bytes(path.read_bytes()[:40])
    return path, "colorizer"


def _huge_safetensors_header(tmp_path: Path) -> tuple[Path, str]:
    path = write_export(tmp_path / "huge.safetensors")
    data = path.read_bytes()
    path.write_bytes(struct.pack("<Q", 1 << 40) + data[8:])
    return path, "colorizer"


def _modules_as_int(tmp_path: Path) -> tuple[Path, str]:
    net = CsznDnCNN()
    net.dncnn.__dict__["_modules"] = 5
    torch.save(net, tmp_path / "modules_int.pth")
    return tmp_path / "modules_int.pth", "denoiser"


def _first_weight_1d(tmp_path: Path) -> tuple[Path, str]:
    state = DnCNN(depth=3, features=4).state_dict()
    state["model.0.weight"] = torch.zeros(36)
    torch.save(state, tmp_path / "flat.pth")
    return tmp_path / "flat.pth", "denoiser"


def _official_first_weight_1d(tmp_path: Path) -> tuple[Path, str]:
    state = tiny_colorizer().generator.state_dict()
    state["model.model.0.weight"] = torch.zeros(32)
    torch.save(state, tmp_path / "flat_G.pth")
    return tmp_path / "flat_G.pth", "colorizer"


def _metadata_not_json(tmp_path: Path) -> tuple[Path, str]:
    path = write_export(tmp_path / "meta.safetensors")
    data = bytearray(path.read_bytes())
    start = data.index(b'"generator":"') + len(b'"generator":"')
    data[start] = ord("[")  # still valid JSON around it, but the value no longer parses
    path.write_bytes(bytes(data))
    return path, "colorizer"


BAD_FILES = [
    _hp_as_list,
    _truncated_safetensors,
    _huge_safetensors_header,
    _modules_as_int,
    _first_weight_1d,
    _official_first_weight_1d,
    _metadata_not_json,
]


@pytest.mark.parametrize("make", BAD_FILES, ids=lambda f: f.__name__.strip("_"))
def test_each_bad_file_is_one_error_naming_it(tmp_path, make):
    path, kind = make(tmp_path)
    loader = load_colorizer if kind == "colorizer" else load_denoiser
    with pytest.raises(UserError) as info:
        loader(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(SetupError, match=f"{kind}="):
        if kind == "colorizer":
            load_restorer(RestoreOptions(colorizer=path, device="cpu"))
        else:
            write_export(good := tmp_path / "good.safetensors")
            load_restorer(RestoreOptions(colorizer=good, denoiser=path, device="cpu"))


def test_json_metadata_round_trip_still_loads(tmp_path):
    """The checks refuse only what is wrong: a faithful export loads."""
    path = write_export(tmp_path / "ok.safetensors")
    net, space = load_colorizer(path)
    assert space.name == "lab" and net.num_downs == 5
    assert json.loads("{}") == {}
