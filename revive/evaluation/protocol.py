"""``eval.py``'s protocol: which evaluator scores a model, where its inputs come from, and how the
averages are printed and saved.

Each kind of model has one evaluator that returns a per-image table; the weights file itself
says which kind it is (:func:`revive.weights.kind.weights_kind`, :data:`EVALUATORS`). Averages
are named ``test/<column>`` like the test metrics of training; a colorizer's gray baseline (columns ``gray_<metric>``) is named
``gray/<metric>`` and printed beside the model's.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pandas as pd
from omegaconf import DictConfig
from rich.console import Console
from rich.table import Table

from revive.errors import UserError
from revive.evaluation.averages import averages
from revive.evaluation.denoisers import evaluate_denoiser
from revive.hardware import resolve_device
from revive.io import atomic_path, save_image
from revive.weights.kind import Kind, weights_kind

log = logging.getLogger(__name__)


def weights_path(cfg: DictConfig) -> Path | None:
    """``weights=``: one file, which must exist, or None when not given."""
    if cfg.get("ckpt") is not None:
        raise UserError(f"ckpt= is now weights=: weights={cfg.ckpt}")
    if cfg.get("weights") is None:
        return None
    path = Path(str(cfg.weights)).expanduser()
    if not path.is_file():
        raise UserError(f"weights file not found: {path.resolve()}")
    return path


def test_folder(cfg: DictConfig) -> Path:
    """``data.test_dir``: required, and a folder."""
    test_dir = cfg.get("data", {}).get("test_dir")
    if test_dir is None:
        raise UserError(
            "no test images: add data.test_dir=FOLDER of clean images, "
            "e.g. data.test_dir=photos/Set12"
        )
    return Path(test_dir)


def evaluate_denoising(cfg: DictConfig, path: Path | None) -> pd.DataFrame:
    """A denoiser's weights (any DnCNN layout), scored at ``sigma``."""
    from revive.weights.dncnn import load_denoiser

    if cfg.get("upscaler") is not None:
        raise UserError("upscaler= is for colorizers; a DnCNN keeps the size")
    test_dir = test_folder(cfg)
    if path is None:
        raise UserError(
            "no weights to evaluate: add weights=PATH (a train.py checkpoint or published "
            "weights, e.g. weights=weights/dncnn_25.pth; no denoiser ships with revive)"
        )
    net = load_denoiser(path)
    log.info("%s: %s, sigma=%s on %s", path.name, net.extra_repr(), cfg.sigma, test_dir)
    return evaluate_denoiser(
        net, test_dir, float(cfg.sigma), int(cfg.get("seed", 0)), resolve_device(cfg.device)
    )


def evaluate_colorization(cfg: DictConfig, path: Path | None) -> pd.DataFrame:
    """A colorizer's weights (None: the shipped one): each photo through predict.py's Restorer,
    scored against the photo and against the gray baseline; ``sheet=PATH`` also writes a
    contact sheet."""
    from revive.evaluation.colorizers import evaluate_colorizer
    from revive.evaluation.contact_sheet import contact_sheet
    from revive.evaluation.perceptual import optional_metrics
    from revive.restore.options import RestoreOptions
    from revive.restore.restorer import load_restorer
    from revive.weights.shipped import shipped_colorizer

    test_dir = test_folder(cfg)
    options = RestoreOptions.from_config(cfg)
    if options.colorizer != cfg.get("weights"):
        raise UserError("eval.py scores the file given as weights=; set weights=, not colorizer=")
    path = shipped_colorizer() if path is None else path
    restorer = load_restorer(replace(options, colorizer=path))
    log.info(
        "%s: %s colorizer on %s, render %d px, %s%s",
        path.name,
        restorer.space.name,
        test_dir,
        restorer.render_size,
        restorer.device,
        f", inputs shrunk x{restorer.scale} and upscaled back" if restorer.scale > 1 else "",
    )
    extra, fid, skipped = optional_metrics(cfg.get("metrics"), restorer.device)
    for name, reason in skipped.items():
        Console(soft_wrap=True).print(f"{name}: skipped ({reason})")
    sheet_count = int(cfg.sheet_count) if cfg.get("sheet") else 0
    table, rows = evaluate_colorizer(restorer, test_dir, sheet_count, extra=extra, fid=fid)
    if fid is not None and not table.attrs.get("set_metrics"):
        Console(soft_wrap=True).print("fid: skipped (fewer than 2 photos with truth)")
    if rows:
        dest = save_image(contact_sheet(rows), Path(str(cfg.sheet)).expanduser())
        log.info("contact sheet (gray | revived | truth) written to %s", dest)
    return table


# What a weights file holds -> the function that scores it.
EVALUATORS: dict[Kind, Callable[[DictConfig, Path | None], pd.DataFrame]] = {
    "denoiser": evaluate_denoising,
    "colorizer": evaluate_colorization,
}
# model= is optional: when given, the kind it names must be the file's.
MODEL_KINDS: dict[str, Kind] = {
    "revive.models.dncnn.DnCNNModule": "denoiser",
    "revive.models.pix2pix.Pix2Pix": "colorizer",
    "revive.models.pix2pix_wgangp.Pix2PixWGANGP": "colorizer",
    "revive.models.cyclegan.CycleGAN": "colorizer",
}


