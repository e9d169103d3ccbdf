"""Reading any image as luminance, previews, finding inputs, and the decompression-bomb limit."""

from __future__ import annotations

import os

import kornia.color as kc
import numpy as np
import pytest
import torch
from PIL import Image

from revive.color import linear_to_srgb, luminance, srgb_to_linear
from revive.data.fakes import EXIF_ORIENTATION, fake_photos
from revive.io import (
    ImageReadError,
    atomic_path,
    image_luminance,
    list_images,
    open_image,
    pixel_limit,
    preview_rgb,
    read_luminance,
    save_image,
    to_rgb,
    walk_images,
)

GRAY = np.arange(0, 256, 5, dtype=np.uint8).reshape(4, 13)  # 52 levels, black to white


def as_mode(gray: np.ndarray, mode: str) -> Image.Image:
    """The gray picture ``gray`` (uint8) stored in PIL ``mode`` without changing its gray levels."""
    if mode == "I;16":
        return Image.fromarray(gray.astype(np.uint16) * 257)  # 8-bit level v == 16-bit v*257
    if mode == "I":
        return Image.fromarray(gray.astype(np.int32) * 257, mode="I")
    if mode == "F":
        return Image.fromarray(gray.astype(np.float32) / 255, mode="F")
    return Image.fromarray(gray).convert(mode)


def test_srgb_transfer_round_trips():
    x = np.linspace(0, 1, 1001, dtype=np.float32)
    assert np.abs(linear_to_srgb(srgb_to_linear(x)) - x).max() < 1e-6
    assert srgb_to_linear(np.float32(0.5)) == pytest.approx(0.21404, abs=1e-5)


def test_luminance_of_gray_is_the_gray_level():
    rgb = np.repeat(GRAY[..., None], 3, axis=2)
    assert np.abs(luminance(rgb) - GRAY / 255).max() < 1e-6


def test_luminance_is_the_gray_of_equal_lab_lightness():
    """What a LAB colorizer was trained on: L* of the gray equals L* of the color pixel."""
    rgb = fake_photos(1, 40, 60, seed=4)[0]
    gray = torch.from_numpy(luminance(rgb, rows_per_chunk=7))  # chunks must not change anything
    lab_color = kc.rgb_to_lab(torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 255)
    lab_gray = kc.rgb_to_lab(gray[None, None].expand(1, 3, -1, -1))
    assert (lab_color[0, 0] - lab_gray[0, 0]).abs().max() < 1e-3
    # and the gray is neutral (up to kornia's white point, rounded to 5 digits)
    assert lab_gray[0, 1:].abs().max() < 1e-2


def test_luminance_rejects_non_rgb():
    with pytest.raises(ValueError, match="uint8 RGB"):
        luminance(np.zeros((4, 4), np.uint8))


@pytest.mark.parametrize("mode", ["L", "LA", "RGB", "RGBA", "P", "CMYK", "I;16", "I", "F"])
def test_every_mode_gives_the_same_luminance(mode):
    img = as_mode(GRAY, mode)
    assert img.mode == mode
    gray = image_luminance(img)
    assert gray.dtype == np.float32 and gray.shape == GRAY.shape
    assert np.abs(gray - GRAY / 255).max() < 1e-5


def test_sixteen_bit_keeps_its_precision():
    levels = np.array([[1000, 1001, 1002, 65535]], np.uint16)  # one 8-bit step is 257 levels
    gray = image_luminance(Image.fromarray(levels))
    assert np.allclose(gray, levels / 65535, atol=1e-7)
    assert len(np.unique(gray)) == 4


def test_sixteen_bit_tiff_and_png_are_read_at_16_bits(tmp_path):
    levels = (np.arange(64, dtype=np.uint16).reshape(8, 8) * 1000 + 7).astype(np.uint16)
    for name in ("scan.tif", "scan.png"):
        Image.fromarray(levels).save(tmp_path / name)
        assert np.allclose(read_luminance(tmp_path / name), levels / 65535, atol=1e-7)


def test_transparency_is_composited_onto_white():
    rgba = np.zeros((2, 3, 4), np.uint8)  # black, fully transparent
    rgba[0, 0] = (0, 0, 0, 255)  # one opaque black pixel
    gray = image_luminance(Image.fromarray(rgba, mode="RGBA"))
    assert gray[0, 0] == pytest.approx(0.0, abs=1e-6)
    assert np.allclose(gray.ravel()[1:], 1.0, atol=1e-6)


def test_sepia_print_becomes_its_gray():
    gray = GRAY.astype(np.float32)
    sepia = np.clip(gray[..., None] * np.array([1.0, 0.85, 0.62]), 0, 255).astype(np.uint8)
    luma = image_luminance(Image.fromarray(sepia))
    expected = luminance(sepia)
    assert np.array_equal(luma, expected)
    assert np.all(np.diff(luma.ravel()) >= 0)  # the tones keep their order


