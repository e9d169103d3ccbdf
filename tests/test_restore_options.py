"""The restore options are written once (conf/restore/default.yaml = RestoreOptions) and reach
predict.py, the web page and eval.py unchanged; a wrong name is an error that names it."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest
import yaml

from revive.errors import UserError
from revive.restore import RestoreOptions
from tests.conftest import REPO

# A value for every option that differs from its default, so a dropped key cannot go unseen.
GIVEN = {
    "colorizer": "c.ckpt",
    "denoiser": "d.pth",
    "upscaler": "sr.pth",
    "backend": "onnx",
    "device": "cpu",
    "render_size": 96,
    "tile_size": 64,
    "precision": "bf16",
    "upscale_tile_size": 48,
    "upscale_overlap": 4,
    "upscale_max_pixels": 1000,
    "max_side": 300,
    "max_pixels": 90000,
}
COMMANDS = {  # each command's own required keys
    "predict": ["input=in", "output=out"],
    "app": [],
}


def test_the_config_file_and_the_class_have_the_same_options():
    written = yaml.safe_load((REPO / "conf" / "restore" / "default.yaml").read_text())
    assert list(written) == RestoreOptions.keys()
    defaults = RestoreOptions()
    assert {f.name: getattr(defaults, f.name) for f in fields(RestoreOptions)} == written
    assert set(GIVEN) == set(RestoreOptions.keys())


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_option_reaches_the_command_unchanged(command, make_cfg):
    overrides = COMMANDS[command] + [f"{k}={v}" for k, v in GIVEN.items()]
    assert RestoreOptions.from_config(make_cfg(command, overrides)) == RestoreOptions(**GIVEN)


def test_eval_reads_the_same_options_with_weights_as_the_colorizer(make_cfg):
    given = {k: v for k, v in GIVEN.items() if k != "colorizer"}
    cfg = make_cfg(
        "eval", ["model=pix2pix", "weights=w.safetensors"] + [f"{k}={v}" for k, v in given.items()]
    )
    assert RestoreOptions.from_config(cfg) == RestoreOptions(colorizer="w.safetensors", **given)


def test_a_misspelled_option_is_an_error_that_names_it(make_cfg):
    with pytest.raises(UserError, match="colorizr=c.ckpt: no such key; did you mean colorizer="):
        make_cfg("predict", ["input=in", "output=out", "colorizr=c.ckpt"])
    with pytest.raises(TypeError, match="colorizr"):
        RestoreOptions(colorizr="c.ckpt")
    with pytest.raises(UserError, match="missing from the config: render_size"):
        RestoreOptions.from_config({k: v for k, v in GIVEN.items() if k != "render_size"})


def test_eval_refuses_a_colorizer_given_by_its_predict_name(make_cfg, tmp_path: Path):
    from revive.evaluation.protocol import evaluate

    cfg = make_cfg(
        "eval", ["model=pix2pix", f"data.test_dir={tmp_path}", f"colorizer={tmp_path / 'c.ckpt'}"]
    )
    with pytest.raises(UserError, match="set weights=, not colorizer="):
        evaluate(cfg)
