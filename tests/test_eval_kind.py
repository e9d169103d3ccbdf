"""eval.py reads what to score from the weights file (#22): a denoiser or a colorizer, with
``model=`` optional and checked against the file."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from revive.errors import UserError
from revive.evaluation.protocol import evaluate
from revive.nets.dncnn import DnCNN
from revive.weights.kind import weights_kind
from tests.test_dncnn_eval import write_images
from tests.test_restore import tiny_colorizer


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    torch.save(DnCNN(depth=3, features=8, bn=False).state_dict(), tmp_path / "dncnn.pth")
    torch.save(tiny_colorizer().state_dict(), tmp_path / "latest_net_G.pth")
    (tmp_path / "notes.pth").write_bytes(b"not weights")
    return {
        "denoiser": tmp_path / "dncnn.pth",
        "colorizer": tmp_path / "latest_net_G.pth",
        "junk": tmp_path / "notes.pth",
        "gray": write_images(tmp_path / "gray", 1, (16, 16)),
        "color": write_images(tmp_path / "color", 1, (40, 48), "RGB"),
    }


def test_the_kind_comes_from_the_file(files):
    assert weights_kind(files["denoiser"]) == "denoiser"
    assert weights_kind(files["colorizer"]) == "colorizer"
    with pytest.raises(UserError, match="neither a colorizer .* nor a denoiser"):
        weights_kind(files["junk"])


def test_eval_scores_each_kind_without_model(files, make_cfg):
    denoised = evaluate(
        make_cfg("eval", [f"weights={files['denoiser']}", f"data.test_dir={files['gray']}"])
    )
    assert "test/input_psnr" in denoised and "gray/psnr" not in denoised  # the denoising table
    colorized = evaluate(
        make_cfg(
            "eval",
            [f"weights={files['colorizer']}", f"data.test_dir={files['color']}", "render_size=64"],
        )
    )
    assert "gray/psnr" in colorized and "wash/psnr" in colorized  # beside the floors


def test_a_model_that_disagrees_with_the_file_is_refused(files, make_cfg):
    cfg = make_cfg(
        "eval",
        ["model=pix2pix", f"weights={files['denoiser']}", f"data.test_dir={files['gray']}"],
    )
    with pytest.raises(UserError, match="model= names a colorizer, but weights=.* a denoiser"):
        evaluate(cfg)
    agreeing = make_cfg(
        "eval", ["model=dncnn", f"weights={files['denoiser']}", f"data.test_dir={files['gray']}"]
    )
    assert "test/psnr" in evaluate(agreeing)
