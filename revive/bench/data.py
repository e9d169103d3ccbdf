"""``data_<name>``: training samples/s that one DataLoader worker delivers (decode + augmentation).

Each datamodule is built from its own ``conf/data/<name>.yaml`` (as ``train.py`` builds it) over
synthetic data of the real datasets' sizes, written to a temporary folder first:

- ``celeba``: 178x218 JPEGs and ``list_eval_partition.txt`` (the aligned CelebA layout);
- ``colorization``: ``l/gray_scale.npy`` [N,224,224] and ``ab/ab/ab1.npy`` [N,224,224,2];
- ``art``: paintings of varied sizes (200 to 1000 px a side) in ``dataset_updated/``;
- ``folder``: 1200x900 and 900x1200 photos;
- ``mix``: its default sources (celeba and art) over the two folders above;
- ``samples``: scikit-image's bundled photos (nothing to write).

The timed loop reads ``train_dataloader()`` with ``num_workers=1``: the samples/s of one worker,
its inter-process hand-over included. Images are smooth random fields so that JPEG files have
realistic sizes and decoding costs.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from revive.bench.common import Clock, Runs, peak_rss_mb, run_isolated
from revive.bench.fit import training_config

TARGET = "revive.bench.data"


def smooth_image(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """uint8 RGB: coarse random colors blown up bicubically, plus film-like grain."""
    coarse = rng.integers(0, 256, (max(2, height // 32), max(2, width // 32), 3), dtype=np.uint8)
    image = np.asarray(Image.fromarray(coarse).resize((width, height), Image.BICUBIC))
    grain = rng.normal(0, 6, image.shape)
    return np.clip(image + grain, 0, 255).astype(np.uint8)


def write_jpegs(folder: Path, sizes: list[tuple[int, int]], rng: np.random.Generator) -> None:
    """One JPEG per (height, width), named 000001.jpg, ... as CelebA names its files."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, (height, width) in enumerate(sizes, start=1):
        Image.fromarray(smooth_image(rng, height, width)).save(folder / f"{i:06d}.jpg", quality=90)


def make_celeba(root: Path, count: int, rng: np.random.Generator) -> None:
    write_jpegs(root / "img_align_celeba", [(218, 178)] * count, rng)
    # every file in train (0) but the last two: one val (1), one test (2)
    splits = ["0"] * (count - 2) + ["1", "2"]
    lines = [f"{i:06d}.jpg {s}" for i, s in enumerate(splits, start=1)]
    (root / "list_eval_partition.txt").write_text("\n".join(lines) + "\n")


def make_colorization(root: Path, count: int, rng: np.random.Generator) -> None:
    rows = count + 4  # the 5% val and test fractions take a row or two
    light = np.empty((rows, 224, 224), np.uint8)
    ab = np.empty((rows, 224, 224, 2), np.uint8)
    for i in range(rows):
        image = smooth_image(rng, 224, 224)
        light[i], ab[i] = image[..., 0], image[..., 1:]
    (root / "l").mkdir(parents=True)
    (root / "ab" / "ab").mkdir(parents=True)
    np.save(root / "l" / "gray_scale.npy", light)
    np.save(root / "ab" / "ab" / "ab1.npy", ab)


def make_art(root: Path, count: int, rng: np.random.Generator) -> None:
    base = root / "dataset_updated"
    sizes = [tuple(int(s) for s in rng.integers(200, 1001, 2)) for _ in range(count)]
    write_jpegs(base / "training_set" / "painting", sizes, rng)
    write_jpegs(base / "validation_set" / "painting", sizes[:2], rng)


def make_folder(root: Path, count: int, rng: np.random.Generator) -> None:
    sizes = [(900, 1200) if i % 2 else (1200, 900) for i in range(count)]
    write_jpegs(root / "train", sizes, rng)
    write_jpegs(root / "val", sizes[:2], rng)


def prepare(name: str, root: Path, count: int, seed: int = 0) -> list[str]:
    """Write dataset ``name`` (``count`` training samples) under ``root``; its data overrides."""
    rng = np.random.default_rng(seed)
    if name == "samples":
        return [f"data.train_samples={count}"]
    if name == "mix":
        make_celeba(root / "celeba", count, rng)
        make_art(root / "art", count, rng)
        return [f"data.roots.celeba={root / 'celeba'}", f"data.roots.art={root / 'art'}"]
    makers = {
        "folder": make_folder,
        "celeba": make_celeba,
        "colorization": make_colorization,
        "art": make_art,
    }
    makers[name](root, count, rng)
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
    loader = iter(datamodule.train_dataloader())
    for _ in range(warmup):  # includes starting the worker
        next(loader)
    clock.start()
    for _ in range(steps):
        batch = next(loader)
    clock.stop()
    del loader  # joins the worker, so that its peak RSS is counted below
    key = "rgb" if "rgb" in batch else "lab"
    return {
        "samples_per_s": steps * batch_size / clock.seconds,
        "sample": f"{key} {list(batch[key].shape[1:])}",
        "worker_peak_rss_mb": round(peak_rss_mb(children=True), 1),
    }


def data_benchmark(
    name: str, batch_size: int = 1, steps: int = 48, warmup: int = 4, repeats: int = 1
) -> list[dict[str, Any]]:
    runs = Runs()
    with tempfile.TemporaryDirectory(prefix=f"revive-bench-{name}-") as tmp:
        overrides = prepare(name, Path(tmp), (warmup + steps) * batch_size + 8)
        for _ in range(repeats):
            runs.runs.append(
                run_isolated(
                    f"{TARGET}:measure_loader",
                    name=name,
                    overrides=overrides,
                    batch_size=batch_size,
                    steps=steps,
                    warmup=warmup,
                )
            )
    return [
        {
            "name": f"data_{name}",
            "metric": "samples_per_s",
            "batch_size": batch_size,
            "workers": 1,
            **runs.summary("samples_per_s"),
            "worker_peak_rss_mb": max(r["worker_peak_rss_mb"] for r in runs.runs),
            "settings": f"1 worker, {runs.runs[0]['sample']}",
            "steps": steps,
            "warmup": warmup,
            "repeats": repeats,
        }
    ]
