"""See what the model will see: counts per split and a contact sheet of augmented samples.

    python -m revive.data.inspect data=celeba data.root=PATH [--split train] [--samples 16]
                                  [--out sheet.png] [--overwrite]

Positional arguments are Hydra overrides of the training config (``conf/train.yaml``), so any
``data.*`` setting that ``train.py`` accepts works here. The sheet shows each sample in color
(the target) with the network's input below it (``color_space``: LAB shows the gray of the
sample's L*, RGB its luma). With ``data.degrade=old_photo`` each sample has three rows: the clean
color target, its clean input, and the degraded gray scan the network is given instead.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from hydra.utils import instantiate

from revive.batch import ColorBatch, collate
from revive.color import ColorSpace, get_color_space
from revive.config import compose
from revive.data.module import DataModule
from revive.errors import user_errors
from revive.io import save_image
from revive.visual import grid, to_uint8


def contact_sheet(samples: Sequence[ColorBatch], space: ColorSpace, columns: int = 8) -> np.ndarray:
    """Rows of color samples, each followed by a row of the network's input for them in
    ``space`` (LAB: the gray of their L*; RGB: their luma), and by a row of the degraded inputs
    when the samples carry them (``data.degrade``)."""
    batches = [collate([s]) for s in samples]
    rgb = torch.stack([b.as_rgb()[0] for b in batches])

    def seen(batch: ColorBatch) -> torch.Tensor:
        return space.gray_rgb(space.split(batch)[0])[0]

    clean = [dataclasses.replace(b, degraded=None) for b in batches]
    shown = [rgb, torch.stack([seen(b) for b in clean])]
    if all(s.degraded is not None for s in samples):
        shown.append(torch.stack([seen(b) for b in batches]))
    rows = []
    for start in range(0, len(samples), columns):
        rows += [[to_uint8(img) for img in images[start : start + columns]] for images in shown]
    return grid(rows)


def pick(n_available: int, n: int, seed: int) -> list[int]:
    """``n`` distinct indices (all when fewer), in a seeded random order."""
    rng = np.random.default_rng(seed)
    return rng.permutation(n_available)[: min(n, n_available)].tolist()


def free_name(path: Path) -> Path:
    """``path``, or ``stem_1.png``, ``stem_2.png`` … whichever does not exist yet."""
    candidate, i = path, 0
    while candidate.exists():
        i += 1
        candidate = path.with_name(f"{path.stem}_{i}{path.suffix}")
    return candidate


def print_counts(name: str, datamodule: DataModule) -> None:
    root = getattr(datamodule, "root", None)
    print(f"data={name}" + (f"  root={root}" if root is not None else ""))
    for split, count in datamodule.split_sizes().items():
        print(f"  {split:<6}{count:>9,}")
    source_sizes = getattr(datamodule, "source_sizes", None)
    if source_sizes is not None:
        for source, sizes in source_sizes().items():
            counts = "  ".join(f"{s} {c:,}" for s, c in sizes.items())
            print(f"    {source}: {counts}")


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m revive.data.inspect",
        description="Print a dataset's split sizes and write a contact sheet of augmented samples.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="example (the bundled photos, 8 samples):\n"
        "  revive-inspect data=samples --samples 8 --out sheet.png\n"
        "(revive-inspect is python -m revive.data.inspect)",
    )
    parser.add_argument(
        "overrides", nargs="*", help="Hydra overrides, e.g. data=celeba data.root=PATH"
    )
    parser.add_argument(
        "--split", default=None, help="train, val or test (default: train, else val)"
    )
    parser.add_argument("--samples", type=int, default=16, help="number of samples on the sheet")
    parser.add_argument("--columns", type=int, default=8, help="samples per row")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="PNG path (default: outputs/inspect/<data>_<split>.png)",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    return parser.parse_intermixed_args(argv)


def main(argv: Sequence[str] | None = None) -> Path:
    """Run the command; returns the path of the written sheet."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    with user_errors("python -m revive.data.inspect"):  # e.g. data=celba, a missing data.root
        cfg = compose("train", args.overrides, hydra_node=True)
        name = cfg.hydra.runtime.choices.get("data", "data")
        datamodule: DataModule = instantiate(cfg.data)
        print_counts(name, datamodule)

    if args.out is not None and args.out.suffix.lower() != ".png":
        raise SystemExit(f"--out {args.out}: the contact sheet is a PNG; end the name in .png")
    split = args.split or ("train" if "train" in datamodule.datasets else "val")
    if split not in datamodule.datasets:
        raise SystemExit(
            f"data={name} has no {split!r} split; it has {sorted(datamodule.datasets)}"
        )
    dataset = datamodule.datasets[split]
    samples = [dataset[i] for i in pick(len(dataset), args.samples, cfg.seed)]

    if args.out is None:
        out = free_name(Path(cfg.paths.log_dir) / "inspect" / f"{name}_{split}.png")
    elif args.out.exists() and not args.overwrite:
        raise SystemExit(f"{args.out} exists; pass --overwrite or choose another --out")
    else:
        out = args.out
    save_image(contact_sheet(samples, get_color_space(cfg.color_space.name), args.columns), out)
    rows = "gray and degraded gray" if samples[0].degraded is not None else "gray"
    print(f"wrote {out} ({len(samples)} {split} samples after augmentation, {rows} below color)")
    return out


def cli() -> None:
    """``revive-inspect``: :func:`main` without its return value (a console script exits with
    whatever its function returns, and a path would read as a failure)."""
    main()


if __name__ == "__main__":
    main()
