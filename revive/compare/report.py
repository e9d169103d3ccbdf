"""``revive-compare runs=SWEEP_DIR`` (``python -m revive.compare``): the table, the plots and the
sample grid of a sweep; its options are ``conf/compare.yaml``'s keys."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from revive.compare.plots import plot_curves, plot_final, plot_samples
from revive.compare.runs import (
    comparison_table,
    find_runs,
    label_runs,
    markdown,
    param_value,
    read_run,
    sort_key,
    swept_parameters,
)
from revive.compare.testsets import plot_test_bars, score_runs, test_tables
from revive.config import hydra_command
from revive.errors import UserError, user_errors
from revive.io import atomic_path

PROGRAM = "revive-compare"


def compare(
    sweep_dir: str | Path,
    out_dir: str | Path | None = None,
    metric: str = "val/psnr",
    images_dir: str | Path | None = None,
    num_images: int = 4,
    checkpoint: str = "best",
    test_dirs: Sequence[str | Path] = (),
    device: str = "auto",
    render_size: int | None = None,
) -> dict[str, Path]:
    """Write the table, the plots and the sample grid; return their paths by kind.

    With ``test_dirs``, each run's ``checkpoint`` is also scored on every test folder by
    eval.py's colorizer protocol, and the test metrics and the gray baseline join the table
    (and ``test_vs_gray.png``).
    """
    sweep_dir = Path(sweep_dir)
    out = Path(out_dir) if out_dir is not None else sweep_dir / "compare"
    runs = [read_run(p) for p in find_runs(sweep_dir) if out not in p.parents]
    params = swept_parameters(runs)
    runs.sort(key=lambda r: ([sort_key(param_value(r, k)) for k in params], r.path.name))
    label_runs(runs, params)
    folders = [Path(d).expanduser() for d in test_dirs]
    usable = [r for r in runs if r.status != "failed"]
    if folders:
        score_runs(usable, folders, checkpoint, device, render_size)
    table = comparison_table(runs, params)
    written: dict[str, Path] = {}
    with atomic_path(out / "comparison.csv") as tmp:
        table.to_csv(tmp, index=False)
    written["csv"] = out / "comparison.csv"
    with atomic_path(out / "comparison.md") as tmp:
        tmp.write_text(markdown(table, f"Runs under {sweep_dir}"))
    written["markdown"] = out / "comparison.md"
    tables = test_tables([r for r in runs if r.status != "failed"], params)
    if tables:
        with atomic_path(out / "test_report.md") as tmp:
            tmp.write_text(f"# Test folders of {sweep_dir}, against the gray baseline\n\n{tables}")
        written["test_report"] = out / "test_report.md"
    plots = {
        "test": plot_test_bars(usable, out / "test_vs_gray.png"),
        "curves": plot_curves(usable, out / "curves.png"),
        "final": plot_final(usable, params, metric, out / "final_vs_params.png"),
        "samples": plot_samples(
            usable,
            out / "samples.png",
            Path(images_dir) if images_dir else None,
            num_images,
            checkpoint,
            render_size,
            device,
        ),
    }
    written.update({k: v for k, v in plots.items() if v is not None})
    return written


# The options of the argparse command before it took key=value, and what replaced each.
RETIRED = {
    "--out": "out=DIR",
    "--metric": "metric=NAME",
    "--images": "images=DIR",
    "--num-images": "num_images=N",
    "--checkpoint": "checkpoint=best|last",
    "--test-dir": "test_dir=DIR (several: test_dir=[DIR,DIR])",
    "--device": "device=NAME",
    "--render-size": "render_size=N",
}


def folders(value: object) -> list[str]:
    """``test_dir=``: one folder, a list of them, or none."""
    if value is None:
        return []
    if isinstance(value, (str, Path)):
        return [str(value)]
    return [str(v) for v in value]


@hydra_command("compare", PROGRAM, RETIRED, positional=("runs",))
def main(cfg: DictConfig) -> None:
    """``revive-compare runs=SWEEP_DIR [out=DIR] ...`` (``conf/compare.yaml``)."""
    with user_errors(PROGRAM):  # e.g. a run's damaged checkpoint, a missing folder
        if OmegaConf.is_missing(cfg, "runs"):
            raise UserError("runs= is missing: the folder of the runs to compare (runs=DIR)")
        if cfg.checkpoint not in ("best", "last"):
            raise UserError(f"checkpoint={cfg.checkpoint}: it is best or last")
        try:
            written = compare(
                cfg.runs,
                cfg.out,
                cfg.metric,
                cfg.images,
                cfg.num_images,
                cfg.checkpoint,
                folders(cfg.test_dir),
                cfg.device,
                cfg.render_size,
            )
        except FileNotFoundError as e:
            raise UserError(str(e)) from e
    for kind, path in written.items():
        print(f"{kind:>8}: {path}")
