"""``pix2pix_step``: images/s of one full Pix2Pix training step (one D step, one G step).

Two measurements of the same work (LAB colorization, 1 -> 2 channels, 256x256 crops):

- **ours**: the Pix2Pix module built from ``conf/train.yaml`` exactly as ``train.py`` builds it
  (``model=pix2pix``, ``trainer: default``, so the precision, memory format and optimizer options
  this machine trains with), driven by ``Trainer.fit``; each step is timed from Lightning's
  ``on_train_batch_start`` to ``on_train_batch_end`` (``training_step`` under the precision
  plugin, the optimizer wrappers, logging). Data loading is left out: the batches are ready in
  memory (the ``data_<name>`` benchmarks time the loaders).
- **baseline**: :class:`OfficialStep`, a plain eager fp32 re-implementation of the official
  ``pix2pix_model.optimize_parameters`` (contiguous tensors, no autocast, no compile, the default
  Adam), on the same networks and the same batches.

Both turn the uint8 RGB batch into LAB on the device first (``LabSpace.split``), as our training
does. Each runs in its own process, on the same batches, and the two processes take turns step
by step (:func:`revive.bench.common.run_in_turns`): process-wide settings of ours (the
allocator's, see ``revive.speed``) stay out of the baseline, each peak RSS is its own, and a
machine busy with other work slows both alike. The speedup is the ratio of their images/s over
the steps after the warm-up.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from revive.batch import ColorBatch
from revive.bench.common import (
    default_device,
    paired_fields,
    run_in_turns,
    run_isolated,
    significant,
    timed_steps,
)
from revive.bench.fit import optimizer_name, time_fit, training_config
from revive.color import LabSpace
from revive.nets import PatchDiscriminator, UnetGenerator, init_weights

CROP = 256
TARGET = "revive.bench.pix2pix"


def random_batches(
    count: int, batch_size: int, size: int = CROP, seed: int = 0
) -> list[ColorBatch]:
    """``count`` batches of random uint8 RGB crops, as a colorization DataLoader yields them."""
    rng = torch.Generator().manual_seed(seed)
    shape = (batch_size, 3, size, size)
    return [
        ColorBatch(rgb=torch.randint(0, 256, shape, generator=rng, dtype=torch.uint8))
        for _ in range(count)
    ]


class OfficialStep:
    """``optimize_parameters`` of junyanz/pytorch-CycleGAN-and-pix2pix, written plainly.

    forward -> D: BCE on fake (detached) then on real, times 0.5 -> D.step -> D frozen ->
    G: BCE of D(fake) against "real" + lambda * L1 -> G.step. Vanilla GAN loss, Adam(2e-4,
    (0.5, 0.999)), fp32, default memory format: the baseline every speed option is judged by.
    """

    def __init__(
        self,
        generator: nn.Module,
        discriminator: nn.Module,
        lambda_l1: float = 100.0,
        lr: float = 2e-4,
        betas: tuple[float, float] = (0.5, 0.999),
    ) -> None:
        self.net_g, self.net_d, self.lambda_l1 = generator, discriminator, lambda_l1
        self.opt_g = torch.optim.Adam(generator.parameters(), lr=lr, betas=betas)
        self.opt_d = torch.optim.Adam(discriminator.parameters(), lr=lr, betas=betas)
        self.bce, self.l1 = nn.BCEWithLogitsLoss(), nn.L1Loss()

    def gan_loss(self, prediction: torch.Tensor, real: bool) -> torch.Tensor:
        target = torch.tensor(1.0 if real else 0.0, device=prediction.device)
        return self.bce(prediction, target.expand_as(prediction))

    def set_d_requires_grad(self, flag: bool) -> None:
        for p in self.net_d.parameters():
            p.requires_grad = flag

    def __call__(self, real_a: torch.Tensor, real_b: torch.Tensor) -> dict[str, torch.Tensor]:
        fake_b = self.net_g(real_a)
        self.set_d_requires_grad(True)
        self.opt_d.zero_grad()
        loss_d_fake = self.gan_loss(self.net_d(torch.cat((real_a, fake_b), 1).detach()), False)
        loss_d_real = self.gan_loss(self.net_d(torch.cat((real_a, real_b), 1)), True)
        loss_d = (loss_d_fake + loss_d_real) * 0.5
        loss_d.backward()
        self.opt_d.step()

        self.set_d_requires_grad(False)
        self.opt_g.zero_grad()
        loss_g_gan = self.gan_loss(self.net_d(torch.cat((real_a, fake_b), 1)), True)
        loss_g_l1 = self.l1(fake_b, real_b) * self.lambda_l1
        loss_g = loss_g_gan + loss_g_l1
        loss_g.backward()
        self.opt_g.step()
        return {"d": loss_d.detach(), "g_gan": loss_g_gan.detach(), "g_l1": loss_g_l1.detach()}


def official_nets(seed: int = 0) -> tuple[UnetGenerator, PatchDiscriminator]:
    """``unet_256`` and the 70x70 PatchGAN for LAB colorization, initialised N(0, 0.02)."""
    torch.manual_seed(seed)
    space = LabSpace()
    generator = init_weights(UnetGenerator(space.in_channels, space.out_channels))
    discriminator = init_weights(PatchDiscriminator(space.in_channels + space.out_channels))
    return generator, discriminator


def official_baseline(device: torch.device, seed: int = 0) -> Callable[[ColorBatch], Any]:
    """The baseline step on a batch: RGB -> LAB on the device, then :class:`OfficialStep`."""
    generator, discriminator = official_nets(seed)
    step = OfficialStep(generator.to(device).train(), discriminator.to(device).train())
    space = LabSpace()
    return lambda batch: step(*space.split(ColorBatch(rgb=batch.rgb.to(device))))


def pix2pix_step_gflop(size: int = 256) -> float:
    """GFLOP of one official Pix2Pix training step on one ``size``² LAB image (1 -> 2 channels):
    G forward and backward, D three times forward (fake, real, fake for G) and backward.
    Counted by ``torch.utils.flop_counter`` on meta tensors: nothing is computed."""
    space = LabSpace()
    with torch.device("meta"):
        generator, discriminator = official_nets()
        real_a = torch.empty(1, space.in_channels, size, size)
        real_b = torch.empty(1, space.out_channels, size, size)
    step = OfficialStep(generator.train(), discriminator.train())
    with FlopCounterMode(display=False) as counter:
        step(real_a, real_b)
    return counter.get_total_flops() / 1e9


def measure_baseline(batch_size: int, steps: int, warmup: int, seed: int = 0) -> dict[str, Any]:
    """Seconds of each baseline step (child process of :func:`run_in_turns`)."""
    device = default_device()
    step = official_baseline(device, seed)
    return {
        "step_s": timed_steps(step, random_batches(warmup + steps, batch_size, seed=seed), device)
    }


def measure_training(
    batch_size: int, steps: int, warmup: int, overrides: Sequence[str] = (), seed: int = 0
) -> dict[str, Any]:
    """Seconds of each step of ``Trainer.fit`` on the Pix2Pix module that ``train.py`` builds,
    and its speed settings (child process of :func:`run_in_turns`)."""
    cfg = training_config(["model=pix2pix", "color_space=lab", *overrides])
    batches = random_batches(warmup + steps, batch_size, seed=seed)
    seconds, model, trainer = time_fit(cfg, batches, seed)
    return {
        "step_s": seconds,
        "precision": str(trainer.precision),
        "channels_last": bool(model.hparams.channels_last),
        "compile": bool(model.hparams.compile),
        "optimizer": optimizer_name(trainer.optimizers[0]),
    }


def pix2pix_step(
    batch_sizes: Sequence[int] = (1, 4),
    steps: int = 8,
    warmup: int = 2,
    repeats: int = 1,
    overrides: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """One record per batch size, from ``repeats`` runs of ours and the baseline in turns,
    with the arithmetic rate of each against this machine's matrix-product ceilings."""
    gflop = pix2pix_step_gflop()
    ceilings = run_isolated("revive.bench.flops:measure_ceilings")
    records = []
    for batch_size in batch_sizes:
        args = {"batch_size": batch_size, "steps": steps, "warmup": warmup}
        ours_args = {**args, "overrides": list(overrides)}
        runs = [
            run_in_turns(
                (f"{TARGET}:measure_training", ours_args), (f"{TARGET}:measure_baseline", args)
            )
            for _ in range(repeats)
        ]
        first = runs[0][0]
        settings = f"{first['precision']}, {first['optimizer']}" + "".join(
            f", {flag}" for flag in ("channels_last", "compile") if first[flag]
        )
        records.append(
            {
                "name": "pix2pix_step",
                "metric": "images_per_s",
                "batch_size": batch_size,
                **(fields := paired_fields("images_per_s", runs, batch_size, warmup)),
                "gflop_per_image": significant(gflop),
                "gflops": significant(fields["images_per_s"] * gflop, 3),
                "baseline_gflops": significant(fields["baseline_images_per_s"] * gflop, 3),
                "matmul_gflops": ceilings,
                "settings": settings,
                "precision": first["precision"],
                "channels_last": first["channels_last"],
                "compile": first["compile"],
                "optimizer": first["optimizer"],
                "overrides": list(overrides),
                "steps": steps,
                "warmup": warmup,
                "repeats": repeats,
            }
        )
    return records
