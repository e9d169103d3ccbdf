"""Time ``Trainer.fit`` on a model built from ``conf/train.yaml``, as ``train.py`` builds it.

The model and the Trainer come from the same config train.py composes (so the same precision,
memory format and optimizer options), and steps run through Lightning with its overhead
included. Only data loading is left out: batches are ready in memory. A plain baseline can run
after each step on the same batch, so that ours and the baseline alternate step by step.
"""

from __future__ import annotations

import logging
import tempfile
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import lightning as L
import torch
from omegaconf import DictConfig
from torch.utils.data import DataLoader

from revive.bench.common import Clock, PairedTimes, default_device, timed


def quiet_lightning() -> None:
    """Keep Lightning's start-up chatter out of benchmark output."""
    for name in ("lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", module="lightning")


def training_config(overrides: Sequence[str] = ()) -> DictConfig:
    """``conf/train.yaml`` composed with ``overrides``, as ``python train.py ...`` would."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from revive.config import config_dir, register_resolvers

    register_resolvers()
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        return compose("train", overrides=list(overrides))


class StepTimer(L.Callback):
    """Times every training batch, from its start hook to its end hook (the training step with
    Lightning's precision plugin, optimizer wrappers and logging), and then runs ``baseline`` on
    the same batch and times it too, so that the two alternate step by step."""

    def __init__(self, device: torch.device, baseline: Callable[[Any], Any] | None = None) -> None:
        self.device, self.baseline = device, baseline
        self.times = PairedTimes()
        self._clock = Clock(device)

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx: int) -> None:
        self._clock.start()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        self._clock.stop()
        self.times.ours.append(self._clock.seconds)
        if self.baseline is not None:
            self.times.baseline.append(timed(self.baseline, batch, device=self.device))


def time_fit(
    cfg: DictConfig,
    batches: Sequence[Any],
    baseline: Callable[[Any], Any] | None = None,
    seed: int = 0,
) -> tuple[PairedTimes, L.LightningModule, L.Trainer]:
    """``Trainer.fit`` on ``batches`` with ``baseline`` run after each step: the step times,
    the model and the Trainer."""
    from hydra.utils import instantiate

    quiet_lightning()
    torch.manual_seed(seed)
    model = instantiate(cfg.model)
    timer = StepTimer(default_device(), baseline)
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
    return timer.times, model, trainer


def optimizer_name(optimizer: torch.optim.Optimizer) -> str:
    """``Adam (fused)``: the class and its implementation flags."""
    group = optimizer.param_groups[0]
    flags = [k for k in ("fused", "foreach") if group.get(k)]
    return type(optimizer).__name__ + (f" ({', '.join(flags)})" if flags else "")
