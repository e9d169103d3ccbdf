"""``python -m revive.compare SWEEP_DIR``: the table, the plots and the sample grid of a sweep."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from pathlib import Path

import revive.compare
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
from revive.errors import user_errors
from revive.io import atomic_path


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


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m revive.compare",
        description=revive.compare.__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="example (the runs of a sweep, scored on a folder of color photos):\n"
        "  revive-train -m experiment=demo name=lab_vs_rgb color_space=lab,rgb trainer.max_epochs=1\n"
        "  revive-compare outputs/demo/multiruns/lab_vs_rgb --test-dir photos/\n"
        "(revive-compare is python -m revive.compare)",
    )
    parser.add_argument("sweep_dir", type=Path, help="e.g. outputs/train/multiruns/<name>")
    parser.add_argument("--out", type=Path, default=None, help="default: SWEEP_DIR/compare")
    parser.add_argument("--metric", default="val/psnr", help="metric plotted against parameters")
    parser.add_argument("--images", type=Path, default=None, help="folder of images to colorize")
    parser.add_argument("--num-images", type=int, default=4)
    parser.add_argument("--checkpoint", choices=("best", "last"), default="best")
    parser.add_argument(
        "--test-dir",
        type=Path,
        action="append",
        default=[],
        help="score each run's checkpoint on this folder against the gray baseline "
        "(eval.py's protocol); repeat for several folders",
    )
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda ... (for --test-dir)")
    parser.add_argument(
        "--render-size",
        type=int,
        default=None,
        help="the colorizers' canvas, as predict.py's render_size (default: each run's own "
        "training crop size, the scale it learned at)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        with user_errors(parser.prog):  # e.g. a run's damaged checkpoint
            written = compare(
                args.sweep_dir,
                args.out,
                args.metric,
                args.images,
                args.num_images,
                args.checkpoint,
                args.test_dir,
                args.device,
                args.render_size,
            )
    except FileNotFoundError as e:
        parser.exit(2, f"error: {e}\n")
    for kind, path in written.items():
        print(f"{kind:>8}: {path}")
