"""See what the model will see: counts per split and a contact sheet of augmented samples.

    revive-inspect data=celeba data.root=PATH [split=train] [samples=16] [out=sheet.png]
                   [overwrite=true]

(``python -m revive.data.inspect``.) ``conf/inspect.yaml`` is the training config
(``conf/train.yaml``) with the inspector's keys, so any ``data.*`` setting that ``train.py``
accepts works here. The sheet shows each sample in color
(the target) with the network's input below it (``color_space``: LAB shows the gray of the
sample's L*, RGB its luma). With ``data.degrade=old_photo`` each sample has three rows: the clean
color target, its clean input, and the degraded gray scan the network is given instead.

For a denoiser (``data=denoise``) the sheet shows clean patches with the noisy patches the
network is given below them: the loader's scan noise (``data.degrade=old_photo``), or else the
Gaussian noise a DnCNN draws in its training step (``model.sigma``, or one sigma per patch from
``model.sigma_range``), drawn here from ``seed``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import DictConfig

from revive.batch import ColorBatch, DenoiseBatch, collate
from revive.color import ColorSpace, get_color_space
from revive.config import hydra_command
from revive.data.module import DataModule
from revive.data.noise import gaussian_noise, sample_sigmas
from revive.errors import UserError, user_errors
from revive.io import save_image
from revive.visual import grid, to_uint8

PROGRAM = "revive-inspect"
# The options of the command before it took key=value only, and what replaced each.
RETIRED = {
    "--split": "split=train|val|test",
    "--samples": "samples=N",
    "--columns": "columns=N",
    "--out": "out=PATH.png",
    "--overwrite": "overwrite=true",
}


def stacked_rows(shown: Sequence[torch.Tensor], columns: int) -> np.ndarray:
    """A grid of ``columns`` samples per line, each line one row per tensor of ``shown`` (the
    same samples seen as target, input ...), so that every view stands below its sample."""
    rows = []
    for start in range(0, len(shown[0]), columns):
        rows += [[to_uint8(img) for img in images[start : start + columns]] for images in shown]
    return grid(rows)


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
    return stacked_rows(shown, columns)


def denoise_sheet(
    samples: Sequence[DenoiseBatch],
    sigma: float | tuple[float, float] | None,
    seed: int,
    columns: int = 8,
) -> np.ndarray:
    """Rows of clean patches, each followed by a row of what the denoiser is given for them:
    the loader's noisy copies when it draws them, else Gaussian noise of ``sigma`` (one value,
    or ``(low, high)`` for one uniform sigma per patch) as the model's training step draws it;
    with neither, the clean rows alone."""
    batch = collate(list(samples))
    shown = [batch.clean]
    if batch.noisy is not None:
        shown.append(batch.noisy)
    elif sigma is not None:
        generator = torch.Generator().manual_seed(seed)
        if isinstance(sigma, tuple):
            sigma = sample_sigmas(len(batch), *sigma, generator=generator)
        shown.append(batch.clean + gaussian_noise(batch.clean, sigma, generator))
    return stacked_rows(shown, columns)


def model_sigma(model: DictConfig) -> float | tuple[float, float] | None:
    """The Gaussian noise level the composed ``model`` trains with (DnCNN's ``sigma_range``
    when set, else its ``sigma``), or ``None`` for a model that draws no noise."""
    if model.get("sigma_range") is not None:
        low, high = model.sigma_range
        return float(low), float(high)
    return None if model.get("sigma") is None else float(model.sigma)


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


def inspect(cfg: DictConfig) -> Path:
    """Print the counts of ``cfg.data`` and write the sheet; return its path. ``cfg`` is
    ``conf/inspect.yaml`` composed (the training config and the inspector's keys)."""
    out = None if cfg.out is None else Path(cfg.out)
    if out is not None and out.suffix.lower() != ".png":
        raise UserError(f"out={out}: the contact sheet is a PNG; end the name in .png")
    for key in ("samples", "columns"):
        if type(cfg[key]) is not int or cfg[key] < 1:
            raise UserError(f"{key}={cfg[key]}: it must be a whole number, at least 1")
    name = HydraConfig.get().runtime.choices.get("data", "data")
    datamodule: DataModule = instantiate(cfg.data)
    print_counts(name, datamodule)
    split = cfg.split or ("train" if "train" in datamodule.datasets else "val")
    if split not in datamodule.datasets:
        raise UserError(f"data={name} has no {split!r} split; it has {sorted(datamodule.datasets)}")
    dataset = datamodule.datasets[split]
    samples = [dataset[i] for i in pick(len(dataset), cfg.samples, cfg.seed)]

    if out is None:
        out = free_name(Path(cfg.paths.log_dir) / "inspect" / f"{name}_{split}.png")
    elif out.exists() and not cfg.overwrite:
        raise UserError(f"{out} exists; pass overwrite=true or choose another out=")
    if isinstance(samples[0], DenoiseBatch):
        sigma = model_sigma(cfg.model)
        save_image(denoise_sheet(samples, sigma, cfg.seed, cfg.columns), out)
        if samples[0].noisy is not None:
            below = "the loader's noisy copies below them"
        elif sigma is None:
            below = f"no noise: model={cfg.model._target_.rsplit('.', 1)[-1]} draws none"
        else:
            below = f"Gaussian noise of sigma {sigma} below them"
        print(f"wrote {out} ({len(samples)} {split} clean patches, {below})")
        return out
    save_image(contact_sheet(samples, get_color_space(cfg.color_space.name), cfg.columns), out)
    rows = "gray and degraded gray" if samples[0].degraded is not None else "gray"
    print(f"wrote {out} ({len(samples)} {split} samples after augmentation, {rows} below color)")
    return out


@hydra_command("inspect", PROGRAM, RETIRED)
def main(cfg: DictConfig) -> None:
    """``revive-inspect data=NAME [samples=16] [out=PNG] ...`` (``conf/inspect.yaml``)."""
    with user_errors(PROGRAM):  # e.g. a missing data.root
        inspect(cfg)


cli = main  # the console script's target (pyproject.toml)


if __name__ == "__main__":
    main()
