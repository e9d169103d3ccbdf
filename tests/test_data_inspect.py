"""``revive-inspect`` (``python -m revive.data.inspect``): split counts and a contact sheet PNG."""

import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from revive.batch import ColorBatch, DenoiseBatch
from revive.color import get_color_space, luma_uint8, luminance_uint8
from revive.config import compose
from revive.data.fakes import make_art, make_celeba, make_colorization, make_family
from revive.data.inspect import contact_sheet, denoise_sheet, inspect, main
from revive.errors import UserError

TINY = ["data.load_size=40", "data.crop_size=32"]


def sheet_of(*overrides: str):
    """The inspector on ``conf/inspect.yaml`` composed with ``overrides``: the sheet's path."""
    return inspect(compose("inspect", overrides))


def sheet_shape(n: int, columns: int, cell: int, pad: int = 4) -> tuple[int, int]:
    """(height, width) of a sheet with ``n`` samples: a color row and a gray row per line."""
    rows = 2 * -(-n // columns)
    cols = min(n, columns)
    return rows * cell + (rows + 1) * pad, cols * cell + (cols + 1) * pad


def test_prints_counts_and_writes_the_sheet(tmp_path, capsys):
    root = make_celeba(tmp_path / "celeba", n=12)
    out = tmp_path / "sheet.png"
    written = sheet_of(
        "data=celeba", f"data.root={root}", *TINY, "samples=6", "columns=4", f"out={out}"
    )
    assert written == out
    printed = capsys.readouterr().out
    assert (
        "data=celeba" in printed and "train         8" in printed and "test          2" in printed
    )
    sheet = np.asarray(Image.open(out))
    assert sheet.shape == (*sheet_shape(6, 4, 32), 3)
    first_color, first_gray = sheet[4:36, 4:36], sheet[40:72, 4:36]
    assert first_color.std(axis=2).mean() > 5  # a color sample ...
    assert np.abs(first_gray[..., 0].astype(int) - first_gray[..., 2]).max() <= 1  # ... gray below


def test_lab_data_family_scans_and_mixes_are_shown(tmp_path, capsys):
    col = make_colorization(tmp_path / "col", n=10, size=32)
    sheet_of("data=colorization", f"data.root={col}", *TINY, f"out={tmp_path / 'c.png'}")
    assert Image.open(tmp_path / "c.png").size[0] > 32
    family = make_family(tmp_path / "fam")
    sheet_of("data=family", f"data.root={family}", *TINY, f"out={tmp_path / 'f.png'}")
    assert "val" in capsys.readouterr().out  # family has no train split: the sheet shows val
    art = make_art(tmp_path / "art")
    sheet_of(
        "data=mix",
        "data.sources=[colorization,art]",
        "data.weights=[0.5,0.5]",
        f"data.roots.colorization={col}",
        f"data.roots.art={art}",
        *TINY,
        f"out={tmp_path / 'm.png'}",
    )
    printed = capsys.readouterr().out
    assert "colorization: train 8  val 1  test 1" in printed and "art: train 6  val 2" in printed


def test_never_overwrites_a_file(tmp_path, monkeypatch):
    root = make_celeba(tmp_path / "celeba", n=6)
    monkeypatch.chdir(tmp_path)
    first = sheet_of("data=celeba", f"data.root={root}", *TINY, "samples=2")
    second = sheet_of("data=celeba", f"data.root={root}", *TINY, "samples=2")
    assert first.name == "celeba_train.png" and second.name == "celeba_train_1.png"
    assert first.is_file() and second.is_file()
    with pytest.raises(UserError, match="exists; pass overwrite=true"):
        sheet_of("data=celeba", f"data.root={root}", *TINY, f"out={first}")
    with pytest.raises(UserError, match="has no 'test' split"):
        sheet_of("data=art", f"data.root={make_art(tmp_path / 'a')}", *TINY, "split=test")


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["--samples", "2"], "--samples is now samples=N"),
        (["--out=x.png"], "--out is now out=PATH.png"),
        (["out=sheet.jpg"], "out=sheet.jpg: the contact sheet is a PNG"),
        (["sample=2"], "sample=2: no such key; did you mean samples=2?"),
    ],
)
def test_old_flags_and_mistakes_are_one_line(tmp_path, monkeypatch, command, args, line):
    monkeypatch.chdir(tmp_path)
    assert line in command.error(main, "revive-inspect", *args)
    assert not list(tmp_path.iterdir())  # no sheet, no Hydra folder


