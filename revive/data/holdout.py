"""A colorizer's test split, set aside before any training, by a seeded rule written here.

``revive-holdout source=SOURCE dest=DEST`` (``python -m revive.data.holdout``) reads a
collection laid out as

    SOURCE/faces/*.jpg                 portraits
    SOURCE/scenes/<class>/*.jpg        landscapes and streets, one folder per class
    SOURCE/varied/*.jpg                one photo of each of many kinds of subject

and writes DEST/<kind>/{train,val,test}/ as symbolic links to the photos (nothing is copied), so
that ``data=folder`` and ``data=mix`` train on ``train/``, validate on ``val/``, and ``eval.py``
scores ``test/``, which no training run ever reads.

The rule: the file names of each kind (of each scene class) are sorted, shuffled by
``random.Random(f"revive-holdout/{kind}/{seed}")`` (per class for scenes), and the first
``test`` of them are the test split, the next ``val`` the validation split, the rest training.
The counts are :data:`COUNTS`: 300 faces, 50 scenes per class (300), 60 varied photos. The
same source and seed always give the same split; the split is written to ``DEST/split.json``.
"""

from __future__ import annotations

import json
import os
import random
from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from revive.config import hydra_command
from revive.errors import UserError, user_errors
from revive.io import list_images

SPLITS = ("test", "val", "train")


@dataclass(frozen=True)
class Counts:
    """How many photos of one group go to test and to val (the rest train)."""

    test: int
    val: int


# Per group: faces and varied are one group each, scenes one group per class.
COUNTS = {
    "faces": Counts(test=300, val=100),
    "scenes": Counts(test=50, val=10),
    "varied": Counts(test=60, val=30),
}
DEFAULT_SEED = 0


def groups(source: Path) -> dict[str, list[Path]]:
    """``{"faces": [...], "scenes/buildings": [...], ..., "varied": [...]}``, names sorted."""
    found: dict[str, list[Path]] = {}
    for kind in COUNTS:
        folder = source / kind
        if not folder.is_dir():
            raise UserError(
                f"{folder} is missing: the source needs faces/, scenes/<class>/, varied/"
            )
        if kind == "scenes":
            classes = sorted(p for p in folder.iterdir() if p.is_dir())
            if not classes:
                raise UserError(f"{folder} has no class folders (scenes/<class>/*.jpg)")
            for cls in classes:
                found[f"scenes/{cls.name}"] = list_images(cls, recursive=False)
        else:
            found[kind] = list_images(folder, recursive=False)
    for name, paths in found.items():
        need = COUNTS[name.split("/")[0]]
        if len(paths) <= need.test + need.val:
            raise UserError(
                f"{source / name} has {len(paths)} photos; the split needs more than "
                f"{need.test + need.val} ({need.test} test + {need.val} val)"
            )
    return found


def split_group(name: str, paths: list[Path], seed: int = DEFAULT_SEED) -> dict[str, list[Path]]:
    """The rule above for one group: ``{"test": [...], "val": [...], "train": [...]}``, sorted."""
    need = COUNTS[name.split("/")[0]]
    order = sorted(paths, key=lambda p: p.name)
    random.Random(f"revive-holdout/{name}/{seed}").shuffle(order)
    test, val = order[: need.test], order[need.test : need.test + need.val]
    train = order[need.test + need.val :]
    return {"test": sorted(test), "val": sorted(val), "train": sorted(train)}


def make_split(
    source: str | os.PathLike, dest: str | os.PathLike, seed: int = DEFAULT_SEED
) -> dict:
    """Write DEST/<kind>/<split>/[<class>/]<file> links; returns the split as names per group.

    DEST may already hold the same split (it is then left as it is); a different one is refused,
    so a test photo can never move into a training folder unnoticed.
    """
    source, dest = Path(source).expanduser().resolve(), Path(dest).expanduser()
    if not source.is_dir():
        raise UserError(f"{source} is not a folder (expected faces/, scenes/<class>/, varied/)")
    table: dict[str, dict[str, list[str]]] = {}
    for name, paths in groups(source).items():
        parts = split_group(name, paths, seed)
        table[name] = {s: [p.name for p in parts[s]] for s in SPLITS}
    record = {"source": str(source), "seed": seed, "groups": table}
    manifest = dest / "split.json"
    if manifest.exists():
        old = json.loads(manifest.read_text())
        if old != record:
            raise UserError(
                f"{dest} already holds another split (see {manifest}); choose an empty folder"
            )
        return record
    for name, parts in table.items():
        kind, _, cls = name.partition("/")
        for split, names in parts.items():
            folder = dest / kind / split / cls if cls else dest / kind / split
            folder.mkdir(parents=True, exist_ok=True)
            for file in names:
                link = folder / file
                if not link.is_symlink():
                    link.symlink_to(source / name / file)
    manifest.write_text(json.dumps(record, indent=1) + "\n")
    return record


PROGRAM = "revive-holdout"


@hydra_command("holdout", PROGRAM, {"--seed": "seed=N"}, positional=("source", "dest"))
def main(cfg: DictConfig) -> None:
    """``revive-holdout source=PHOTOS dest=SPLIT [seed=0]`` (``conf/holdout.yaml``)."""
    with user_errors(PROGRAM):
        for key in ("source", "dest"):
            if OmegaConf.is_missing(cfg, key):
                raise UserError(f"{key}= is missing: revive-holdout source=PHOTOS dest=SPLIT")
        record = make_split(cfg.source, cfg.dest, int(cfg.seed))
    for name, parts in record["groups"].items():
        print(f"{name:20s} " + "  ".join(f"{s} {len(parts[s]):5d}" for s in SPLITS))
    print(f"split written to {Path(cfg.dest) / 'split.json'}")


if __name__ == "__main__":
    main()
