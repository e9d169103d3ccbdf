"""The revival pipeline in memory: color math, canvas, tiling, denoisers, colorizer formats."""

from __future__ import annotations

import kornia.color as kc
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from revive.color import get_color_space, gray_ab_to_rgb_pt, luminance
from revive.data.fakes import fake_photos
from revive.io import read_rgb
from revive.models.pix2pix import Pix2Pix
from revive.nets import UnetGenerator
from revive.nets.dncnn import DnCNN
from revive.nets.receptive import receptive_radius
from revive.restore import RestoreOptions, Restorer, SetupError, load_restorer, restore_paths
from revive.restore.canvas import fit_canvas, mirror_indices, upsample_rows
from revive.restore.tiling import run_tiled, spans
from tests.conftest import assert_fp32_close, require_shared
from tests.tiny_runs import save_checkpoint

ODD_SIZES = [(301, 517), (1, 1), (300, 4000)]  # (height, width)


def tiny_colorizer(out_channels: int = 2, seed: int = 0) -> UnetGenerator:
    torch.manual_seed(seed)
    net = UnetGenerator(1, out_channels, num_downs=6, ngf=8)
    with torch.no_grad():  # non-trivial BatchNorm statistics, so eval mode matters
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 2.0)
    return net.eval()


def tiny_dncnn(features: int = 16, depth: int = 17, seed: int = 0) -> DnCNN:
    torch.manual_seed(seed)
    net = DnCNN(channels=1, depth=depth, features=features, bn=True)
    with torch.no_grad():  # BN of unit scale and spread statistics: a residual far from zero
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 2.0)
    return net.eval()


def smooth_gray(height: int, width: int, seed: int = 0) -> torch.Tensor:
    rgb = fake_photos(1, height, width, seed=seed)[0]
    return torch.from_numpy(luminance(rgb))


# -- color math --------------------------------------------------------------------------------------
def test_zero_chroma_gives_the_exact_gray():
    gray = torch.linspace(0, 1, 256).view(16, 16)
    out = gray_ab_to_rgb_pt(gray, torch.zeros(2, 16, 16)).numpy()
    expected = np.round(gray.numpy() * 255).astype(np.uint8)
    assert np.array_equal(out, np.repeat(expected[..., None], 3, axis=2))


def test_in_gamut_chroma_is_the_lab_color():
    """Inside sRGB the merge is plain LAB -> RGB (what the colorizer was trained against)."""
    rgb = torch.from_numpy(fake_photos(1, 24, 32, seed=7)[0]).permute(2, 0, 1).float() / 255
    lab = kc.rgb_to_lab(rgb[None])[0]
    gray = torch.from_numpy(luminance((rgb.permute(1, 2, 0) * 255).round().byte().numpy()))
    out = gray_ab_to_rgb_pt(gray, lab[1:]).float() / 255
    assert (out.permute(2, 0, 1) - rgb).abs().max() < 1.5 / 255


def test_out_of_gamut_chroma_keeps_the_luminance():
    gray = torch.rand(64, 80, generator=torch.Generator().manual_seed(0))
    ab = (torch.rand(2, 64, 80, generator=torch.Generator().manual_seed(1)) - 0.5) * 300
    out = gray_ab_to_rgb_pt(gray, ab).numpy()
    assert np.abs(luminance(out) - gray.numpy()).max() <= 1 / 255
    # plain clipping, by contrast, changes the brightness of saturated colors
    clipped = kc.lab_to_rgb(
        torch.cat([kc.rgb_to_lab(gray[None, None].expand(1, 3, -1, -1))[:, :1], ab[None]], 1),
        clip=True,
    )
    clipped = (clipped[0].permute(1, 2, 0) * 255 + 0.5).byte().numpy()
    assert np.abs(luminance(clipped) - gray.numpy()).max() > 10 / 255
    saturation = out.max(2).astype(int) - out.min(2)
    assert saturation.mean() > 50  # the colors are reduced only as far as needed, not removed


