"""ONNX export and the onnxruntime backend: parity with PyTorch for the U-Net (LAB and RGB) and
DnCNN-S, dynamic shapes, metadata, ``predict.py backend=onnx`` end to end, and clear errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from revive.color import get_color_space
from revive.nets import UnetGenerator
from revive.nets.dncnn import DnCNN
from revive.restore import RestoreOptions, SetupError, load_restorer, restore_paths
from revive.weights.export import main as export_main
from revive.weights.onnx_export import export_colorizer_onnx, export_denoiser_onnx
from revive.weights.onnx_runtime import OnnxNetwork, load_onnx_colorizer, load_onnx_denoiser
from tests.conftest import REPO

# The bound for fp32 network outputs. onnxruntime and PyTorch sum the same products in
# other orders: measured about 2e-7 on outputs of magnitude ~1 (AVX-512 here; AVX2 kernels order
# sums differently again, by the same few ulps), so 1e-4 is 500x that and still catches a wrong
# weight, a BatchNorm in training mode or a lost bias (errors of 1e-2 and more).
NET_TOL = 1e-4


def random_bn(net: torch.nn.Module, seed: int) -> torch.nn.Module:
    """BatchNorm with non-trivial running statistics, so eval vs train mode would show."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.copy_(torch.rand(m.num_features, generator=gen) - 0.5)
                m.running_var.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
                m.weight.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
    return net.eval()


def tiny_unet(out_channels: int, seed: int) -> UnetGenerator:
    torch.manual_seed(seed)
    return random_bn(UnetGenerator(1, out_channels, num_downs=6, ngf=8), seed)


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> dict[str, tuple[torch.nn.Module, Path]]:
    """Tiny LAB and RGB U-Nets and a full-size DnCNN-S, each with its ONNX export."""
    root = tmp_path_factory.mktemp("onnx")
    nets = {}
    for space, channels in (("lab", 2), ("rgb", 3)):
        net = tiny_unet(channels, seed=channels)
        nets[space] = (
            net,
            export_colorizer_onnx(net, get_color_space(space), root / f"{space}.onnx"),
        )
    torch.manual_seed(7)
    dncnn = random_bn(DnCNN(channels=1, depth=17, features=64, bn=True), 7)
    reference = DnCNN(channels=1, depth=17, features=64, bn=True)
    reference.load_state_dict(dncnn.state_dict())  # the exporter folds BN in place
    nets["dncnn"] = (reference.eval(), export_denoiser_onnx(dncnn, root / "dncnn.onnx"))
    return nets


def max_error(net: torch.nn.Module, onnx_net: OnnxNetwork, x: torch.Tensor) -> float:
    with torch.no_grad():
        return (onnx_net(x) - net(x)).abs().max().item()


@pytest.mark.slow
@pytest.mark.parametrize("space", ["lab", "rgb"])
def test_unet_parity_at_any_batch_and_multiple_of_its_size(exported, space):
    net, path = exported[space]
    onnx_net, loaded_space = load_onnx_colorizer(path)
    assert loaded_space.name == space and onnx_net.size_multiple == 64
    for shape in [(1, 1, 64, 64), (3, 1, 128, 192), (2, 1, 256, 64)]:  # none is the export's
        x = torch.rand(shape) * 2 - 1
        out = onnx_net(x)
        assert out.shape == (shape[0], net.output_nc, *shape[2:])
        assert max_error(net, onnx_net, x) <= NET_TOL


@pytest.mark.slow
def test_dncnn_parity_at_any_size(exported):
    net, path = exported["dncnn"]
    onnx_net = load_onnx_denoiser(path)
    assert onnx_net.receptive_radius == 17 and onnx_net.channels == 1
    for shape in [(1, 1, 1, 1), (2, 1, 33, 47), (1, 1, 96, 80)]:
        x = torch.rand(shape)
        assert onnx_net(x).shape == shape
        assert max_error(net, onnx_net, x) <= NET_TOL


@pytest.mark.slow
def test_metadata_opset_and_dynamic_axes(exported):
    model = onnx.load(str(exported["lab"][1]))
    meta = {p.key: p.value for p in model.metadata_props}
    assert meta["format"] == "revive-colorizer" and meta["color_space"] == "lab"
    arch = json.loads(meta["architecture"])
    assert arch["class"].endswith("UnetGenerator")
    assert (arch["num_downs"], arch["output_nc"], arch["input_nc"]) == (6, 2, 1)
    assert max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")) >= 17
    dims = model.graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_param != "" for d in dims] == [True, False, True, True]  # batch, 1, H, W
    denoiser = onnx.load(str(exported["dncnn"][1]))
    # BatchNorm folded: no BatchNormalization node left in the DnCNN graph
    assert not [n for n in denoiser.graph.node if n.op_type == "BatchNormalization"]


