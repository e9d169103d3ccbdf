"""The super-resolution stage: published layouts through spandrel, tiling, safety, the 96 MP bound.

Every network is built here with random weights in its official layout (spandrel's own copies of
the ESRGAN/Real-ESRGAN RRDBNet, SwinIR and RCAN architectures) and saved to tmp_path.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import save_file
from spandrel.architectures.Compact import Compact
from spandrel.architectures.ESRGAN import ESRGAN as RRDBNet
from spandrel.architectures.RCAN import RCAN
from spandrel.architectures.SwinIR import SwinIR

from revive.color import luminance, luminance_pt
from revive.data.fakes import fake_photos
from revive.models.pix2pix import Pix2Pix
from revive.restore import RestoreOptions, SetupError, restore_paths
from revive.restore.upscale import Upscaler
from revive.weights.upscaler import load_upscaler
from tests.conftest import REPO
from tests.tiny_runs import save_checkpoint

RENDER = 64  # the tiny colorizer's canvas


def tiny_swinir(scale: int, upsampler: str) -> torch.nn.Module:
    """A one-block SwinIR: ``upsampler=""`` is its denoising (scale 1) form."""
    return SwinIR(
        upscale=scale,
        in_chans=3,
        img_size=16,
        window_size=4,
        embed_dim=12,
        depths=[1],
        num_heads=[2],
        mlp_ratio=2,
        upsampler=upsampler,
    )


def tiny(kind: str) -> torch.nn.Module:
    """A small network of each published architecture, random weights, official key layout."""
    torch.manual_seed(0)
    if kind == "rrdb_x4":
        return RRDBNet(in_nc=3, out_nc=3, num_filters=8, num_blocks=1, scale=4)
    if kind == "rrdb_x2":  # Real-ESRGAN x2: pixel-unshuffle, then the x4 body
        return RRDBNet(in_nc=3, out_nc=3, num_filters=8, num_blocks=1, scale=2, shuffle_factor=2)
    if kind == "rrdb_gray_x4":
        return RRDBNet(in_nc=1, out_nc=1, num_filters=8, num_blocks=1, scale=4)
    if kind == "swinir_x2":
        return tiny_swinir(2, "pixelshuffle")
    if kind == "rcan_x2":
        return RCAN(scale=2, n_resgroups=1, n_resblocks=1, n_feats=8, reduction=4)
    if kind == "compact_x4":  # Real-ESRGAN's SRVGGNetCompact (realesr-general-x4v3)
        return Compact(num_in_ch=3, num_out_ch=3, num_feat=8, num_conv=2, upscale=4)
    raise ValueError(kind)


SCALES = {
    "rrdb_x4": 4,
    "rrdb_x2": 2,
    "rrdb_gray_x4": 4,
    "swinir_x2": 2,
    "rcan_x2": 2,
    "compact_x4": 4,
}


def save_sr(kind: str, path: Path, wrap: str | None = None) -> Path:
    """Saved as the projects publish them: a plain state dict, or under ``params_ema``."""
    state = tiny(kind).state_dict()
    if path.suffix == ".safetensors":
        save_file({k: v.contiguous() for k, v in state.items()}, path)
    else:
        torch.save({wrap: state} if wrap else state, path)
    return path


@pytest.fixture(scope="module")
def colorizer(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    model = Pix2Pix(generator={"ngf": 8, "num_downs": 6}, discriminator={"ndf": 8})
    path = tmp_path_factory.mktemp("ckpt") / "last.ckpt"
    return save_checkpoint(model, path)


def gray(height: int, width: int, seed: int = 0) -> torch.Tensor:
    return torch.from_numpy(luminance(fake_photos(1, height, width, seed=seed)[0]))


@pytest.mark.parametrize("kind", list(SCALES))
def test_spandrel_reads_each_layout_and_the_output_is_scale_times_the_input(kind, tmp_path):
    wrap = "params_ema" if kind.startswith("rrdb_x2") else None  # Real-ESRGAN's wrapping
    model = load_upscaler(save_sr(kind, tmp_path / f"{kind}.pth", wrap))
    assert model.scale == SCALES[kind]
    up = Upscaler(model, tile_size=16, overlap=4)
    out = up(gray(23, 37))
    assert out.shape == (23 * model.scale, 37 * model.scale)
    assert out.dtype == torch.float32 and out.min() >= 0 and out.max() <= 1


def test_safetensors_weights_load(tmp_path):
    assert load_upscaler(save_sr("rcan_x2", tmp_path / "rcan.safetensors")).scale == 2


def test_rgb_models_see_three_equal_channels_and_give_back_their_luminance(tmp_path):
    model = load_upscaler(save_sr("rrdb_x4", tmp_path / "x4.pth"))
    image = gray(20, 24)
    out = Upscaler(model, tile_size=64, overlap=0)(image)  # one tile: the plain forward pass
    with torch.inference_mode():
        rgb = model(image[None, None].expand(1, 3, -1, -1).contiguous())
    assert torch.equal(out, luminance_pt(rgb)[0, 0])
    # the gray of equal Y: an RGB output that is gray already keeps its value
    assert torch.allclose(luminance_pt(rgb[:, :1].expand(1, 3, -1, -1)), rgb[:, :1], atol=1e-6)


def test_tiled_equals_untiled_when_the_overlap_covers_the_receptive_field(tmp_path):
    # Thin RRDBNet: 17 convolutions at input resolution and 3 after the x2 and x4 upsampling,
    # so an input pixel's reach is under 20 px; 24 px of overlap makes every tile exact.
    model = load_upscaler(save_sr("rrdb_x4", tmp_path / "x4.pth"))
    image = gray(70, 90, seed=3)
    whole = Upscaler(model, tile_size=512, overlap=0)(image)
    tiled = Upscaler(model, tile_size=24, overlap=24)(image)
    assert (tiled - whole).abs().max().item() <= 1e-4  # the bound; float rounding only


def test_revival_is_upscaled_and_keeps_the_upscaled_luminance(tmp_path, colorizer):
    weights = save_sr("rrdb_x2", tmp_path / "x2.pth", wrap="params_ema")
    src = tmp_path / "in" / "a.png"
    src.parent.mkdir()
    Image.fromarray(fake_photos(1, 21, 30, seed=4)[0]).save(src)
    summary = restore_paths(
        src,
        tmp_path / "out",
        RestoreOptions(colorizer=colorizer, upscaler=weights, render_size=RENDER, device="cpu"),
    )
    assert summary.ok and "upscaled x2 by ESRGAN" in str(summary)
    revived = np.asarray(Image.open(tmp_path / "out" / "a_revived.png"))
    assert revived.shape == (42, 60, 3)
    expected = Upscaler(load_upscaler(weights), tile_size=192, overlap=16)(
        torch.from_numpy(luminance(np.asarray(Image.open(src).convert("RGB"))))
    )
    # The chroma merge keeps the luminance it is given, up to 8-bit rounding of the output.
    assert np.abs(luminance(revived) - expected.numpy()).max() <= 1.5 / 255


def test_an_output_over_the_cap_is_refused_before_decoding(tmp_path, colorizer):
    weights = save_sr("rrdb_x4", tmp_path / "x4.pth")
    src = tmp_path / "big.png"
    Image.fromarray(fake_photos(1, 40, 50, seed=1)[0]).save(src)
    summary = restore_paths(
        src,
        tmp_path / "out",
        RestoreOptions(
            colorizer=colorizer,
            upscaler=weights,
            upscale_max_pixels=10_000,
            render_size=RENDER,
            device="cpu",
        ),
    )
    assert not summary.ok and not (tmp_path / "out" / "big_revived.png").exists()
    assert "200x160 = 32,000 px, over upscale_max_pixels=10,000" in summary.failed[0][1]


def test_max_side_and_max_pixels_cap_the_output_before_decoding(
    tmp_path, colorizer, make_cfg, monkeypatch
):
    """The issue's optional caps, as predict.py's keys: a 50x40 scan upscaled x4 is 200x160."""
    from revive.restore import files, photo
    from revive.restore.restorer import load_restorer

    weights = save_sr("rrdb_x4", tmp_path / "x4.pth")
    src = tmp_path / "in" / "scan.png"
    src.parent.mkdir()
    Image.fromarray(fake_photos(1, 40, 50, seed=1)[0]).save(src)
    decoded = []
    real = photo.image_luminance
    monkeypatch.setattr(photo, "image_luminance", lambda img: decoded.append(img.size) or real(img))
    cases = [
        ("max_side=199", "200x160 output, longer than max_side=199"),
        ("max_pixels=31999", "200x160 = 32,000 px, over max_pixels=31,999"),
        ("max_side=200", None),
    ]
    for cap, refusal in cases:
        out = tmp_path / cap.replace("=", "_")
        options = [f"colorizer={colorizer}", f"upscaler={weights}", f"render_size={RENDER}"]
        cfg = make_cfg(
            "predict", [f"input={src.parent}", f"output={out}", *options, "device=cpu", cap]
        )
        summary = files.restore_config(cfg)
        if refusal is None:
            assert summary.ok and (out / "scan_revived.png").exists()
        else:
            assert not summary.ok and not (out / "scan_revived.png").exists()
            assert refusal in summary.failed[0][1], summary.failed
    assert decoded == [(50, 40)]  # only the photo that fit was ever decoded
    plain = load_restorer(
        RestoreOptions(colorizer=colorizer, device="cpu", render_size=RENDER, max_side=49)
    )
    with pytest.raises(ValueError, match="50x40 would give a 50x40 output, longer than max_side"):
        plain.check_size(40, 50)
    with pytest.raises(SetupError, match="max_side must be a positive whole number"):
        load_restorer(RestoreOptions(colorizer=colorizer, device="cpu", max_side=0))


class Exploit:
    """A pickle that would create a file when loaded without ``weights_only``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_a_pickle_that_runs_code_is_refused(tmp_path, colorizer):
    marker = tmp_path / "pwned"
    bad = tmp_path / "evil.pth"
    torch.save({"params_ema": Exploit(marker)}, bad)
    with pytest.raises(
        SetupError, match=r"upscaler=.*evil.pth.*refused by tensors-only loading"
    ) as e:
        restore_paths(
            tmp_path,
            tmp_path / "out",
            RestoreOptions(colorizer=colorizer, upscaler=bad, device="cpu"),
        )
    assert "\n" not in str(e.value) and not marker.exists()


