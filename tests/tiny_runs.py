"""Tiny training runs for the tests of sweeps, DDP, resume, wandb, compare and experiments.

Runs go through ``train.py`` in a subprocess when the behaviour under test lives in Hydra's
command line (run folders, sweeps, DDP's re-launch of the script), and through
``revive.training.train`` otherwise.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import read_write

from revive.data.fakes import fake_photos
from revive.io import save_image
from revive.training.callbacks import capture_rng_states

# Hydra overrides for one batch per split (fast_dev_run) through a tiny but real Pix2Pix on CPU.
TINY_PIX2PIX = [
    "model.generator.ngf=8",
    "model.generator.num_downs=6",
    "model.discriminator.ndf=8",
    "data.load_size=72",
    "data.crop_size=64",
]
TINY_TRAIN = ["+trainer.fast_dev_run=true", "logger=csv", *TINY_PIX2PIX]

REPO = Path(__file__).resolve().parent.parent
TRAIN_PY = REPO / "train.py"

# A 3-layer DnCNN on 16x16 patches.
TINY_DNCNN = [
    "model.net.depth=3",
    "model.net.features=8",
    "model.panel_size=16",
    "data.patch_size=16",
    "data.stride=16",
    "data.scales=[1.0]",
    "data.batch_size=4",
]
# Quick, single-threaded, no workers, CPU.
QUICK = [
    "data.num_workers=0",
    "data.persistent_workers=false",
    "trainer.accelerator=cpu",
    "trainer.log_every_n_steps=1",
]


def image_folder(
    root: Path, n_train: int = 4, n_val: int = 2, size: int = 72, same: bool = False
) -> Path:
    """``root/train`` and ``root/val`` of smooth color PNGs (``same``: one picture repeated)."""
    photos = fake_photos(n_train + n_val, size, size, seed=5)
    if same:
        photos = np.repeat(photos[:1], n_train + n_val, axis=0)
    for i, photo in enumerate(photos):
        split = "train" if i < n_train else "val"
        save_image(photo, root / split / f"img_{i:02d}.png")
    return root


def gray_folder(root: Path, n: int = 4, size: int = 32, seed: int = 6) -> Path:
    """Gray PNGs, clean images for a denoiser."""
    for i, photo in enumerate(fake_photos(n, size, size, seed=seed)):
        save_image(photo[..., 1], root / f"gray_{i:02d}.png")
    return root


def pix2pix_args(data_root: Path, epochs: int = 1) -> list[str]:
    """A tiny pix2pix on ``data_root`` for ``epochs`` constant-lr epochs."""
    return [
        "data=folder",
        f"data.root={data_root}",
        *TINY_PIX2PIX,
        *QUICK,
        f"model.n_epochs={epochs}",
        "model.n_epochs_decay=0",
    ]


def run_train(
    args: Sequence[str], cwd: Path, timeout: float = 240, check: bool = True, **env: str
) -> subprocess.CompletedProcess:
    """``python train.py *args`` in ``cwd`` (outputs land in ``cwd/outputs``)."""
    environment = {**os.environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true", **env}
    proc = subprocess.run(
        [sys.executable, str(TRAIN_PY), *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"train.py {' '.join(args)} exited with {proc.returncode}:\n{proc.stderr[-4000:]}"
        )
    return proc


def only_child(folder: Path) -> Path:
    """The single subfolder of ``folder`` (a run folder under runs/<name>/)."""
    children = [p for p in folder.iterdir() if p.is_dir()]
    assert len(children) == 1, children
    return children[0]


def as_sweep_job() -> None:
    """Make ``train`` believe it runs inside ``python train.py -m`` (after ``make_cfg``)."""
    node = HydraConfig.instance().cfg.hydra
    with read_write(node):
        node.mode = RunMode.MULTIRUN


def tensor_digest(node: Any) -> str:
    """SHA-256 over every tensor and number in a nested state (optimizer/RNG), in key order."""
    digest = hashlib.sha256()

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for key in sorted(value, key=str):
                digest.update(str(key).encode())
                walk(value[key])
        elif isinstance(value, list | tuple):
            for item in value:
                walk(item)
        elif isinstance(value, torch.Tensor):
            digest.update(value.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy())
        elif isinstance(value, np.ndarray):
            digest.update(np.ascontiguousarray(value).tobytes())
        else:
            digest.update(repr(value).encode())

    walk(node)
    return digest.hexdigest()


class ResumeProbe(L.Callback):
    """Appends to ``path`` (JSON lines) the state the first step of a launch starts from, then
    each step's losses.

    Runs after :class:`revive.training.callbacks.RngStates` (it is added last), so the random states it
    records are the ones the first step after a resume draws from.
    """

    def __init__(self, path: str) -> None:
        self.path = Path(path)
        self.started = False

    def _write(self, record: dict) -> None:
        with self.path.open("a") as f:
            f.write(json.dumps(record) + "\n")
            f.flush()

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if self.started:
            return
        self.started = True
        self._write(
            {
                "event": "start",
                "global_step": trainer.global_step,
                "optimizers": [tensor_digest(o.state_dict()) for o in trainer.optimizers],
                "schedulers": [
                    c.scheduler.state_dict()["last_epoch"] for c in trainer.lr_scheduler_configs
                ],
                "rng": tensor_digest(capture_rng_states()),
                "weights": tensor_digest(pl_module.state_dict()),
            }
        )

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        loss_g, loss_d = float(outputs["loss_g"]), float(outputs["loss_d"])
        self._write(
            {
                "event": "step",
                "global_step": trainer.global_step,
                "g": loss_g,
                "d": loss_d,
                "rng": tensor_digest(capture_rng_states()),
                "weights": tensor_digest(pl_module.state_dict()),
            }
        )


def checkpoint_of(model: L.LightningModule) -> dict[str, Any]:
    """``model`` in the layout of train.py's checkpoints (weights and hyper-parameters, no
    optimizer states): what predict.py, eval.py and the loaders read."""
    return {"state_dict": model.state_dict(), "hyper_parameters": dict(model.hparams)}


def save_checkpoint(model: L.LightningModule, path: Path) -> Path:
    """:func:`checkpoint_of` ``model``, saved to ``path``."""
    torch.save(checkpoint_of(model), path)
    return path
