"""``data_<name>``: training samples/s that one DataLoader worker delivers (decode + augmentation).

Each datamodule is built from its own ``conf/data/<name>.yaml`` (as ``train.py`` builds it) over
synthetic data of the real datasets' sizes (:mod:`revive.data.fakes`), written to a temporary
folder first:

- ``celeba``: 178x218 JPEGs and ``list_eval_partition.txt`` (the aligned CelebA layout);
- ``colorization``: ``l/gray_scale.npy`` [N,224,224] and ``ab/ab/ab1.npy`` [N,224,224,2];
- ``art``: paintings of varied sizes (200 to 1000 px a side) in ``dataset_updated/``;
- ``folder``: 1200x900 photos in a tree (split into train and val by the datamodule);
- ``mix``: its default sources (celeba and art) over the two folders above;
- ``samples``: scikit-image's bundled photos (nothing to write); ``data_old_photo`` is the same
  with ``data.degrade=old_photo`` (every old-photo degradation, as configured).

The timed loop reads ``train_dataloader()`` with ``num_workers=1``: the samples/s of one worker,
its inter-process hand-over included. Images are smooth random fields with grain, so that JPEG
files have realistic sizes and decoding costs.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from revive.bench.common import Clock, Runs, peak_rss_mb, run_isolated, significant
from revive.bench.fit import training_config
from revive.data import fakes

TARGET = "revive.bench.data"


GRAIN = 6.0  # film-like grain: JPEG files of realistic sizes and decoding costs


def prepare(name: str, root: Path, count: int) -> list[str]:
    """Write dataset ``name`` (``count`` training samples) under ``root``; its data overrides."""
    if name == "samples":
        return [f"data.train_samples={count}"]
    if name == "mix":
        prepare("celeba", root / "celeba", count)
        prepare("art", root / "art", count)
        return [f"data.roots.celeba={root / 'celeba'}", f"data.roots.art={root / 'art'}"]
    if name == "celeba":  # every file in train (0) but the last two: one val, one test
        fakes.make_celeba(root, count + 2, partition=[0] * count + [1, 2], grain=GRAIN)
    elif name == "colorization":  # the 5% val and test fractions take a row or two
        fakes.make_colorization(root, count + 4, size=224, chunks=1, grain=GRAIN)
    elif name == "art":
        fakes.make_art(
            root, ("painting",), count, 2, sides=(200, 1000), troublemakers=False, grain=GRAIN
        )
    elif name == "folder":
        fakes.make_folder(root, count, size=(1200, 900), grain=GRAIN)
    else:
        raise ValueError(f"no fake layout for data={name}")
    return [f"data.root={root}"]


def measure_loader(
    name: str, overrides: list[str], batch_size: int, steps: int, warmup: int
) -> dict[str, Any]:
    """Samples/s of the datamodule's training loader with one worker (child process)."""
    import torch
    from hydra.utils import instantiate

    cfg = training_config(
        [
            f"data={name}",
            *overrides,
            f"data.batch_size={batch_size}",
            "data.num_workers=1",
            "data.persistent_workers=false",
        ]
    )
    datamodule = instantiate(cfg.data)
    datamodule.setup("fit")
    clock = Clock(torch.device("cpu"))
    batches = datamodule.train_dataloader()
    if len(batches) < warmup + steps:
        raise ValueError(
            f"data={name} has {len(batches)} training batches; the benchmark needs "
            f"{warmup + steps} (warmup + steps): prepare() wrote too few samples"
        )
    loader = iter(batches)
    for _ in range(warmup):  # includes starting the worker
        next(loader)
    clock.start()
    for _ in range(steps):
        batch = next(loader)
    clock.stop()
    del loader  # joins the worker, so that its peak RSS is counted below
    key = "rgb" if batch.rgb is not None else "lab"
    degraded = " + degraded input" if batch.degraded is not None else ""
    return {
        "samples_per_s": steps * batch_size / clock.seconds,
        "sample": f"{key} {list(batch.photo.shape[1:])}{degraded}",
        "worker_peak_rss_mb": round(peak_rss_mb(children=True), 1),
    }


# What one worker must deliver with every old-photo degradation at 256x256 (issue #14), so that
# a few workers keep a GPU fed.
OLD_PHOTO_TARGET = 200.0


def data_benchmark(
    name: str,
    batch_size: int = 1,
    steps: int = 200,
    warmup: int = 4,
    repeats: int = 1,
    extra: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """Samples/s of ``data=name``'s training loader. ``extra`` overrides make a variant:
    ``data.degrade=old_photo`` is ``data_old_photo``, measured in turns with the same loader
    without them (its baseline: the ratio is what degrading costs) and held to
    :data:`OLD_PHOTO_TARGET`."""
    variants = {"ours": Runs(), "baseline": Runs()} if extra else {"ours": Runs()}
    # Room for the validation and test splits that folder (10%) and colorization (5% + 5%) cut
    # off the written samples.
    count = math.ceil((warmup + steps) * batch_size / 0.85) + 8
    with tempfile.TemporaryDirectory(prefix=f"revive-bench-{name}-") as tmp:
        overrides = prepare(name, Path(tmp), count)
        for _ in range(repeats):
            for variant, runs in variants.items():
                chosen = overrides + list(extra) if variant == "ours" else overrides
                runs.runs.append(
                    run_isolated(
                        f"{TARGET}:measure_loader",
                        name=name,
                        overrides=chosen,
                        batch_size=batch_size,
                        steps=steps,
                        warmup=warmup,
                    )
                )
    ours = variants["ours"]
    record = {
        "name": "data_old_photo" if "data.degrade=old_photo" in extra else f"data_{name}",
        "metric": "samples_per_s",
        "batch_size": batch_size,
        "workers": 1,
        **ours.summary("samples_per_s"),
        "worker_peak_rss_mb": max(r["worker_peak_rss_mb"] for r in ours.runs),
        "settings": f"1 worker, {ours.runs[0]['sample']}",
        "steps": steps,
        "warmup": warmup,
        "repeats": repeats,
    }
    if "baseline" in variants:
        baseline = variants["baseline"]
        record.update(baseline.summary("samples_per_s", prefix="baseline_"))
        record["speedup"] = significant(
            ours.median("samples_per_s") / baseline.median("samples_per_s")
        )
        record["settings"] += f"; baseline without {' '.join(extra)}"
    if record["name"] == "data_old_photo":
        met = ours.median("samples_per_s") >= OLD_PHOTO_TARGET
        record["target_samples_per_s"] = OLD_PHOTO_TARGET
        record["meets_target"] = met
        record["settings"] += f"; target >= {OLD_PHOTO_TARGET:.0f}/s {'met' if met else 'NOT met'}"
    return [record]
