"""Sweeps through ``python train.py -m``: joblib, a failing run, Optuna, and the SLURM settings."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import yaml
from PIL import Image

from revive.compare.report import compare
from revive.config import compose
from revive.training.run_dir import register_run_resolvers, run_signature
from tests.tiny_runs import image_folder, pix2pix_args, run_train

EXCLUDED = ("name=", "data.num_workers", "data.persistent_workers", "trainer.accelerator")


def sweep_runs(sweep: Path) -> list[Path]:
    return sorted(p.parent for p in sweep.glob("*/config_resolved.yaml"))


def job_overrides(run: Path) -> list[str]:
    return yaml.safe_load((run / ".hydra" / "overrides.yaml").read_text())


@pytest.mark.slow
def test_joblib_sweep_of_four_runs_then_compare(tmp_path):
    root = image_folder(tmp_path / "imgs", n_train=2, n_val=2)
    args = [
        "-m",
        "hydra/launcher=joblib",
        "hydra.launcher.n_jobs=2",
        "name=grid",
        "color_space=lab,rgb",
        "model.lambda_l1=10,100",
        *(a for a in pix2pix_args(root, epochs=1) if not a.startswith("data.num_workers")),
        "data.num_workers=1",  # DataLoader workers inside joblib's loky workers
        "model.n_epochs_decay=1",
    ]
    run_train(args, cwd=tmp_path, OMP_NUM_THREADS="1")
    sweep = tmp_path / "outputs" / "train" / "multiruns" / "grid"
    runs = sweep_runs(sweep)
    assert len(runs) == 4

    seen = set()
    for run in runs:
        overrides = job_overrides(run)
        kept = sorted(o for o in overrides if not o.startswith(EXCLUDED))
        assert run.name == run_signature(",".join(kept))  # named from its own overrides
        config = yaml.safe_load((run / "config_resolved.yaml").read_text())
        seen.add((config["color_space"]["name"], config["model"]["lambda_l1"]))
        assert config["model"]["color_space"] == config["color_space"]["name"]
        metrics = json.loads((run / "metrics.json").read_text())
        assert math.isfinite(metrics["val/psnr"])
        assert (run / "checkpoints" / "last.ckpt").is_file()
    assert seen == {("lab", 10), ("lab", 100), ("rgb", 10), ("rgb", 100)}

    written = compare(sweep)
    table = (written["csv"]).read_text().splitlines()
    header = table[0].split(",")
    assert header[:2] == ["color_space", "model.lambda_l1"]  # exactly what was swept
    assert len(table) == 1 + 4 and all(line.count(",done,") == 1 for line in table[1:])
    assert "| color_space | model.lambda_l1 |" in written["markdown"].read_text()
    for kind in ("curves", "final", "samples"):
        with Image.open(written[kind]) as picture:
            assert picture.width > 200 and picture.height > 150


@pytest.mark.slow
def test_optuna_search_maximises_the_metric_train_returns(tmp_path):
    root = image_folder(tmp_path / "imgs", n_train=2, n_val=1)
    args = [
        "hparams_search=pix2pix_optuna",
        "hydra.sweeper.n_trials=2",
        "name=search",
        "debug=fast",
        *pix2pix_args(root),
    ]
    run_train(args, cwd=tmp_path)
    sweep = tmp_path / "outputs" / "train" / "multiruns" / "search"
    runs = sweep_runs(sweep)
    assert len(runs) == 2
    results = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    assert set(results["best_params"]) == {
        "model.lambda_l1",
        "model.optimizer_g.lr",
        "model.optimizer_d.lr",
    }
    psnr = {r: json.loads((r / "metrics.json").read_text())["val/psnr"] for r in runs}
    assert results["best_value"] == pytest.approx(max(psnr.values()))
    best_lambdas = [
        yaml.safe_load((r / "config_resolved.yaml").read_text())["model"]["lambda_l1"]
        for r, value in psnr.items()
        if value == max(psnr.values())  # ties are possible after one step
    ]
    assert any(results["best_params"]["model.lambda_l1"] == pytest.approx(x) for x in best_lambdas)
    assert all(1 <= lam <= 300 for lam in best_lambdas)


def test_slurm_example_asks_one_task_per_gpu(tmp_path):
    register_run_resolvers()
    cfg = compose(
        "train", ["local=slurm", "trainer.devices=8", "trainer.num_nodes=2"], hydra_node=True
    )
    launcher = cfg.hydra.launcher
    assert launcher._target_.endswith("SlurmLauncher")
    assert launcher.partition and launcher.timeout_min == 1440
    assert launcher.gpus_per_node == launcher.tasks_per_node == 8 and launcher.nodes == 2
    assert launcher.max_num_timeout > 0  # requeued jobs resume from last.ckpt
    assert cfg.trainer.strategy.find_unused_parameters is True


@pytest.mark.slow
def test_a_failing_run_does_not_stop_a_submitit_sweep(tmp_path):
    """The SLURM path without SLURM: submitit runs each pickled job in a fresh process, where
    the run-folder resolver must be registered again (by unpickling Hydra's callbacks). The job
    whose data are missing fails alone; the sweep exits 0."""
    good = image_folder(tmp_path / "imgs", n_train=2, n_val=1)
    missing = tmp_path / "missing"
    args = [a for a in pix2pix_args(good) if not a.startswith("data.root=")]
    run_train(
        ["-m", "hydra/launcher=submitit_local", f"data.root={missing},{good}", "name=queued"]
        + ["debug=fast", *args],
        cwd=tmp_path,
    )
    runs = sweep_runs(tmp_path / "outputs" / "train" / "multiruns" / "queued")
    by_root = {
        yaml.safe_load((r / "config_resolved.yaml").read_text())["data"]["root"]: r for r in runs
    }
    assert set(by_root) == {str(good), str(missing)}
    failure = (by_root[str(missing)] / "failure.txt").read_text()
    assert "UserError" in failure and str(missing) in failure
    assert not (by_root[str(missing)] / "metrics.json").exists()
    ok = by_root[str(good)]
    assert math.isfinite(json.loads((ok / "metrics.json").read_text())["val/psnr"])
    assert (
        (ok / "command.txt").read_text().startswith(f"python train.py data.root={good} name=queued")
    )
