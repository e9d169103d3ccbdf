"""Lightning callbacks: image panels in every logger and on disk, random states kept across
resumes, and a check that DDP replicas stay identical."""

from __future__ import annotations

import hashlib
import json
import logging
import random
import time
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.pytorch.loggers import TensorBoardLogger, WandbLogger

from revive.io import atomic_path, save_image
from revive.visual import panel, to_uint8

log = logging.getLogger(__name__)


class ImagePanels(L.Callback):
    """After each validation epoch, turn the model's ``panel`` (columns of images) into one picture.

    The picture goes to every active logger that can show images, and always to
    ``<run>/panels/epoch_XXXX.png`` so that runs can be compared without a dashboard. The cells
    of the latest epoch are also kept one by one (``<run>/panels/last/<column>_<i>.png``, with
    the column names in order in ``columns.json``), which ``revive.compare`` lays side by side
    across the runs of a sweep. Models order their columns input | prediction | target.
    """

    def __init__(self, key: str = "val/panels") -> None:
        self.key = key

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        columns = getattr(pl_module, "panel", None)
        if not columns or trainer.sanity_checking or not trainer.is_global_zero:
            return
        picture = panel(columns)
        caption = " | ".join(columns)
        folder = Path(trainer.default_root_dir) / "panels"
        save_image(picture, folder / f"epoch_{trainer.current_epoch:04d}.png")
        for name, images in columns.items():
            for i, image in enumerate(images):
                save_image(to_uint8(image), folder / "last" / f"{name}_{i:02d}.png")
        with atomic_path(folder / "last" / "columns.json") as tmp:
            tmp.write_text(json.dumps(list(columns)))
        for logger in trainer.loggers:
            if isinstance(logger, WandbLogger):
                logger.log_image(
                    key=self.key, images=[picture], caption=[caption], step=trainer.global_step
                )
            elif isinstance(logger, TensorBoardLogger):
                logger.experiment.add_image(
                    self.key, picture, trainer.global_step, dataformats="HWC"
                )