def not_sr(folder: Path) -> Path:
    torch.save({"w": torch.zeros(3)}, folder / "x.pth")
    return folder / "x.pth"


def not_torch(folder: Path) -> Path:
    (folder / "x.pth").write_bytes(b"not a checkpoint")
    return folder / "x.pth"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p / "missing.pth", "checkpoint not found"),
        (not_sr, "not a super-resolution model that spandrel recognizes"),
        (not_torch, "not a complete torch checkpoint"),
    ],
)
def test_missing_or_unknown_weights_stop_before_any_work(tmp_path, colorizer, make, message):
    with pytest.raises(SetupError, match=message):
        restore_paths(
            tmp_path, tmp_path / "out", RestoreOptions(colorizer=colorizer, upscaler=make(tmp_path))
        )
    assert not (tmp_path / "out").exists()


def test_non_sr_models_are_refused(tmp_path):
    # spandrel also reads restoration networks of scale 1 (here SwinIR as a denoiser)
    net = tiny_swinir(1, "")
    torch.save(net.state_dict(), tmp_path / "dn.pth")
    with pytest.raises(ValueError, match="not SR"):
        load_upscaler(tmp_path / "dn.pth")


@pytest.mark.slow
def test_command_line_exit_2_for_a_missing_upscaler(tmp_path, colorizer):
    (tmp_path / "in").mkdir()
    Image.fromarray(fake_photos(1, 20, 30)[0]).save(tmp_path / "in" / "a.png")
    result = subprocess.run(
        [
            sys.executable,
            str(REPO / "predict.py"),
            "input=in",
            "output=out",
            f"colorizer={colorizer}",
            "upscaler=nope.pth",
            "hydra.run.dir=logs",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    log = result.stdout + result.stderr
    assert result.returncode == 2, log
    assert "upscaler=nope.pth: checkpoint not found" in log and "Traceback" not in log
    assert not (tmp_path / "out").exists()


# Peak RSS of the child itself (VmHWM restarts at exec).
SCAN_96MP = """
import json, re, sys, time
from pathlib import Path
from revive.restore import RestoreOptions, restore_paths
start = time.perf_counter()
options = RestoreOptions(colorizer=sys.argv[3], upscaler=sys.argv[4], device="cpu")
summary = restore_paths(sys.argv[1], sys.argv[2], options, progress=False)
seconds = time.perf_counter() - start
peak = int(re.search(r"VmHWM:\\s+(\\d+) kB", Path("/proc/self/status").read_text()).group(1))
print(json.dumps({"seconds": seconds, "ok": summary.ok, "peak_rss_mib": peak / 1024}))
"""


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads VmHWM from /proc")
def test_6mp_scan_upscaled_x4_stays_under_3gb(tmp_path, colorizer):
    """A 3000x2000 scan becomes 12000x8000 (96 MP) with predict.yaml's tiles; a thin Real-ESRGAN
    Compact keeps the test fast (the full-size buffers, not the network's width, are what is
    bounded; a tile's activations are a few hundred MB at most even for the full RRDBNet)."""
    save_sr("compact_x4", tmp_path / "thin_x4.pth")
    scan = tmp_path / "scan.jpg"
    Image.fromarray(fake_photos(1, 2000, 3000, seed=2)[0]).save(scan, quality=90)
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            SCAN_96MP,
            str(scan),
            str(tmp_path / "out"),
            str(colorizer),
            str(tmp_path / "thin_x4.pth"),
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    print(f"96 MP revival: {report}")
    assert report["ok"] and report["peak_rss_mib"] < 3 * 1024
    with Image.open(tmp_path / "out" / "scan_revived.png") as img:
        assert img.size == (12000, 8000)


@pytest.mark.slow
def test_the_upscale_benchmark_revives_a_scan(tmp_path):
    from revive.bench import revival, upscale
    from revive.bench.suite import BENCHMARKS

    assert "revive_upscale" in BENCHMARKS
    revival.write_scan(tmp_path / "scan.jpg", megapixels=0.01)
    colorizer, _ = revival.write_weights(tmp_path)
    weights = upscale.write_upscaler(tmp_path / "x4.pth", "thin Compact")
    result = revival.measure_revival(
        str(tmp_path / "scan.jpg"),
        str(tmp_path / "out"),
        colorizer=str(colorizer),
        upscaler=str(weights),
    )
    assert result["seconds"] > 0
    (revived,) = (tmp_path / "out").glob("*_revived.png")
    with Image.open(revived) as img, Image.open(tmp_path / "scan.jpg") as scan:
        assert img.size == (4 * scan.width, 4 * scan.height)
