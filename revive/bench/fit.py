"""Time ``Trainer.fit`` on a model built from ``conf/train.yaml``, as ``train.py`` builds it.

The model and the Trainer come from the same config train.py composes (so the same precision,
memory format and optimizer options), and steps run through Lightning with its overhead
included. Only data loading is left out: batches are ready in memory. Each step waits for its
turn (:func:`revive.bench.common.await_turn`), so that a baseline in another process can take
turns with it.
"""

from __future__ import annotations

import logging
import tempfile
import warnings
from collections.abc import Sequence
from typing import Any

import lightning as L
import torch
from omegaconf import DictConfig
from torch.utils.data import DataLoader

from revive.bench.common import Clock, await_turn, default_device


def quiet_lightning() -> None:
    """Keep Lightning's start-up chatter out of benchmark output."""
    for name in ("lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", module="lightning")


def training_config(overrides: Sequence[str] = ()) -> DictConfig:
    """``conf/train.yaml`` composed with ``overrides``, as ``python train.py ...`` would."""
    from revive.config import compose

    return compose("train", overrides)


class StepTimer(L.Callback):
    """Times every training batch, from its start hook to its end hook (the training step with
    Lightning's precision plugin, optimizer wrappers and logging), each in its turn."""

    def __init__(self, device: torch.device) -> None:
        self.seconds: list[float] = []
        self._clock = Clock(device)

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx: int) -> None:
        await_turn()
        self._clock.start()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        self._clock.stop()
        self.seconds.append(self._clock.seconds)


def time_fit(
    cfg: DictConfig, batches: Sequence[Any], seed: int = 0
) -> tuple[list[float], L.LightningModule, L.Trainer]:
    """``Trainer.fit`` on ``batches``: the seconds of each step, the model and the Trainer."""
    from hydra.utils import instantiate

    quiet_lightning()
    torch.manual_seed(seed)
    model = instantiate(cfg.model)
    timer = StepTimer(default_device())
    with tempfile.TemporaryDirectory(prefix="revive-bench-") as tmp:
        trainer = instantiate(
            cfg.trainer,
            default_root_dir=tmp,
            logger=False,
            callbacks=[timer],
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            max_epochs=1,
            limit_train_batches=len(batches),
            limit_val_batches=0,
            num_sanity_val_steps=0,
        )
        trainer.fit(model, train_dataloaders=DataLoader(list(batches), batch_size=None))
    return timer.seconds, model, trainer


def optimizer_name(optimizer: torch.optim.Optimizer) -> str:
    """``Adam (fused)``: the class and its implementation flags."""
    group = optimizer.param_groups[0]
    flags = [k for k in ("fused", "foreach") if group.get(k)]
    return type(optimizer).__name__ + (f" ({', '.join(flags)})" if flags else "")
