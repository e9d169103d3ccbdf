"""One run through train.py: its folder named from the command line, its record, and relaunching it."""

from __future__ import annotations

import json
import math

import pytest
import torch

from revive.errors import UserError
from revive.training.record import flat_config
from revive.training.run import train
from revive.training.run_dir import MAX_SIGNATURE, run_signature
from tests.tiny_runs import as_sweep_job, image_folder, only_child, pix2pix_args, run_train


def test_signature_is_the_overrides_or_base():
    assert run_signature("") == "base"
    assert run_signature(None) == "base"
    assert run_signature("color_space=rgb,model.lambda_l1=10") == (
        "color_space=rgb,model.lambda_l1=10"
    )
    # the experiment already names the parent folder
    assert run_signature("experiment=art_lab,seed=3", "art_lab") == "seed=3"
    assert run_signature("experiment=art_lab", "art_lab") == "base"
    assert run_signature("experiment=art_rgb", "art_lab") == "experiment=art_rgb"


def test_signature_of_paths_and_long_lines_stays_one_distinct_folder_name():
    a = run_signature("data.root=/data/a b")
    b = run_signature("data.root=/data/a_b")
    assert "/" not in a and " " not in a
    assert a != b  # sanitising must not merge two runs
    long = ",".join(f"model.p{i}=0.00012345" for i in range(20))
    assert len(run_signature(long)) == MAX_SIGNATURE
    assert run_signature(long) != run_signature(long.replace("0.00012345", "0.00012346"))


def test_flat_config_and_run_record_leave_hydra_out(make_cfg, tmp_path):
    cfg = make_cfg("train", ["model.lambda_l1=10"])
    flat = flat_config(cfg)
    assert flat["model.lambda_l1"] == 10
    assert flat["color_space.name"] == "lab"
    assert flat["trainer.max_epochs"] == 200  # resolved
    assert not any(key.startswith("hydra") for key in flat)


def test_auto_resume_off_refuses_to_overwrite_a_run(make_cfg, tmp_path):
    cfg = make_cfg("train", ["auto_resume=false"])
    ckpts = tmp_path / "run" / "checkpoints"
    ckpts.mkdir(parents=True)
    torch.save({"epoch": 1}, ckpts / "last.ckpt")
    with pytest.raises(UserError, match="name="):
        train(cfg)
    assert torch.load(ckpts / "last.ckpt")["epoch"] == 1


def test_missing_ckpt_path_is_named(make_cfg, tmp_path):
    cfg = make_cfg("train", [f"ckpt_path={tmp_path / 'nope.ckpt'}"])
    with pytest.raises(UserError, match="nope.ckpt"):
        train(cfg)


def test_failed_run_in_a_sweep_reports_nan_and_leaves_its_traceback(make_cfg, tmp_path):
    cfg = make_cfg("train", ["data=folder", f"data.root={tmp_path / 'missing'}"])
    as_sweep_job()
    metrics = train(cfg)
    assert list(metrics) == ["val/psnr"] and math.isnan(metrics["val/psnr"])
    failure = (tmp_path / "run" / "failure.txt").read_text()
    assert "UserError" in failure and "missing" in failure

    # the same failure outside a sweep raises as usual
    single = make_cfg("train", ["data=folder", f"data.root={tmp_path / 'missing'}"])
    with pytest.raises(UserError):
        train(single)


def test_bf16_mixed_precision_trains(make_cfg, tmp_path):
    root = image_folder(tmp_path / "imgs", n_train=2, n_val=1)
    cfg = make_cfg(
        "train",
        [*pix2pix_args(root), "trainer.precision=bf16-mixed", "+trainer.fast_dev_run=true"],
    )
    metrics = train(cfg)
    assert math.isfinite(metrics["val/psnr"]) and metrics["val/psnr"] > 5


@pytest.mark.slow
def test_run_folder_named_from_the_command_and_relaunch_does_not_duplicate(tmp_path):
    root = image_folder(tmp_path / "imgs", n_train=2, n_val=1)
    args = ["name=pipe", *pix2pix_args(root), "model.lambda_l1=10"]
    run_train(args, cwd=tmp_path)
    run = only_child(tmp_path / "outputs" / "train" / "runs" / "pipe")
    # named from what changed, without the keys that do not change the result (workers, device)
    kept = sorted(
        a
        for a in args
        if not a.startswith(("name=", "data.num_workers", "data.pers", "trainer.acc"))
    )
    assert run.name == run_signature(",".join(kept))
    assert len(kept) == len(args) - 4
    for name in ("config_resolved.yaml", "command.txt", "metrics.json", "checkpoints/last.ckpt"):
        assert (run / name).is_file(), name
    command = (run / "command.txt").read_text()
    assert command.startswith("python train.py name=pipe ") and "model.lambda_l1=10" in command
    first = json.loads((run / "metrics.json").read_text())
    step = torch.load(run / "checkpoints" / "last.ckpt", weights_only=False)["global_step"]
    assert step == 2 * 2  # 2 images, one D step and one G step each

    # the same command again: same folder, the finished run is not trained again
    proc = run_train(args, cwd=tmp_path)
    assert only_child(tmp_path / "outputs" / "train" / "runs" / "pipe") == run
    output = proc.stdout + proc.stderr
    assert "auto-resume: continuing from" in output and "had already finished" in output
    assert torch.load(run / "checkpoints" / "last.ckpt", weights_only=False)["global_step"] == step
    assert json.loads((run / "metrics.json").read_text()) == first