def test_band_upsampling_equals_bilinear_interpolation():
    small = torch.rand(2, 7, 50)
    full = F.interpolate(small[None], size=(123, 50), mode="bilinear")[0]
    assert torch.allclose(upsample_rows(small, 123, 0, 123), full, atol=1e-6)
    assert torch.allclose(upsample_rows(small, 123, 40, 77), full[:, 40:77], atol=1e-6)


# -- canvas ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("size", "render", "multiple", "expected"),
    [
        ((301, 517), 256, 64, (256, 53, 0, 149, 256)),
        ((300, 4000), 256, 256, (256, 118, 0, 19, 256)),
        ((4000, 300), 256, 256, (256, 0, 118, 256, 19)),
        ((1, 1), 256, 64, (256, 0, 0, 256, 256)),
        ((100, 100), 300, 256, (512, 106, 106, 300, 300)),
    ],
)
def test_canvas_keeps_the_aspect_ratio(size, render, multiple, expected):
    box = fit_canvas(*size, render, multiple)
    assert (box.side, box.top, box.left, box.height, box.width) == expected
    assert box.side % multiple == 0
    if min(size) > 1:
        assert box.height / box.width == pytest.approx(size[0] / size[1], rel=0.05)


def test_mirror_padding_fills_any_margin():
    idx = mirror_indices(10, 3, 4)
    assert idx.tolist() == [2, 2, 1, 0, 0, 1, 2, 2, 1, 0]  # the picture [0, 1, 2] sits at 4..6
    assert mirror_indices(256, 1, 128).eq(0).all()


def test_render_centers_the_unsquashed_picture():
    net = tiny_colorizer()
    restorer = Restorer(net, get_color_space("lab"), render_size=64)
    gray = smooth_gray(100, 200)
    canvas, box = restorer.render(gray)
    assert canvas.shape == (1, 64, 64) and (box.height, box.width) == (32, 64)
    expected = F.interpolate(gray[None, None], size=(32, 64), mode="bilinear", antialias=True)
    assert torch.allclose(canvas[0, 16:48], expected[0, 0].clamp(0, 1))
    assert torch.equal(canvas[0, 15], canvas[0, 16])  # mirrored margin
    assert torch.equal(canvas[0, 48], canvas[0, 47])


# -- whole images ------------------------------------------------------------------------------------
@pytest.mark.parametrize("space", ["lab", "rgb"])
@pytest.mark.parametrize("size", ODD_SIZES)
def test_revive_keeps_size_and_luminance(space, size):
    net = tiny_colorizer(2 if space == "lab" else 3)
    restorer = Restorer(net, get_color_space(space), render_size=64)
    gray = smooth_gray(*size) if min(size) > 1 else torch.tensor([[0.3]])
    out = restorer.restore(gray)
    assert out.shape == (*size, 3) and out.dtype == np.uint8
    assert np.abs(luminance(out) - gray.numpy()).max() <= 1 / 255


def test_rgb_colorizer_contributes_only_its_chroma():
    """An RGB model whose output is much darker than the input still leaves the luminance."""
    net = tiny_colorizer(3)
    with torch.no_grad():
        net.model.model[3].bias.fill_(-2.0)  # the last up-conv: outputs near -1, i.e. black
    restorer = Restorer(net, get_color_space("rgb"), render_size=64)
    gray = smooth_gray(40, 60)
    out = restorer.restore(gray)
    assert np.abs(luminance(out) - gray.numpy()).max() <= 1 / 255


def test_colors_follow_the_colorizer():
    """A LAB colorizer that predicts a constant blue-ish ab paints the photo that way."""
    net = tiny_colorizer()
    with torch.no_grad():
        last = net.model.model[3]
        last.weight.zero_()
        last.bias.copy_(torch.tensor([0.0, -0.3]))  # tanh -> ab = (0, -32): blue
    out = Restorer(net, get_color_space("lab"), render_size=64).restore(torch.full((30, 50), 0.5))
    assert (out[..., 2].astype(int) - out[..., 0]).min() > 20