def evaluator_kind(cfg: DictConfig, path: Path | None) -> Kind:
    """The kind the weights file holds; ``model=``, when given, must name the same kind (with
    no file, it says what is missing; with neither, the shipped colorizer is scored)."""
    model = cfg.get("model")
    named: Kind | None = None
    if model is not None:
        target = model.get("_target_")
        if target not in MODEL_KINDS:
            raise UserError(
                f"eval.py has no evaluator for model {target}; it evaluates denoisers and "
                "colorizers, and reads which from weights= (model= can be left out)"
            )
        named = MODEL_KINDS[target]
    if path is None:
        return named or "colorizer"
    kind = weights_kind(path)
    if named is not None and named != kind:
        raise UserError(
            f"model= names a {named}, but weights={path} holds a {kind}; "
            "eval.py reads the kind from the file, so model= can be left out"
        )
    return kind


def print_against_gray(
    metrics: dict[str, float], title: str, console: Console | None = None
) -> None:
    """metric | model | gray | wash | model - gray | model - wash, for every model metric (the
    floors' cells are blank where they have no such metric)."""
    table = Table(
        title=title,
        caption="gray baseline: L* kept, no color; wash: L* kept, the folder's mean a*b* "
        "on every pixel",
    )
    for name in ("metric", "model", "gray", "wash", "vs gray", "vs wash"):
        table.add_column(name, justify="left" if name == "metric" else "right", no_wrap=True)
    for name, value in metrics.items():
        if not name.startswith("test/"):
            continue
        metric = name.removeprefix("test/")
        gray = metrics.get(f"gray/{metric}", math.nan)
        wash = metrics.get(f"wash/{metric}", math.nan)
        cells = [value, gray, wash, value - gray, value - wash]
        table.add_row(metric, *(f"{v:.4f}" if not math.isnan(v) else "–" for v in cells))
    (console or Console()).print(table)


def print_upscaling(metrics: dict[str, float], console: Console | None = None) -> None:
    """The super-resolution stage alone: its luminance against a bicubic enlargement's."""
    table = Table(title="upscaled luminance against the photo's (borders shaved by the scale)")
    for name, justify in (("metric", "left"), ("upscaler", "right"), ("bicubic", "right")):
        table.add_column(name, justify=justify)
    table.add_column("upscaler - bicubic", justify="right")
    for name, value in metrics.items():
        if name.startswith("sr/"):
            bicubic = metrics[f"bicubic/{name.removeprefix('sr/')}"]
            table.add_row(
                name.removeprefix("sr/"), *(f"{v:.4f}" for v in (value, bicubic, value - bicubic))
            )
    (console or Console()).print(table)


def print_no_reference(table: pd.DataFrame, console: Console | None = None) -> None:
    """Why photos had no truth, and the distribution of the output's colorfulness."""
    console = console or Console(soft_wrap=True)
    missing = table[~table["truth"]]
    reasons = missing["note"].value_counts()
    console.print(
        f"no truth for {len(missing)} of {len(table)} photos: "
        + "; ".join(f"{n} x {reason}" for reason, n in reasons.items())
        + ". PSNR, SSIM and deltaE00 need the photo's own colors; only the output's "
        "colorfulness is reported for these."
    )
    cf = missing["colorfulness"].describe(percentiles=[0.25, 0.5, 0.75])
    out = Table(title="colorfulness of the outputs without truth (Hasler-Süsstrunk, 0-255)")
    for name in ("count", "mean", "std", "min", "25%", "50%", "75%", "max"):
        out.add_column(name, justify="right")
    out.add_row(
        *("–" if math.isnan(v) else f"{v:.{0 if k == 'count' else 2}f}" for k, v in cf.items())
    )
    console.print(out)


def print_metrics(metrics: dict[str, float], title: str, console: Console | None = None) -> None:
    table = Table(title=title)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name, value in metrics.items():
        table.add_row(name, f"{value:.4f}")
    (console or Console()).print(table)


def write_csv(table: pd.DataFrame, dest: str | Path) -> Path:
    """The per-image table, written atomically (a crash never leaves half a file)."""
    dest = Path(dest).expanduser()
    with atomic_path(dest) as tmp:
        table.to_csv(tmp, index=False, float_format="%.4f")
    return dest


def write_json(metrics: dict[str, float], dest: str | Path) -> Path:
    """The averages as JSON, written atomically (NaN as null: no value, e.g. no truth)."""
    dest = Path(dest).expanduser()
    clean = {k: (None if math.isnan(v) else v) for k, v in metrics.items()}
    with atomic_path(dest) as tmp:
        tmp.write_text(json.dumps(clean, indent=2) + "\n")
    return dest


def evaluate(cfg: DictConfig) -> dict[str, float]:
    """Score the model of ``cfg`` on ``data.test_dir``; print, optionally save, return averages."""
    path = weights_path(cfg)
    table = EVALUATORS[evaluator_kind(cfg, path)](cfg, path)
    metrics = averages(table)
    title = f"{Path(str(cfg.data.test_dir)).name}: {len(table)} images"
    if "truth" in table.columns:
        with_truth = int(table["truth"].sum())
        print_against_gray(metrics, f"{title}, {with_truth} with truth")
        if "sr/y_psnr" in metrics:
            print_upscaling(metrics)
        if with_truth < len(table):
            print_no_reference(table)
    else:
        print_metrics(metrics, title)
    if cfg.get("csv"):
        log.info("per-image metrics written to %s", write_csv(table, cfg.csv))
    if cfg.get("json"):
        log.info("averages written to %s", write_json(metrics, cfg.json))
    return metrics
