"""Data-parallel training, simulated by ``trainer=ddp_sim``: two CPU processes over gloo."""

from __future__ import annotations

import json
import math

import pytest
import torch
from hydra.utils import instantiate
from lightning.pytorch.strategies import DDPStrategy

from revive.training.run import train
from tests.tiny_runs import (
    QUICK,
    TINY_DNCNN,
    as_sweep_job,
    gray_folder,
    image_folder,
    only_child,
    pix2pix_args,
    run_train,
)


def check_replicas(run) -> dict:
    """Both ranks ended with bit-identical parameters, and only rank 0 wrote the run's files."""
    report = json.loads((run / "replicas.json").read_text())
    assert report["world_size"] == 2 and len(report["ranks"]) == 2
    assert report["ranks"][0]["parameters"] == report["ranks"][1]["parameters"]
    assert report["parameters_equal"] is True
    # rank 1 logs into Hydra's train_ddp_process_1.log; it never wrote the run record
    assert "run record written" in (run / "train.log").read_text()
    assert "run record written" not in (run / "train_ddp_process_1.log").read_text()
    return report


@pytest.mark.slow
def test_pix2pix_ddp_sim_keeps_replicas_identical(tmp_path):
    root = image_folder(tmp_path / "imgs", n_train=4, n_val=2)
    run_train(["trainer=ddp_sim", "name=ddp", *pix2pix_args(root)], cwd=tmp_path)
    run = only_child(tmp_path / "outputs" / "train" / "runs" / "ddp")
    check_replicas(run)
    ckpt = torch.load(run / "checkpoints" / "last.ckpt", weights_only=False)
    # 4 images over 2 ranks: 2 batches each, one D and one G step per batch
    assert ckpt["global_step"] == 2 * 2
    assert math.isfinite(json.loads((run / "metrics.json").read_text())["val/psnr"])
    assert len(list((run / "panels").glob("epoch_*.png"))) == 1


@pytest.mark.slow
def test_dncnn_ddp_sim_keeps_replicas_identical(tmp_path):
    clean = gray_folder(tmp_path / "clean", n=4, size=32)
    val = gray_folder(tmp_path / "val", n=2, size=32, seed=7)
    args = [
        "trainer=ddp_sim",
        "name=ddp_dncnn",
        "model=dncnn",
        "data=denoise",
        f"data.root={clean}",
        f"data.val_dir={val}",
        *TINY_DNCNN,
        *QUICK,
        "model.n_epochs=1",
    ]
    run_train(args, cwd=tmp_path)
    run = only_child(tmp_path / "outputs" / "train" / "runs" / "ddp_dncnn")
    check_replicas(run)
    ckpt = torch.load(run / "checkpoints" / "last.ckpt", weights_only=False)
    # 4 images x 4 patches of 16 px = 16 patches, batches of 4 over 2 ranks: 2 steps each
    assert ckpt["global_step"] == 2


def test_ddp_inside_a_local_sweep_is_refused_with_the_way_out(make_cfg, tmp_path):
    root = image_folder(tmp_path / "imgs", n_train=2, n_val=1)
    cfg = make_cfg("train", [*pix2pix_args(root), "trainer=ddp_sim"], fast=False)
    as_sweep_job()
    metrics = train(cfg)
    assert math.isnan(metrics["val/psnr"])
    assert "submitit_slurm" in (tmp_path / "run" / "failure.txt").read_text()


def test_ddp_options_reach_lightning(make_cfg):
    cfg = make_cfg(
        "train", ["trainer=ddp", "trainer.num_nodes=2", "trainer.sync_batchnorm=true"], fast=False
    )
    assert cfg.trainer.strategy.find_unused_parameters is True
    cfg.trainer.accelerator = "cpu"  # no GPU here: the options are what is checked
    cfg.trainer.devices = 2
    trainer = instantiate(cfg.trainer, callbacks=[], logger=False)
    assert isinstance(trainer.strategy, DDPStrategy)
    assert trainer.num_nodes == 2 and trainer.num_devices == 2
    assert trainer.strategy._ddp_kwargs["find_unused_parameters"] is True
    assert trainer.strategy._layer_sync is not None  # BatchNorm -> SyncBatchNorm at setup