@pytest.mark.slow
def test_the_command_runs_as_documented(tmp_path):
    root = make_celeba(tmp_path / "celeba", n=6)
    out = tmp_path / "cli.png"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "revive.data.inspect",
            "data=celeba",
            f"data.root={root}",
            *TINY,
            f"out={out}",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert f"wrote {out}" in result.stdout and out.is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["celeba", "cli.png"]  # no outputs/


def test_the_gray_row_is_what_each_color_space_feeds_the_network():
    """Pure blue: a LAB colorizer sees the gray of its L* (the gray of equal CIE Y, 76), an RGB
    colorizer its 601 luma (29)."""
    blue = np.zeros((8, 8, 3), np.uint8)
    blue[..., 2] = 255
    sample = ColorBatch(rgb=torch.from_numpy(blue).permute(2, 0, 1).contiguous())
    expected = {"lab": luminance_uint8(blue)[0, 0], "rgb": luma_uint8(blue)[0, 0]}
    assert (expected["lab"], expected["rgb"]) == (76, 29)
    for name, level in expected.items():
        sheet = contact_sheet([sample], get_color_space(name), columns=1)
        gray_cell = sheet[4 + 8 + 4 : 4 + 8 + 4 + 8, 4:12].astype(int)
        assert np.abs(gray_cell - int(level)).max() <= 1, name


def gray_folder(root, n: int = 3, size: int = 48):
    """``n`` gray PNGs with some texture, as Train400 and Set12 hold."""
    root.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        ramp = np.linspace(0, 200, size)[None, :] + rng.normal(0, 10, (size, size))
        Image.fromarray(ramp.clip(0, 255).astype(np.uint8)).save(root / f"g{i}.png")
    return root


@pytest.mark.parametrize(
    ("extra", "below", "rows"),
    [
        (["model=dncnn"], "Gaussian noise of sigma 25.0 below them", 2),
        (["model=dncnn_blind"], "Gaussian noise of sigma (0.0, 55.0) below them", 2),
        (["model=dncnn", "data.degrade=old_photo"], "the loader's noisy copies below them", 2),
        ([], "no noise: model=Pix2Pix draws none", 1),
    ],
)
def test_a_denoiser_sees_clean_patches_and_their_noise(tmp_path, capsys, extra, below, rows):
    train = gray_folder(tmp_path / "train")
    val = gray_folder(tmp_path / "val", n=1)
    out = tmp_path / "d.png"
    sheet_of(
        "data=denoise", f"data.root={train}", f"data.val_dir={val}", "data.patch_size=20",
        "data.stride=20", "data.scales=[1.0]", "samples=4", "columns=4", f"out={out}", *extra,
    )  # fmt: skip
    assert below in capsys.readouterr().out
    sheet = np.asarray(Image.open(out)).astype(float)
    assert sheet.shape == (rows * 20 + (rows + 1) * 4, 4 * 20 + 5 * 4, 3)
    if rows == 2:  # the noisy patch is the clean one plus visible noise, and stays gray
        clean, noisy = sheet[4:24, 4:24, 0], sheet[28:48, 4:24, 0]
        assert 2 < np.abs(noisy - clean).mean() < 60
        assert np.abs(sheet[..., 0] - sheet[..., 2]).max() <= 1


def test_the_denoise_sheet_is_reproducible_from_the_seed():
    samples = [DenoiseBatch(clean=torch.full((1, 8, 8), 0.5)) for _ in range(3)]
    first = denoise_sheet(samples, (0.0, 55.0), seed=1)
    assert np.array_equal(first, denoise_sheet(samples, (0.0, 55.0), seed=1))
    assert not np.array_equal(first, denoise_sheet(samples, (0.0, 55.0), seed=2))
    assert not np.array_equal(denoise_sheet(samples, 25.0, seed=1), first)
