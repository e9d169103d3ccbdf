"""Fake copies of each real dataset layout, written into a given folder.

The tests write tiny ones into ``tmp_path``; the benchmarks (``revive.bench``) write ones of the
real datasets' image sizes. Every generator is deterministic, returns the path to pass as
``data.root``, and draws smooth color pictures (not noise) so that JPEG compression, resizing
and LAB behave as on photos; ``grain`` adds film-like noise, which gives JPEG files realistic
sizes and decoding costs.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

CELEBA_SIZE = (178, 218)  # (width, height) of the official aligned images
EXIF_ORIENTATION = 0x0112


def fake_photos(
    n: int, height: int, width: int, seed: int = 0, cell: int | None = None, grain: float = 0.0
) -> np.ndarray:
    """``n`` smooth color pictures, uint8 [n, height, width, 3]: colored fields plus a gradient.

    The fields form a 4x4 grid, or one field per ``cell`` pixels (finer detail, as in a large
    photo); ``grain`` is the standard deviation of Gaussian grain on the 0-255 scale.
    """
    rng = np.random.default_rng(seed)
    grid = (4, 4) if cell is None else (max(2, height // cell), max(2, width // cell))
    photos = np.empty((n, height, width, 3), np.uint8)
    ramp = np.linspace(0.0, 60.0, width, dtype=np.float32)[None, :, None]
    for i in range(n):
        coarse = rng.uniform(20, 235, size=(*grid, 3)).astype(np.float32)
        field = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC) + ramp - 30.0
        if grain:
            field += rng.normal(0.0, grain, field.shape).astype(np.float32)
        photos[i] = np.clip(field, 0, 255).astype(np.uint8)
    return photos


def _save(array: np.ndarray, path: Path, **kwargs) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, **kwargs)
    return path


def make_folder(
    root: str | Path, n: int = 6, size: tuple[int, int] = (48, 40), grain: float = 0.0
) -> Path:
    """A plain tree of ``n`` RGB images (JPEG and PNG, some in a subfolder), ``size`` = (w, h)."""
    root = Path(root)
    photos = fake_photos(n, size[1], size[0], seed=1, cell=_cell(size), grain=grain)
    for i, photo in enumerate(photos):
        sub = root / "more" if i % 3 == 2 else root
        _save(photo, sub / f"img_{i:03d}.{'png' if i % 2 else 'jpg'}")
    return root


def _cell(size: tuple[int, int]) -> int | None:
    """Field size for a picture of ``size``: the 4x4 grid for small ones, finer for large ones."""
    return 32 if max(size) > 128 else None


def make_celeba(
    root: str | Path,
    n: int = 12,
    partition: Sequence[int] | None = None,
    csv: bool = False,
    grain: float = 0.0,
) -> Path:
    """CelebA aligned layout: ``img_align_celeba/000001.jpg`` … (178x218) and the partition file.

    ``partition`` gives each image's split (0 train, 1 val, 2 test); by default two thirds train
    and the rest split between val and test. ``csv=True`` writes Kaggle's
    ``list_eval_partition.csv`` instead of the official ``list_eval_partition.txt``.
    """
    root = Path(root)
    if partition is None:
        n_train = max(1, (2 * n) // 3)
        n_val = (n - n_train + 1) // 2
        partition = [0] * n_train + [1] * n_val + [2] * (n - n_train - n_val)
    if len(partition) != n:
        raise ValueError(f"partition has {len(partition)} entries for {n} images")
    width, height = CELEBA_SIZE
    names = [f"{i + 1:06d}.jpg" for i in range(n)]
    for name, photo in zip(names, fake_photos(n, height, width, seed=2, grain=grain), strict=True):
        _save(photo, root / "img_align_celeba" / name, quality=90)
    if csv:
        lines = ["image_id,partition"] + [f"{m},{p}" for m, p in zip(names, partition, strict=True)]
        (root / "list_eval_partition.csv").write_text("\n".join(lines) + "\n")
    else:
        lines = [f"{m} {p}" for m, p in zip(names, partition, strict=True)]
        (root / "list_eval_partition.txt").write_text("\n".join(lines) + "\n")
    return root


def colorization_photos(n: int = 10, size: int = 32, grain: float = 0.0) -> np.ndarray:
    """The RGB pictures that :func:`make_colorization` encodes (to check decoding against)."""
    return fake_photos(n, size, size, seed=3, cell=_cell((size, size)), grain=grain)


def make_colorization(
    root: str | Path,
    n: int = 10,
    nested: bool = True,
    size: int = 32,
    chunks: int = 3,
    grain: float = 0.0,
) -> Path:
    """The Kaggle "Image Colorization Dataset": ``l/gray_scale.npy`` [n,size,size] and the ab
    channels split over ``ab1.npy`` … ``ab<chunks>.npy`` [k,size,size,2], all uint8.

    The arrays are OpenCV's 8-bit LAB of :func:`colorization_photos` (L*255/100, a+128, b+128),
    as in the real files. ``nested=True`` puts them in ``ab/ab/`` (the Kaggle zip), else ``ab/``.
    """
    root = Path(root)
    lab = np.stack(
        [cv2.cvtColor(p, cv2.COLOR_RGB2LAB) for p in colorization_photos(n, size, grain)]
    )
    (root / "l").mkdir(parents=True, exist_ok=True)
    np.save(root / "l" / "gray_scale.npy", np.ascontiguousarray(lab[..., 0]))
    ab_dir = root / "ab" / "ab" if nested else root / "ab"
    ab_dir.mkdir(parents=True, exist_ok=True)
    for i, part in enumerate(np.array_split(lab[..., 1:], chunks), start=1):
        np.save(ab_dir / f"ab{i}.npy", np.ascontiguousarray(part))
    return root


def make_art(
    root: str | Path,
    categories: Sequence[str] = ("painting", "drawings"),
    n_train: int = 4,
    n_val: int = 2,
    size: tuple[int, int] = (60, 48),
    sides: tuple[int, int] | None = None,
    troublemakers: bool = True,
    grain: float = 0.0,
) -> Path:
    """Kaggle "Art Images" layout: ``dataset_updated/{training_set,validation_set}/<category>/``.

    ``n_train``/``n_val`` RGB JPEGs per category, of ``size`` = (w, h), or with ``sides`` each
    image's width and height drawn from that range (the real paintings vary in size). With
    ``troublemakers``, the first category's training set also holds those of the real set:
    ``broken.jpg`` (not an image), ``cmyk.jpg`` (CMYK) and ``gray.png`` (grayscale), so it has
    ``n_train + 2`` readable images.
    """
    base = Path(root) / "dataset_updated"
    seed = 10
    for category in categories:
        for split, count in (("training_set", n_train), ("validation_set", n_val)):
            seed += 1
            folder = base / split / category
            if sides is None:
                for i, photo in enumerate(
                    fake_photos(count, size[1], size[0], seed=seed, grain=grain)
                ):
                    _save(photo, folder / f"{category}_{i:03d}.jpg")
                continue
            rng = np.random.default_rng(seed)
            for i in range(count):
                width, height = (int(v) for v in rng.integers(sides[0], sides[1] + 1, 2))
                photo = fake_photos(1, height, width, seed=seed * 1000 + i, cell=32, grain=grain)
                _save(photo[0], folder / f"{category}_{i:03d}.jpg", quality=90)
    if not troublemakers:
        return Path(root)
    first = base / "training_set" / categories[0]
    extra = fake_photos(2, size[1], size[0], seed=99)
    first.mkdir(parents=True, exist_ok=True)
    Image.fromarray(extra[0]).convert("CMYK").save(first / "cmyk.jpg")
    _save(cv2.cvtColor(extra[1], cv2.COLOR_RGB2GRAY), first / "gray.png")
    (first / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not really a JPEG" * 4)
    return Path(root)


def make_family(root: str | Path) -> Path:
    """Old scans as families keep them: nested folders, mixed formats and modes.

    - ``1950s/wedding.png``: 16-bit grayscale (I;16) PNG, 80x64;
    - ``1950s/beach/portrait.png``: RGBA with a transparent border, 50x70;
    - ``phone/rotated.jpg``: a 40x30 JPEG stored sideways with EXIF orientation 6 (shows 30x40);
    - ``sepia.tif``: an RGB TIFF toned sepia, 72x72.
    """
    root = Path(root)
    gray16 = (fake_photos(1, 64, 80, seed=20)[0, ..., 1].astype(np.uint16) * 257).astype(np.uint16)
    (root / "1950s").mkdir(parents=True, exist_ok=True)
    Image.fromarray(gray16).save(root / "1950s" / "wedding.png")  # mode I;16

    rgba = np.dstack([fake_photos(1, 70, 50, seed=21)[0], np.full((70, 50), 255, np.uint8)])
    rgba[:5, :, 3] = 0
    _save(rgba, root / "1950s" / "beach" / "portrait.png")

    exif = Image.Exif()
    exif[EXIF_ORIENTATION] = 6  # rotate 90° clockwise to display
    _save(fake_photos(1, 30, 40, seed=22)[0], root / "phone" / "rotated.jpg", exif=exif)

    luma = cv2.cvtColor(fake_photos(1, 72, 72, seed=23)[0], cv2.COLOR_RGB2GRAY).astype(np.float32)
    tone = np.array([1.0, 0.85, 0.62], np.float32)
    _save(np.clip(luma[..., None] * tone, 0, 255).astype(np.uint8), root / "sepia.tif")
    return root


def make_study(root: str | Path, n: int = 3) -> Path:
    """The two test folders of ``experiment=seed_study``: ``faces/`` (``n`` CelebA-sized
    178x218 portraits, JPEG) and ``general/`` (``n`` landscape photos of 96x64, PNG)."""
    root = Path(root)
    width, height = CELEBA_SIZE
    for i, photo in enumerate(fake_photos(n, height, width, seed=30)):
        _save(photo, root / "faces" / f"face_{i:02d}.jpg", quality=90)
    for i, photo in enumerate(fake_photos(n, 64, 96, seed=31)):
        _save(photo, root / "general" / f"photo_{i:02d}.png")
    return root


def make_colorize_split(root: str | Path, n_train: int = 4, n_eval: int = 2) -> Path:
    """What ``python -m revive.data.holdout`` writes, for ``experiment=revive_colorizer``:
    ``faces/``, ``scenes/<class>/`` and ``varied/`` photos under ``train/``, ``val/``, ``test/``
    (faces 56x48, two scene classes of 48x48, varied 64x40)."""
    root = Path(root)
    groups = [("faces", "", (56, 48)), ("scenes", "sea", (48, 48))]
    groups += [("scenes", "street", (48, 48)), ("varied", "", (64, 40))]
    seed = 40
    for kind, cls, (width, height) in groups:
        for split, n in (("train", n_train), ("val", n_eval), ("test", n_eval)):
            seed += 1
            for i, photo in enumerate(fake_photos(n, height, width, seed=seed)):
                _save(photo, root / kind / split / cls / f"{kind}_{i:02d}.jpg", quality=90)
    return root
