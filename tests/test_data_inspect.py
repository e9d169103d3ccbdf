"""``python -m revive.data.inspect``: counts per split and a contact sheet PNG."""

import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from revive.batch import ColorBatch
from revive.color import get_color_space, luma_uint8, luminance_uint8
from revive.data.fakes import make_art, make_celeba, make_colorization, make_family
from revive.data.inspect import contact_sheet, main

TINY = ["data.load_size=40", "data.crop_size=32"]


def sheet_shape(n: int, columns: int, cell: int, pad: int = 4) -> tuple[int, int]:
    """(height, width) of a sheet with ``n`` samples: a color row and a gray row per line."""
    rows = 2 * -(-n // columns)
    cols = min(n, columns)
    return rows * cell + (rows + 1) * pad, cols * cell + (cols + 1) * pad


def test_prints_counts_and_writes_the_sheet(tmp_path, capsys):
    root = make_celeba(tmp_path / "celeba", n=12)
    out = tmp_path / "sheet.png"
    written = main(
        [
            "data=celeba",
            f"data.root={root}",
            *TINY,
            "--samples",
            "6",
            "--columns",
            "4",
            "--out",
            str(out),
        ]
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
    main(["data=colorization", f"data.root={col}", *TINY, "--out", str(tmp_path / "c.png")])
    assert Image.open(tmp_path / "c.png").size[0] > 32
    family = make_family(tmp_path / "fam")
    main(["data=family", f"data.root={family}", *TINY, "--out", str(tmp_path / "f.png")])
    assert "val" in capsys.readouterr().out  # family has no train split: the sheet shows val
    art = make_art(tmp_path / "art")
    main(
        [
            "data=mix",
            "data.sources=[colorization,art]",
            "data.weights=[0.5,0.5]",
            f"data.roots.colorization={col}",
            f"data.roots.art={art}",
            *TINY,
            "--out",
            str(tmp_path / "m.png"),
        ]
    )
    printed = capsys.readouterr().out
    assert "colorization: train 8  val 1  test 1" in printed and "art: train 6  val 2" in printed


def test_never_overwrites_a_file(tmp_path, monkeypatch):
    root = make_celeba(tmp_path / "celeba", n=6)
    monkeypatch.chdir(tmp_path)
    first = main(["data=celeba", f"data.root={root}", *TINY, "--samples", "2"])
    second = main(["data=celeba", f"data.root={root}", *TINY, "--samples", "2"])
    assert first.name == "celeba_train.png" and second.name == "celeba_train_1.png"
    assert first.is_file() and second.is_file()
    with pytest.raises(SystemExit, match="exists; pass --overwrite"):
        main(["data=celeba", f"data.root={root}", *TINY, "--out", str(first)])
    with pytest.raises(SystemExit, match="has no 'test' split"):
        main(["data=art", f"data.root={make_art(tmp_path / 'a')}", *TINY, "--split", "test"])


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
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert f"wrote {out}" in result.stdout and out.is_file()


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