# -- tiling and denoising ----------------------------------------------------------------------------
def test_receptive_radius_of_dncnn():
    assert receptive_radius(DnCNN(depth=17, features=8)) == 17
    assert receptive_radius(DnCNN(channels=3, depth=20, features=8)) == 20
    with pytest.raises(ValueError, match="strided"):
        receptive_radius(UnetGenerator(1, 2, num_downs=5, ngf=4))


def test_spans_cover_the_axis_once():
    cores = [(a, b) for a, b, _, _ in spans(100, 32, 17)]
    assert cores == [(0, 32), (32, 64), (64, 96), (96, 100)]
    assert [(c, d) for _, _, c, d in spans(100, 32, 17)][1] == (15, 81)


@torch.inference_mode()
def test_tiled_denoising_equals_untiled():
    net = tiny_dncnn().fuse_bn()
    noisy = (smooth_gray(70, 90) + 0.1 * torch.randn(70, 90)).clamp(0, 1)[None]
    whole = net(noisy[None])[0]
    tiled = run_tiled(net, noisy, tile=24, overlap=receptive_radius(net))
    assert (tiled - whole).abs().max() <= 1 / 255
    assert_fp32_close(tiled, whole)  # exact up to float rounding
    # the overlap is what makes it exact: too little context leaves seams
    seams = run_tiled(net, noisy, tile=24, overlap=4)
    assert (seams - whole).abs().max() > 1e-3


def test_reviver_denoises_in_tiles_with_fused_bn():
    net = tiny_dncnn(seed=1)
    reference = tiny_dncnn(seed=1)  # unfused twin
    restorer = Restorer(
        tiny_colorizer(), get_color_space("lab"), net, render_size=64, tile_size=20, precision="32"
    )  # fp32: exact (test_inference covers bf16)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in restorer.denoiser.modules())
    assert restorer.overlap == 17
    noisy = (smooth_gray(50, 45) + 0.1 * torch.randn(50, 45)).clamp(0, 1)
    with torch.inference_mode():
        expected = reference(noisy[None, None])[0, 0].clamp(0, 1)
    assert (restorer.denoise(noisy) - expected).abs().max() < 1e-4


def noisy_set12_crop() -> tuple[torch.Tensor, torch.Tensor]:
    path = require_shared("Set12") / "01.png"
    clean = torch.from_numpy(read_rgb(path)[60:124, 80:160, 0].astype(np.float32) / 255)
    noise = torch.from_numpy(np.random.default_rng(0).normal(0, 25 / 255, clean.shape))
    return clean, (clean + noise.float()).clamp(0, 1)


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(10 * torch.log10(1 / F.mse_loss(a, b)))


def test_official_denoiser_cleans_the_luminance(tmp_path):
    """The official DnCNN-S (sigma 25) through the pipeline's loader and tiles."""
    path = require_shared("weights", "dncnn_25.pth")
    clean, noisy = noisy_set12_crop()
    torch.save(tiny_colorizer().state_dict(), tmp_path / "net_G.pth")
    restorer = load_restorer(
        RestoreOptions(colorizer=tmp_path / "net_G.pth", denoiser=path, device="cpu", tile_size=40)
    )
    denoised = restorer.denoise(noisy)
    assert psnr(denoised, clean) > psnr(noisy, clean) + 4  # 21.2 -> 26.3 dB on this crop


def test_color_denoiser_is_refused_before_work(tmp_path):
    path = require_shared("weights", "dncnn_color_blind.pth")
    torch.save(tiny_colorizer().state_dict(), tmp_path / "net_G.pth")
    with pytest.raises(SetupError, match="denoiser=.*color.*gray model"):
        load_restorer(RestoreOptions(colorizer=tmp_path / "net_G.pth", denoiser=path, device="cpu"))


