"""experiment=seed_study: the seed's dataset study as one multirun, scored on two test folders."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from revive.compare.report import compare
from revive.config import compose
from revive.data.fakes import make_celeba, make_study
from revive.training.run import train
from tests.conftest import compose_config
from tests.tiny_runs import QUICK, TINY_PIX2PIX

COMBINATIONS = [(d, c) for d in ("celeba", "colorization", "mix") for c in ("lab", "rgb")]
TARGETS = {
    "celeba": "revive.data.celeba.CelebADataModule",
    "colorization": "revive.data.colorization.ColorizationDataModule",
    "mix": "revive.data.mix.MixDataModule",
}


def test_the_sweep_is_every_dataset_in_both_color_spaces() -> None:
    cfg = compose("train", ["experiment=seed_study"], hydra_node=True)
    assert cfg.hydra.mode.name == "MULTIRUN"
    params = cfg.hydra.sweeper.params
    sweep = [(d, c) for d in params.data.split(",") for c in params.color_space.split(",")]
    assert sweep == COMBINATIONS


@pytest.mark.parametrize(("data", "space"), COMBINATIONS)
def test_every_combination_composes(data: str, space: str, tmp_path: Path) -> None:
    overrides = ["experiment=seed_study", f"data={data}", f"color_space={space}"]
    cfg = compose("train", [*overrides, f"paths.data_dir={tmp_path}"])
    assert cfg.data._target_ == TARGETS[data]
    assert cfg.color_space.name == space and cfg.model.color_space == space
    assert cfg.name == "seed_study"
    assert dict(cfg.test_dirs) == {
        "faces": f"{tmp_path}/study/faces",
        "general": f"{tmp_path}/study/general",
    }


@pytest.mark.slow
def test_a_tiny_combination_runs_and_is_reported(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    make_celeba(data_dir / "celeba", n=6)
    make_study(data_dir / "study", n=2)
    sweep = tmp_path / "sweep"
    metrics = {}
    for space in ("lab", "rgb"):
        cfg = compose_config(
            "train",
            [
                "experiment=seed_study",
                "data=celeba",
                f"color_space={space}",
                f"paths.data_dir={data_dir}",
                *TINY_PIX2PIX,
                *QUICK,
                "model.n_epochs=1",
                "model.n_epochs_decay=0",
            ],
            sweep / space,
        )
        metrics[space] = train(cfg)
    for space, values in metrics.items():
        for folder in ("faces", "general"):
            for metric in ("psnr", "ssim", "deltae2000", "colorfulness", "delta_cf"):
                assert math.isfinite(values[f"{folder}/test/{metric}"]), (space, folder, metric)
                assert math.isfinite(values[f"{folder}/gray/{metric}"]), (space, folder, metric)
    # the baseline is the photos' own luminance: the same whatever the run
    assert metrics["lab"]["faces/gray/psnr"] == metrics["rgb"]["faces/gray/psnr"]
    assert metrics["lab"]["faces/gray/psnr"] != metrics["lab"]["general/gray/psnr"]

    written = compare(sweep, tmp_path / "report", checkpoint="last")
    table = pd.read_csv(written["csv"])
    assert {"faces/test/psnr", "faces/gray/psnr", "general/test/psnr"} <= set(table.columns)
    report = written["test_report"].read_text()
    assert "## faces" in report and "## general" in report and "| gray baseline |" in report
    with Image.open(written["test"]) as chart:  # two rows (folders) of five metrics
        assert chart.width > 1000 and chart.height > 500
