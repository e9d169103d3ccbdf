"""Checkpoints given to train.py are read tensors-only from a local file: no pickled code runs,
no URL is fetched unless allowed, and a damaged last.ckpt says what to resume from instead."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

from revive.errors import UserError
from revive.training.checkpoints import read_checkpoint, resolve_ckpt_path
from revive.training.run import train
from tests.hostile_files import Planted
from tests.tiny_runs import QUICK, TINY_TRAIN, image_folder, only_child, pix2pix_args, run_train


def plant(dest: Path, marker: Path) -> Path:
    dest.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": Planted(marker)}, dest)
    return dest


def test_ckpt_path_starting_with_http_never_loads_torch_hub_cache(make_cfg, tmp_path, monkeypatch):
    """Lightning took ``http_model.ckpt`` for a URL and unpickled the file of that name in
    torch's download cache with weights_only=False."""
    marker = tmp_path / "code_ran"
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    plant(tmp_path / "torch_home" / "hub" / "checkpoints" / "http_model.ckpt", marker)
    monkeypatch.chdir(tmp_path)
    Path("http_model.ckpt").write_bytes(b"not a checkpoint")  # the local file that was checked
    root = image_folder(tmp_path / "imgs", n_train=2, n_val=1, size=72)
    cfg = make_cfg(
        "train",
        [*TINY_TRAIN, *QUICK, "data=folder", f"data.root={root}", "ckpt_path=http_model.ckpt"],
    )
    with pytest.raises(UserError, match="http_model.ckpt"):
        train(cfg)
    assert not marker.exists()


def test_ckpt_path_is_checked_tensors_only_and_made_absolute(make_cfg, tmp_path, monkeypatch):
    marker = tmp_path / "code_ran"
    monkeypatch.chdir(tmp_path)
    torch.save({"epoch": 0, "state_dict": {"w": torch.zeros(2)}}, tmp_path / "http_ok.ckpt")
    cfg = make_cfg("train", ["ckpt_path=http_ok.ckpt"])
    assert resolve_ckpt_path(cfg) == str(tmp_path / "http_ok.ckpt")

    plant(tmp_path / "evil.ckpt", marker)
    with pytest.raises(UserError, match="evil.ckpt.*tensors-only"):
        resolve_ckpt_path(make_cfg("train", ["ckpt_path=evil.ckpt"]))
    assert not marker.exists()


def test_url_is_refused_unless_allowed_and_then_read_tensors_only(make_cfg, tmp_path):
    marker = tmp_path / "code_ran"
    evil = plant(tmp_path / "remote" / "evil.ckpt", marker)
    with pytest.raises(UserError, match="is a URL.*allow_url=true"):
        resolve_ckpt_path(make_cfg("train", [f"ckpt_path={evil.as_uri()}"]))
    with pytest.raises(UserError, match="tensors-only"):
        resolve_ckpt_path(make_cfg("train", [f"ckpt_path={evil.as_uri()}", "allow_url=true"]))
    assert not marker.exists()

    good = tmp_path / "remote" / "good.ckpt"
    torch.save({"epoch": 0}, good)
    cfg = make_cfg("train", [f"ckpt_path={good.as_uri()}", "allow_url=true"])
    local = Path(resolve_ckpt_path(cfg))
    assert local.is_file() and local.is_relative_to(tmp_path / "run")
    assert torch.load(local, weights_only=True) == {"epoch": 0}


def test_lightning_reads_checkpoints_through_the_tensors_only_io(make_cfg, tmp_path):
    """Even a path that skipped resolve_ckpt_path cannot run pickled code in the Trainer."""
    from hydra.utils import instantiate

    marker = tmp_path / "code_ran"
    cfg = make_cfg("train", ["trainer.accelerator=cpu"])
    trainer = instantiate(cfg.trainer)
    with pytest.raises(UserError, match="tensors-only"):
        trainer.strategy.checkpoint_io.load_checkpoint(plant(tmp_path / "x.ckpt", marker))
    assert not marker.exists()


@pytest.mark.slow
def test_truncated_last_ckpt_names_an_earlier_checkpoint_that_resumes(tmp_path):
    root = image_folder(tmp_path / "imgs", n_train=4, n_val=1, size=72)
    args = ["name=cut", *pix2pix_args(root, epochs=1)]
    run_train(args, cwd=tmp_path, OMP_NUM_THREADS="1")
    ckpts = only_child(tmp_path / "outputs" / "train" / "runs" / "cut") / "checkpoints"
    last, (best,) = ckpts / "last.ckpt", list(ckpts.glob("best*.ckpt"))
    last.write_bytes(last.read_bytes()[: last.stat().st_size // 2])

    again = run_train(args, cwd=tmp_path, check=False, OMP_NUM_THREADS="1")
    assert again.returncode == 2, again.stderr[-3000:]
    errors = [line for line in again.stderr.splitlines() if "error" in line.lower()]
    assert len(errors) == 1 and "Traceback" not in again.stderr
    assert "auto-resume" in errors[0] and str(last) in errors[0] and "truncated" in errors[0]
    assert f"'ckpt_path=\"{best}\"'" in errors[0]  # quoted: run folder names hold '='

    longer = ["name=cut", *pix2pix_args(root, epochs=2), f'ckpt_path="{best}"']
    resumed = run_train(longer, cwd=tmp_path, OMP_NUM_THREADS="1")
    assert f"Restoring states from the checkpoint path at {best}" in resumed.stdout + resumed.stderr
    resumed_runs = [p for p in ckpts.parent.parent.iterdir() if p != ckpts.parent]
    (resumed_last,) = [p / "checkpoints" / "last.ckpt" for p in resumed_runs]
    start, end = read_checkpoint(best), read_checkpoint(resumed_last)
    assert (start["epoch"], end["epoch"]) == (0, 1)
    assert end["global_step"] == 2 * start["global_step"]


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("model.lambda_l1=abc", "model.lambda_l1='abc' cannot work: it must be a number >= 0"),
        ("model.optimizer_g.lr=-1", "model.optimizer_g.lr=-1 cannot work: it must be a number > 0"),
        ("model.optimizer_d.lr=nan", "model.optimizer_d.lr=nan"),
        ("data.batch_size=0", "data.batch_size=0 cannot work: it must be a whole number >= 1"),
        ("data.load_size=-1", "data.load_size=-1"),
        ("data.crop_size=true", "data.crop_size=True"),
        ("trainer.max_epochs=-5", "trainer.max_epochs=-5 cannot work"),
        ("model.n_epochs=1.5", "model.n_epochs=1.5 cannot work: it must be a whole number"),
    ],
)
def test_values_that_cannot_work_are_refused_before_anything_is_built(
    make_cfg, override, message, monkeypatch
):
    """Each would fail minutes later deep in torch or Lightning; now one line names the key."""
    from revive.training import run

    def built(*args, **kwargs):
        raise AssertionError("instantiated before the values were checked")

    monkeypatch.setattr(run, "instantiate", built)
    with pytest.raises(UserError, match=re.escape(message)):
        train(make_cfg("train", [override]))


def test_every_shipped_config_passes_the_value_checks(make_cfg):
    from revive.config import config_dir
    from revive.training.values import check_values

    for experiment in sorted(p.stem for p in (config_dir() / "experiment").glob("*.yaml")):
        check_values(make_cfg("train", [f"experiment={experiment}"]))
    for model in ("pix2pix", "pix2pix_wgangp", "cyclegan", "dncnn"):
        check_values(make_cfg("train", [f"model={model}"]))