# -- checkpoints -------------------------------------------------------------------------------------
def save_lightning_colorizer(path, color_space: str = "lab") -> Pix2Pix:
    torch.manual_seed(3)
    model = Pix2Pix(
        color_space=color_space, generator={"ngf": 8, "num_downs": 6}, discriminator={"ndf": 8}
    )
    with torch.no_grad():
        for m in model.generator.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2)
    save_checkpoint(model, path)
    return model


def test_official_generator_file_gives_the_same_colors_as_our_checkpoint(tmp_path):
    model = save_lightning_colorizer(tmp_path / "last.ckpt")
    torch.save(model.generator.state_dict(), tmp_path / "latest_net_G.pth")  # official keys
    photo = fake_photos(1, 90, 130, seed=8)[0]
    (tmp_path / "in").mkdir()
    Image.fromarray(photo).save(tmp_path / "in" / "photo.png")
    results = []
    for name in ("last.ckpt", "latest_net_G.pth"):
        out = tmp_path / f"out_{name}"
        summary = restore_paths(
            tmp_path / "in",
            out,
            RestoreOptions(colorizer=tmp_path / name, render_size=64),
            progress=False,
        )
        assert summary.ok and len(summary.done) == 1
        results.append(read_rgb(out / "photo_revived.png"))
    assert np.array_equal(results[0], results[1])
    chroma = results[0].max(2).astype(int) - results[0].min(2)
    assert chroma.max() > 0  # real colors, not a gray that would match trivially


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"colorizer": "missing.ckpt"}, "colorizer=.*not found"),
        ({"denoiser": "missing.pth"}, "denoiser=.*not found"),
        ({"device": "cuda:7"}, "device=cuda:7"),
        ({"device": "nonsense"}, "not a device"),
    ],
)
def test_setup_problems_are_one_clear_error(tmp_path, kwargs, message):
    colorizer = tmp_path / "c.ckpt"
    save_lightning_colorizer(colorizer)
    if torch.cuda.is_available() and kwargs.get("device") == "cuda:7":
        pytest.skip("a machine with a GPU")
    with pytest.raises(SetupError, match=message):
        load_restorer(RestoreOptions(**{"colorizer": colorizer, "device": "cpu", **kwargs}))


def test_a_denoiser_is_not_a_colorizer(tmp_path):
    torch.save(tiny_dncnn(features=8, depth=3).state_dict(), tmp_path / "dncnn.pth")
    with pytest.raises(SetupError, match="colorizer=.*unknown colorizer format"):
        load_restorer(RestoreOptions(colorizer=tmp_path / "dncnn.pth", device="cpu"))
    save_lightning_colorizer(tmp_path / "c.ckpt")
    with pytest.raises(SetupError, match="denoiser=.*"):
        load_restorer(
            RestoreOptions(
                colorizer=tmp_path / "c.ckpt", denoiser=tmp_path / "c.ckpt", device="cpu"
            )
        )


def test_read_photo_keeps_the_luminance_and_a_small_before(tmp_path):
    """predict.py and the web page read a file one way: the full-resolution luminance that
    io.read_luminance gives, the original's colors at the asked size, and a refusal from the
    photo's size before any work when the output would be over a cap."""
    from revive.io import read_luminance
    from revive.restore.photo import read_photo

    rgb = np.random.default_rng(0).integers(0, 256, (30, 50, 3), dtype=np.uint8)
    path = tmp_path / "photo.png"
    Image.fromarray(rgb).save(path)
    restorer = Restorer(tiny_colorizer(), get_color_space("lab"), render_size=64)
    photo = read_photo(path, restorer, lambda w, h: (w // 5, h // 5))
    assert torch.equal(photo.gray, torch.from_numpy(read_luminance(path)))
    assert photo.before.shape == (6, 10, 3) and photo.before.dtype == np.uint8
    capped = Restorer(tiny_colorizer(), get_color_space("lab"), render_size=64, max_side=40)
    with pytest.raises(ValueError, match="max_side=40"):
        read_photo(path, capped, lambda w, h: (w, h))