def capture_rng_states() -> dict[str, Any]:
    """Python, NumPy and torch (and CUDA) generator states, as types ``weights_only`` loads."""
    name, keys, pos, has_gauss, gauss = np.random.get_state()
    states: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": [name, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, gauss],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def restore_rng_states(states: dict[str, Any]) -> None:
    """Inverse of :func:`capture_rng_states`."""
    version, internal, gauss_next = states["python"]
    random.setstate((version, tuple(internal), gauss_next))
    name, keys, pos, has_gauss, gauss = states["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    torch.set_rng_state(states["torch"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


def _gather(trainer: L.Trainer, obj: Any) -> list[Any]:
    """``obj`` from every rank, in rank order (``[obj]`` outside distributed training)."""
    if trainer.world_size == 1 or not torch.distributed.is_initialized():
        return [obj]
    out: list[Any] = [None] * trainer.world_size
    torch.distributed.all_gather_object(out, obj)
    return out


class RngStates(L.Callback):
    """Keep every rank's random generator states in each checkpoint, and restore them on resume.

    Lightning restores weights, optimizers, schedulers and loop counters but not the generators,
    so dropout masks and noise draws would differ after a resume. The states are put back just
    before the first training step after the resume, once the new data-loader iterator has
    drawn its seeds, so that the steps after a resume draw exactly what they would have drawn
    without the interruption.
    """

    def __init__(self) -> None:
        self._to_restore: dict[str, Any] | None = None

    def on_save_checkpoint(self, trainer: L.Trainer, pl_module, checkpoint: dict) -> None:
        checkpoint["rng_states"] = _gather(trainer, capture_rng_states())

    def on_load_checkpoint(self, trainer: L.Trainer, pl_module, checkpoint: dict) -> None:
        per_rank = checkpoint.get("rng_states")
        if not per_rank:
            return
        same_layout = len(per_rank) == trainer.world_size
        if not same_layout:
            log.warning(
                "the checkpoint holds random states for %d processes, this run has %d: every "
                "process continues from rank 0's states",
                len(per_rank),
                trainer.world_size,
            )
        self._to_restore = per_rank[trainer.global_rank] if same_layout else per_rank[0]

    def on_train_batch_start(self, trainer: L.Trainer, pl_module, batch, batch_idx: int) -> None:
        if self._to_restore is not None:
            restore_rng_states(self._to_restore)
            self._to_restore = None


def state_digest(tensors: dict[str, torch.Tensor]) -> str:
    """SHA-256 over names and exact bytes: equal only for bit-identical tensors."""
    digest = hashlib.sha256()
    for name in sorted(tensors):
        digest.update(name.encode())
        flat = tensors[name].detach().cpu().contiguous().reshape(-1)
        digest.update(flat.view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


class ReplicaCheck(L.Callback):
    """At the end of a distributed fit, check that every rank holds the same weights.

    Data parallelism is only correct while all replicas stay identical; a rank that skipped a
    gradient reduction (e.g. a parameter unused by one of the GAN's two backward passes) would
    silently drift. Rank 0 writes ``replicas.json`` with each rank's digest of the parameters and
    of the buffers (BatchNorm statistics differ between ranks unless ``sync_batchnorm``), and
    the fit fails if the parameters differ.
    """

    def __init__(self, filename: str = "replicas.json") -> None:
        self.filename = filename

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.world_size == 1:
            return
        mine = {
            "parameters": state_digest(dict(pl_module.named_parameters())),
            "buffers": state_digest(dict(pl_module.named_buffers())),
        }
        ranks = _gather(trainer, mine)
        if not trainer.is_global_zero:
            return
        report = {
            "world_size": trainer.world_size,
            "ranks": ranks,
            "parameters_equal": len({r["parameters"] for r in ranks}) == 1,
            "buffers_equal": len({r["buffers"] for r in ranks}) == 1,
        }
        with atomic_path(Path(trainer.default_root_dir) / self.filename) as tmp:
            tmp.write_text(json.dumps(report, indent=2) + "\n")
        if not report["parameters_equal"]:
            raise RuntimeError(
                f"the {trainer.world_size} DDP replicas ended with different weights "
                f"(see {self.filename}); gradients were not synchronised for some parameters"
            )


class Throughput(L.Callback):
    """Training images per second, logged as ``train/images_per_s`` and printed every
    ``every_n_steps`` steps and at each epoch's end, so that a run shows how fast it trains
    (the time between batches includes waiting on the loader, so a starved step shows too)."""

    def __init__(self, every_n_steps: int = 100) -> None:
        self.every_n_steps = every_n_steps
        self._start: float | None = None
        self._images = 0
        self._epoch_start: float | None = None
        self._epoch_images = 0

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._epoch_start, self._epoch_images = None, 0
        self._start, self._images = None, 0

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        now = time.perf_counter()
        if self._start is None:  # the first batch pays for worker start-up: timing starts after it
            self._start = self._epoch_start = now
            return
        size = len(batch)  # a revive.batch type: its images
        self._images += size
        self._epoch_images += size
        if (batch_idx + 1) % self.every_n_steps == 0:
            rate = self._images / max(now - self._start, 1e-9)
            pl_module.log("train/images_per_s", rate)
            if trainer.is_global_zero:
                print(f"step {trainer.global_step}: {rate:.1f} images/s", flush=True)
            self._start, self._images = now, 0

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self._epoch_start is None or not trainer.is_global_zero:
            return
        seconds = time.perf_counter() - self._epoch_start
        rate = self._epoch_images / max(seconds, 1e-9)
        print(
            f"epoch {trainer.current_epoch}: {self._epoch_images} images in {seconds:.0f} s, "
            f"{rate:.1f} images/s",
            flush=True,
        )