@pytest.mark.slow
def test_predict_backend_onnx_matches_torch_within_one_level(exported, tmp_path, command):
    from PIL import Image

    from revive.data.fakes import fake_photos

    root = tmp_path / "weights"
    root.mkdir()
    net, colorizer_onnx = exported["lab"]
    torch.save(net.state_dict(), root / "latest_net_G.pth")
    torch.save(exported["dncnn"][0].state_dict(), root / "dncnn.pth")
    command(export_main, f"weights={root / 'dncnn.pth'}", f"out={root / 'd.onnx'}")  # as typed
    photo = tmp_path / "in" / "old.png"
    photo.parent.mkdir()
    Image.fromarray(fake_photos(1, 150, 110, seed=3)[0][..., 0]).save(photo)
    options = RestoreOptions(
        colorizer=root / "latest_net_G.pth",
        denoiser=root / "dncnn.pth",
        render_size=64,
        device="cpu",
        tile_size=64,
        precision="32",
    )
    torch_sum = restore_paths(photo, tmp_path / "torch", options)
    done = subprocess.run(
        [sys.executable, str(REPO / "predict.py"), f"input={photo}", f"output={tmp_path / 'onnx'}",
         f"colorizer={colorizer_onnx}", f"denoiser={root / 'd.onnx'}", "backend=onnx",
         "render_size=64", "device=cpu", "tile_size=64", f"hydra.run.dir={tmp_path / 'log'}"],
        capture_output=True, text=True, cwd=tmp_path, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert torch_sum.ok
    a = np.asarray(Image.open(tmp_path / "torch" / "old_revived.png"), dtype=int)
    b = np.asarray(Image.open(tmp_path / "onnx" / "old_revived.png"), dtype=int)
    assert a.shape == b.shape == (150, 110, 3)
    assert np.abs(a - b).max() <= 1  # the 1/255: 8-bit rounding of equal floats


@pytest.mark.slow
def test_bad_onnx_file_exits_2_with_one_line(tmp_path):
    bad = tmp_path / "broken.onnx"
    bad.write_bytes(b"this is not a protobuf \x00\x01")
    done = subprocess.run(
        [sys.executable, str(REPO / "predict.py"), f"input={tmp_path}", f"output={tmp_path / 'o'}",
         f"colorizer={bad}", "backend=onnx", f"hydra.run.dir={tmp_path / 'log'}"],
        capture_output=True, text=True, cwd=tmp_path, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2
    errors = [line for line in done.stderr.splitlines() if line.startswith("predict.py: error:")]
    assert (
        len(errors) == 1 and "not a readable ONNX model" in errors[0] and "broken.onnx" in errors[0]
    )
    assert "Traceback" not in done.stderr


def test_onnx_file_without_the_onnx_backend_and_wrong_kind_are_refused(tmp_path):
    with pytest.raises(SetupError, match="backend=onnx"):
        load_restorer(RestoreOptions(colorizer=tmp_path / "model.onnx", device="cpu"))
    with pytest.raises(SetupError, match="backend must be one of"):
        load_restorer(
            RestoreOptions(colorizer=tmp_path / "model.onnx", device="cpu", backend="tensorrt")
        )
    with pytest.raises(SetupError, match="not found"):
        load_restorer(
            RestoreOptions(colorizer=tmp_path / "missing.onnx", device="cpu", backend="onnx")
        )


def test_export_refuses_unknown_extension_and_existing_file(tmp_path, command):
    weights = f"weights={tmp_path / 'x.pth'}"
    line = command.error(export_main, "revive-export", weights, f"out={tmp_path / 'x.pt'}")
    assert ".onnx" in line
    (tmp_path / "there.onnx").write_bytes(b"keep me")
    line = command.error(export_main, "revive-export", weights, f"out={tmp_path / 'there.onnx'}")
    assert "overwrite=true" in line
    assert (tmp_path / "there.onnx").read_bytes() == b"keep me"


@pytest.mark.slow
def test_official_dncnn_s_exports_with_parity_on_set12(tmp_path, command):
    """KAIR's published DnCNN-S (BN merged) through the command line, on a real noisy photo."""
    from revive.io import read_luminance
    from revive.weights.dncnn import load_denoiser
    from tests.conftest import require_shared

    weights = require_shared("weights", "dncnn_25.pth")
    photo = require_shared("Set12", "01.png")
    command(export_main, f"weights={weights}", f"out={tmp_path / 'dncnn_25.onnx'}")
    onnx_net = load_onnx_denoiser(tmp_path / "dncnn_25.onnx")
    assert json.loads(onnx_net.metadata["architecture"])["depth"] == 17
    torch.manual_seed(0)
    clean = torch.from_numpy(read_luminance(photo))[None, None]
    noisy = clean + torch.randn_like(clean) * 25 / 255
    assert max_error(load_denoiser(weights), onnx_net, noisy) <= NET_TOL
