"""The colorizer that ships with revive: the file, its metadata, its use by default, and a golden
test on photos it never saw (a change that breaks the model or the pipeline fails here)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from revive.data.holdout import make_split
from revive.evaluation.colorizers import evaluate_colorizer
from revive.restore import RestoreOptions, load_restorer
from revive.weights.colorizer import EXPORT_FORMAT, load_colorizer
from revive.weights.shipped import (
    SHIPPED_COLORIZER,
    SHIPPED_SHA256,
    export_metadata,
    recorded_render_size,
    sha256_of,
    shipped_colorizer,
)
from tests.conftest import require_shared

MAX_BYTES = 25_000_000


def test_the_shipped_file_is_the_one_the_model_card_describes():
    path = shipped_colorizer()
    assert path.stat().st_size <= MAX_BYTES
    assert sha256_of(path) == SHIPPED_SHA256
    meta = export_metadata(path)
    assert meta["format"] == EXPORT_FORMAT and meta["color_space"] == "lab"
    assert recorded_render_size(path) == 128
    assert json.loads(meta["generator"])["_target_"].startswith("revive.nets.")
    assert "non-commercial" in meta["license"]


def test_it_loads_through_the_safe_loader_and_colorizes():
    net, space = load_colorizer(SHIPPED_COLORIZER)
    assert space.name == "lab"
    assert all(p.dtype == torch.float32 for p in net.parameters())  # fp16 on disk, fp32 here
    x = torch.linspace(-1, 1, 128 * 128).view(1, 1, 128, 128)
    with torch.no_grad():
        out = net(x)
    assert out.shape == (1, 2, 128, 128) and torch.isfinite(out).all()
    assert out.abs().max() <= 1 and out.abs().max() > 0.01  # colors, not gray


def test_predict_eval_and_the_page_use_it_unless_told_otherwise(tmp_path: Path):
    shipped = load_restorer()
    assert shipped.render_size == 128  # the scale it was trained at
    assert (
        load_restorer(RestoreOptions(render_size=200)).render_size == 200
    )  # an explicit size wins
    from tests.test_colorizer_recipe import tiny_pix2pix

    model = tiny_pix2pix()
    ckpt = tmp_path / "own.ckpt"
    torch.save({"state_dict": model.state_dict(), "hyper_parameters": dict(model.hparams)}, ckpt)
    own = load_restorer(RestoreOptions(colorizer=ckpt))
    assert own.render_size == 256  # a checkpoint records no size: the old default
    assert sum(p.numel() for p in own.colorizer.parameters()) < sum(
        p.numel() for p in shipped.colorizer.parameters()
    )


def golden_photos(tmp_path: Path) -> Path:
    """20 photos of the test split: the first 7 faces, the first scene of 7 ... (sorted names)."""
    root = require_shared("colorize")
    split = tmp_path / "split"
    make_split(root, split)
    picks = sorted((split / "faces/test").iterdir())[:7]
    classes = sorted((split / "scenes/test").iterdir())
    picks += [sorted(c.iterdir())[i] for i in range(2) for c in classes][:7]
    picks += sorted((split / "varied/test").iterdir())[:6]
    folder = tmp_path / "golden"
    folder.mkdir()
    for i, path in enumerate(picks):
        (folder / f"{i:02d}_{path.name}").symlink_to(path.resolve())
    return folder


@pytest.mark.slow
def test_golden_it_beats_both_floors_on_photos_it_never_saw(tmp_path: Path):
    table, _ = evaluate_colorizer(load_restorer(), golden_photos(tmp_path), progress=False)
    assert len(table) == 20 and table["truth"].all()
    means = table.mean(numeric_only=True)
    assert means["psnr"] > means["gray_psnr"], means[["psnr", "gray_psnr"]]
    assert means["psnr"] > means["wash_psnr"], means[["psnr", "wash_psnr"]]
    ratio = means["colorfulness"] / means["truth_colorfulness"]
    assert ratio >= 0.4, f"colorfulness {ratio:.2f} x the truth's"
    assert np.isfinite(table["deltae2000"]).all()


def test_predict_py_without_colorizer_revives_with_it(tmp_path: Path):
    import subprocess
    import sys

    from revive.io import save_image
    from tests.conftest import REPO

    save_image(np.full((40, 56), 120, np.uint8), tmp_path / "in" / "scan.png")
    proc = subprocess.run(
        [
            sys.executable,
            "predict.py",
            f"input={tmp_path / 'in'}",
            f"output={tmp_path / 'out'}",
            f"hydra.run.dir={tmp_path / 'log'}",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (tmp_path / "out" / "scan_revived.png").is_file()
    assert "render 128 px" in proc.stdout + proc.stderr  # the shipped file's own size
