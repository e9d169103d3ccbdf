"""``python -m revive.compare``: tables, plots and a sample grid from the runs' local logs."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from revive.compare.report import compare, main
from revive.compare.runs import find_runs, read_run, run_render_size, swept_parameters
from revive.compare.samples import checkpoint_of, colorize, panel_cells
from revive.training.run import train
from tests.conftest import compose_config
from tests.tiny_runs import image_folder, pix2pix_args


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    """Two tiny colorizers (LAB, RGB) trained for 2 epochs, and a run that failed."""
    tmp = tmp_path_factory.mktemp("compare")
    root = image_folder(tmp / "imgs", n_train=2, n_val=2)
    sweep = tmp / "sweep"
    for space in ("lab", "rgb"):
        cfg = compose_config(
            "train",
            [
                *pix2pix_args(root, epochs=1),
                "model.n_epochs_decay=1",
                f"color_space={space}",
                "trainer.precision=32-true",  # panels and compare's re-run use the same arithmetic
            ],
            sweep / space,
        )
        train(cfg)
    failed = sweep / "broken"
    failed.mkdir()
    shutil.copy(sweep / "lab" / "config_resolved.yaml", failed)
    (failed / "failure.txt").write_text("Traceback ...\nRuntimeError: out of memory\n")
    return sweep


def test_runs_and_what_differs_between_them(sweep):
    runs = [read_run(p) for p in find_runs(sweep)]
    assert [r.path.name for r in runs] == ["broken", "lab", "rgb"]
    assert [r.status for r in runs] == ["failed", "done", "done"]
    lab = runs[1]
    assert list(lab.curves.index) == [0, 1] and "val/psnr" in lab.curves.columns
    # without Hydra's record of the overrides, the resolved configs are compared: the color
    # space differs (named once, though model.color_space follows it); the run folders do not
    assert swept_parameters(runs[1:]) == ["color_space.name"]


def test_table_plots_and_grid(sweep, tmp_path):
    written = compare(sweep, out_dir=tmp_path / "out", checkpoint="last")
    table = pd.read_csv(written["csv"])
    assert list(table["color_space.name"]) == ["lab", "lab", "rgb"]
    assert list(table["status"]) == ["failed", "done", "done"]
    assert table.loc[table.status == "done", "val/psnr"].notna().all()
    assert table.loc[table.status == "failed", "val/psnr"].isna().all()
    assert list(table["epochs"]) == [0, 2, 2]
    markdown = written["markdown"].read_text()
    assert "| color_space.name |" in markdown and "| failed |" in markdown
    for kind in ("curves", "final", "samples"):
        with Image.open(written[kind]) as picture:
            assert picture.width > 200 and picture.height > 150, kind


def test_grid_rows_are_what_predict_gives_at_each_runs_own_scale(sweep, tmp_path):
    """The grid revives the same images through each run's checkpoint as predict.py does, at the
    scale the run trained at; a LAB run then also reproduces its own last validation panel."""
    from revive.io import read_rgb, save_image
    from revive.restore import RestoreOptions, restore_paths

    runs = [read_run(p) for p in find_runs(sweep)][1:]
    truth = panel_cells(runs[0], -1, 4)
    assert len(truth) == 2
    save_image(truth[0], tmp_path / "in" / "photo.png")
    rows = {}
    for run in runs:
        size, ckpt = run_render_size(run), checkpoint_of(run, "last")
        assert size == truth[0].shape[0]  # the validation crops are the training scale
        rows[run.path.name] = colorize(ckpt, truth, size)
        out = tmp_path / run.path.name
        options = RestoreOptions(colorizer=ckpt, render_size=size, device="cpu")
        assert restore_paths(tmp_path / "in", out, options, progress=False).ok
        np.testing.assert_array_equal(rows[run.path.name][0], read_rgb(out / "photo_revived.png"))
    for own, again in zip(panel_cells(runs[0], 1, 4), rows["lab"], strict=True):
        assert np.abs(own.astype(int) - again.astype(int)).max() <= 1
    # two runs, two rows (the RGB run lends only its chroma to the photo's own luminance, as in
    # predict.py, so these tiny near-gray models differ by less than a level on average)
    assert not np.array_equal(rows["lab"][0], rows["rgb"][0])


def test_cli_writes_into_the_sweep_and_names_a_wrong_folder(sweep, tmp_path, capsys, command):
    command(main, f"runs={sweep}", "checkpoint=last", "num_images=1")
    assert (sweep / "compare" / "samples.png").is_file()
    assert "comparison.md" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_info:
        command(main, f"runs={tmp_path}")
    assert exit_info.value.code == 2
    assert "config_resolved.yaml" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["SWEEP"], "SWEEP: arguments are now key=value: runs=SWEEP"),
        (["runs=x", "--out", "o"], "--out is now out=DIR"),
        (
            ["runs=x", "--test-dir=t"],
            "--test-dir is now test_dir=DIR (several: test_dir=[DIR,DIR])",
        ),
        (["runs=x", "checkpoint=first"], "checkpoint=first: it is best or last"),
        (["run=x"], "run=x: no such key; did you mean runs=x?"),
        ([], "runs= is missing"),
    ],
    ids=["positional", "flag", "flag=value", "checkpoint", "typo", "missing"],
)
def test_old_options_and_mistakes_are_one_line(args, line, command):
    assert line in command.error(main, "revive-compare", *args)


@pytest.mark.slow
def test_test_dirs_add_the_test_metrics_and_the_gray_baseline(sweep, tmp_path):
    """Each run's checkpoint is scored as eval.py scores it; the baseline is the same for all."""
    from revive.data.fakes import fake_photos
    from revive.evaluation.averages import averages
    from revive.evaluation.colorizers import evaluate_colorizer
    from revive.io import save_image
    from revive.restore import RestoreOptions, load_restorer

    folders = [tmp_path / "faces", tmp_path / "general"]
    for seed, folder in enumerate(folders):
        for i, photo in enumerate(fake_photos(2, 40, 56, seed=seed)):
            save_image(photo, folder / f"p{i}.png")
    written = compare(
        sweep, tmp_path / "out", checkpoint="last", test_dirs=folders[:1], device="cpu"
    )
    table = pd.read_csv(written["csv"]).set_index("run")
    assert table.loc["broken", ["test/psnr", "gray/psnr"]].isna().all()
    lab_run = read_run(sweep / "lab")  # scored at the scale it trained at, as compare does
    lab = load_restorer(
        RestoreOptions(
            colorizer=checkpoint_of(lab_run, "last"),
            device="cpu",
            render_size=run_render_size(lab_run),
        )
    )
    expected = averages(evaluate_colorizer(lab, folders[0], progress=False)[0])
    for metric in ("psnr", "ssim", "deltae2000", "colorfulness", "delta_cf"):
        assert table.loc["lab", f"test/{metric}"] == pytest.approx(expected[f"test/{metric}"])
        assert table.loc["lab", f"gray/{metric}"] == table.loc["rgb", f"gray/{metric}"]
    assert table.loc["lab", "test/psnr"] != table.loc["rgb", "test/psnr"]
    assert "gray/psnr" in written["markdown"].read_text()
    with Image.open(written["test"]) as picture:
        assert picture.width > 600

    two = compare(sweep, tmp_path / "two", checkpoint="last", test_dirs=folders, device="cpu")
    columns = pd.read_csv(two["csv"]).columns
    for name in ("faces", "general"):
        assert {f"{name}/test/psnr", f"{name}/gray/psnr"} <= set(columns)
