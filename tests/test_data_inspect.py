"""``revive-inspect`` (``python -m revive.data.inspect``): split counts and a contact sheet PNG."""

import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from revive.batch import ColorBatch
from revive.color import get_color_space, luma_uint8, luminance_uint8
from revive.config import compose
from revive.data.fakes import make_art, make_celeba, make_colorization, make_family
from revive.data.inspect import contact_sheet, inspect, main
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
