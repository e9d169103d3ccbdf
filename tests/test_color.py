"""Color spaces: normalization as in the official colorization mode, and exact round trips."""

import kornia.color as kc
import numpy as np
import pytest
import torch
from PIL import Image

from revive.batch import ColorBatch
from revive.color import (
    LabSpace,
    RgbSpace,
    get_color_space,
    linear_to_srgb,
    linear_to_srgb_pt,
    luma_uint8,
    luminance,
    luminance_uint8,
    srgb_to_linear,
    srgb_to_linear_pt,
)


@pytest.fixture
def rgb_batch():
    torch.manual_seed(0)
    return ColorBatch(rgb=torch.randint(0, 256, (2, 3, 16, 16), dtype=torch.uint8))


@pytest.mark.parametrize("space", [LabSpace(), RgbSpace()])
def test_round_trip_returns_the_image(space, rgb_batch):
    x, y = space.split(rgb_batch)
    assert x.shape[1] == space.in_channels and y.shape[1] == space.out_channels
    assert x.abs().max() <= 1.0 and y.abs().max() <= 1.0
    back = space.to_rgb(x, y)
    assert torch.allclose(back * 255, rgb_batch.rgb.float(), atol=0.05)


def test_lab_normalization_is_official(rgb_batch):
    lab = kc.rgb_to_lab(rgb_batch.rgb.float() / 255)
    x, y = LabSpace().split(rgb_batch)
    assert torch.allclose(x, lab[:, :1] / 50 - 1)
    assert torch.allclose(y, lab[:, 1:] / 110)


def test_lab_batches_pass_through_untouched():
    lab = torch.stack(
        [torch.full((4, 4), 60.0), torch.full((4, 4), 20.0), torch.full((4, 4), -30.0)]
    )
    x, y = LabSpace().split(ColorBatch(lab=lab[None]))
    assert torch.allclose(x, torch.full_like(x, 0.2))
    assert torch.allclose(y[0, 0], torch.full((4, 4), 20 / 110))


def test_rgb_input_is_the_luma(rgb_batch):
    x, _ = RgbSpace().split(rgb_batch)
    r, g, b = rgb_batch.rgb.float().unbind(1)
    expected = (0.299 * r + 0.587 * g + 0.114 * b) / 255 * 2 - 1
    assert torch.allclose(x[:, 0], expected, atol=1e-5)


def test_gray_input_matches_training_input_of_a_gray_photo():
    gray = torch.randint(0, 256, (1, 1, 8, 8), dtype=torch.uint8)
    for space in (LabSpace(), RgbSpace()):
        x_train, _ = space.split(ColorBatch(rgb=gray.expand(-1, 3, -1, -1)))
        assert torch.allclose(space.input_from_gray(gray.float() / 255), x_train, atol=1e-4)


def test_unknown_space_is_named():
    with pytest.raises(ValueError, match="hsv"):
        get_color_space("hsv")


def test_luma_uint8_is_bit_identical_to_pils_convert_l():
    """The datasets' gray (DnCNN patches) used to come from PIL; the formula now lives here."""
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (96, 128, 3), dtype=np.uint8)
    levels = np.arange(256, dtype=np.uint8)
    primaries = np.stack(np.meshgrid(levels, [0, 255], [0, 128, 255], indexing="ij"), -1)
    primaries = primaries.astype(np.uint8)
    for image in (rgb, primaries.reshape(-1, 6, 3)):
        assert np.array_equal(luma_uint8(image), np.asarray(Image.fromarray(image).convert("L")))


def test_luminance_uint8_is_the_luminance_rounded_to_8_bits():
    """The loaders' gray scan: every one of the 16.7 M colors within float error of a
    correct rounding of :func:`luminance`, and every gray level kept exactly."""
    codes = np.arange(256, dtype=np.uint8)
    every_color = np.stack(np.meshgrid(codes, codes, codes, indexing="ij"), -1).reshape(
        4096, 4096, 3
    )
    exact = luminance(every_color) * 255.0
    assert np.abs(luminance_uint8(every_color) - exact).max() <= 0.5 + 1e-4
    grays = np.repeat(codes[:, None, None], 3, axis=2)
    assert np.array_equal(luminance_uint8(grays)[:, 0], codes)
    with pytest.raises(ValueError, match="uint8 RGB"):
        luminance_uint8(every_color[..., :2])


def test_numpy_and_torch_srgb_curves_are_the_same_formula():
    x = np.linspace(0.0, 1.0, 1001, dtype=np.float32)
    linear = srgb_to_linear_pt(torch.from_numpy(x)).numpy()
    assert np.abs(linear - srgb_to_linear(x)).max() <= 1e-6
    back = linear_to_srgb_pt(torch.from_numpy(linear)).numpy()
    assert np.abs(back - linear_to_srgb(linear)).max() <= 1e-6
    assert np.abs(back - x).max() <= 1e-5