def test_exif_orientation_is_honoured(tmp_path):
    photo = fake_photos(1, 30, 40, seed=5)[0]  # 40 wide, 30 high as stored
    exif = Image.Exif()
    exif[EXIF_ORIENTATION] = 6  # displayed rotated 90 degrees clockwise
    Image.fromarray(photo).save(tmp_path / "side.jpg", exif=exif, quality=95)
    gray = read_luminance(tmp_path / "side.jpg")
    assert gray.shape == (40, 30)
    upright = luminance(np.rot90(photo, k=-1).copy())
    assert np.abs(gray - upright).mean() < 3 / 255  # JPEG loss only


@pytest.mark.parametrize("mode", ["L", "LA", "RGB", "RGBA", "P", "CMYK", "I;16", "F"])
def test_preview_has_the_size_asked_and_the_original_colors(mode):
    photo = fake_photos(1, 60, 90, seed=6)[0]
    gray = np.asarray(Image.fromarray(photo).convert("L"))
    high_bit = mode in ("I;16", "F")
    img = as_mode(gray, mode) if high_bit else Image.fromarray(photo).convert(mode)
    full = np.repeat(gray[..., None], 3, axis=2) if high_bit else to_rgb(img)
    small = preview_rgb(img, (30, 20))
    assert small.shape == (20, 30, 3) and small.dtype == np.uint8
    assert np.abs(small.mean((0, 1)) - full.mean((0, 1))).max() < 3  # same colors, e.g. sepia


def test_walk_images_recurses_and_skips_hidden_and_excluded(tmp_path):
    for rel in ("a.jpg", "sub/b.PNG", "sub/deeper/c.tif", ".hidden/d.png", "._e.jpg", "x.txt"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"")
    (tmp_path / "out" / "sub").mkdir(parents=True)
    (tmp_path / "out" / "sub" / "a_revived.png").write_bytes(b"")
    (tmp_path / "gone.jpg").symlink_to(tmp_path / "missing.jpg")  # broken: must be reported
    found, errors = walk_images(tmp_path, exclude=tmp_path / "out")
    names = [p.relative_to(tmp_path).as_posix() for p in found]
    assert names == ["a.jpg", "gone.jpg", "sub/b.PNG", "sub/deeper/c.tif"]
    assert errors == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read every folder")
def test_walk_images_reports_unreadable_folders(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    (locked / "a.jpg").write_bytes(b"")
    locked.chmod(0)
    try:
        _, errors = walk_images(tmp_path)
    finally:
        locked.chmod(0o755)
    assert [path for path, _ in errors] == [locked]


def test_pixel_limit_turns_big_images_into_read_errors(tmp_path):
    Image.new("L", (100, 100)).save(tmp_path / "big.png")
    before = Image.MAX_IMAGE_PIXELS
    with pixel_limit(5000), pytest.raises(ImageReadError, match="decompression-bomb limit"):
        open_image(tmp_path / "big.png")
    assert before == Image.MAX_IMAGE_PIXELS
    with pixel_limit(20000):
        assert open_image(tmp_path / "big.png").size == (100, 100)
    with pytest.raises(ValueError, match="positive"), pixel_limit(0):
        pass


def test_atomic_writes_get_ordinary_permissions(tmp_path):
    """The umask of the process applies (not mkstemp's private 0600), and revive never sets it."""
    old = os.umask(0o027)
    try:
        path = save_image(np.zeros((2, 2), np.uint8), tmp_path / "a.png")
        assert os.umask(0o027) == 0o027  # saving left the umask alone
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["a.png"]


def test_atomic_writes_keep_ordinary_permissions_when_the_writer_makes_the_file_private(tmp_path):
    """safetensors' save_file recreates its file 0600; the final file is still 0666 - umask."""
    from safetensors.torch import save_file

    old = os.umask(0o022)
    try:
        with atomic_path(tmp_path / "w.safetensors") as tmp:
            save_file({"w": torch.zeros(2)}, str(tmp))
    finally:
        os.umask(old)
    assert (tmp_path / "w.safetensors").stat().st_mode & 0o777 == 0o644


def test_training_eval_and_predict_list_the_same_photos(tmp_path):
    """eval's and training's folder listing skip hidden entries as predict's walk does."""
    for rel in ("a.jpg", "sub/b.PNG", ".hidden/d.png", "._e.jpg", "sub/._f.jpg", "x.txt"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"")
    walked, _ = walk_images(tmp_path)
    assert list_images(tmp_path) == walked
    assert [p.name for p in list_images(tmp_path)] == ["a.jpg", "b.PNG"]
    assert [p.name for p in list_images(tmp_path, recursive=False)] == ["a.jpg"]


def test_links_are_listed_as_predict_walks_them(tmp_path):
    """A hard link is one photo, a link to a folder is not entered, and a broken link is left
    out of the listing (predict reports it instead)."""
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.jpg").write_bytes(b"")
    os.link(tmp_path / "a.jpg", tmp_path / "sub" / "a_again.jpg")
    (tmp_path / "loop").symlink_to(tmp_path, target_is_directory=True)
    (tmp_path / "gone.jpg").symlink_to(tmp_path / "missing.jpg")
    walked, _ = walk_images(tmp_path)
    assert [p.name for p in walked] == ["a.jpg", "gone.jpg"]
    assert [p.name for p in list_images(tmp_path)] == ["a.jpg"]
