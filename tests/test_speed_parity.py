"""Speed options must not change what is learned.

- With every option off, one Pix2Pix step equals the plain official step (same init, same batch,
  same dropout masks): weights and BatchNorm statistics agree to float precision.
- channels_last and fused Adam compute the same step up to float rounding.
- bf16 mixed precision trains to the same validation metrics as fp32, within the spread that a
  different seed gives.
- ``precision: auto`` picks bf16 only on hardware that computes it natively.
- ``reuse_host_memory`` keeps freed memory in the process (glibc), and can be turned off.
"""

from __future__ import annotations

import copy
import functools
import platform
import subprocess
import sys

import pytest
import torch
from hydra.utils import instantiate

from revive import hardware
from revive.batch import ColorBatch
from revive.bench.pix2pix import OfficialStep
from revive.models.defaults import configured
from revive.models.pix2pix import Pix2Pix
from revive.training import trainer as trainer_module
from revive.training.run import train
from tests.tiny_runs import TINY_PIX2PIX

TINY_NETS = {"generator": {"ngf": 8, "num_downs": 6}, "discriminator": {"ndf": 8}}
TINY = TINY_PIX2PIX  # the Hydra overrides that build TINY_NETS


def rgb_batch(n: int = 2, size: int = 64, seed: int = 0) -> ColorBatch:
    rng = torch.Generator().manual_seed(seed)
    return ColorBatch(
        rgb=torch.randint(0, 256, (n, 3, size, size), generator=rng, dtype=torch.uint8)
    )


def run_module_step(model: Pix2Pix, batch, seed: int = 1) -> None:
    """``model.training_step`` without a Trainer (its optimizers, plain backward, no logging)."""
    (opt_g, opt_d), _ = model.configure_optimizers()
    model.optimizers = lambda: (opt_g, opt_d)
    model.manual_backward = lambda loss: loss.backward()
    model.log_dict = lambda *a, **k: None
    torch.manual_seed(seed)  # the dropout masks
    model.training_step(batch, 0)


def run_official_step(model: Pix2Pix, batch, seed: int = 1) -> tuple[torch.nn.Module, ...]:
    """The official step on copies of ``model``'s networks, before ``model`` is trained."""
    net_g, net_d = copy.deepcopy(model.generator), copy.deepcopy(model.discriminator)
    real_a, real_b = model.space.split(batch)
    torch.manual_seed(seed)
    OfficialStep(net_g, net_d)(real_a, real_b)
    return net_g, net_d


def assert_same_state(ours: torch.nn.Module, theirs: torch.nn.Module, **tolerance) -> None:
    theirs_state = theirs.state_dict()
    for key, value in ours.state_dict().items():
        torch.testing.assert_close(value, theirs_state[key], msg=key, **tolerance)


def test_step_with_speed_options_off_matches_the_official_step():
    unfused = configured("model/optimizer/official_adam", fused=False)  # the for-loop Adam
    torch.manual_seed(0)
    model = Pix2Pix(**TINY_NETS, optimizer_g=unfused, optimizer_d=unfused)
    batch = rgb_batch()
    before = copy.deepcopy(model.generator.state_dict())
    net_g, net_d = run_official_step(model, batch)
    run_module_step(model, batch)
    assert any(not torch.equal(before[k], v) for k, v in model.generator.state_dict().items())
    # Same ops in the same order: equal to the last bit, BatchNorm running statistics included.
    assert_same_state(model.generator, net_g, rtol=0, atol=0)
    assert_same_state(model.discriminator, net_d, rtol=0, atol=0)


def test_channels_last_and_fused_adam_compute_the_same_step():
    torch.manual_seed(0)
    model = Pix2Pix(**TINY_NETS, channels_last=True)  # the default optimizers: fused Adam
    assert model.generator.model.model[0].weight.is_contiguous(memory_format=torch.channels_last)
    batch = rgb_batch()
    net_g, net_d = run_official_step(model, batch)
    net_g, net_d = (n.to(memory_format=torch.contiguous_format) for n in (net_g, net_d))
    run_module_step(model, batch)
    # Adam's first step moves each weight by about lr * sign(grad), so rounding noise in a
    # near-zero gradient can move a weight by up to 2 * lr; the mean distance stays tiny.
    for ours, theirs in ((model.generator, net_g), (model.discriminator, net_d)):
        assert_same_state(ours, theirs, rtol=1e-4, atol=2 * 2e-4 + 1e-6)
        pairs = zip(ours.parameters(), theirs.parameters(), strict=True)
        diffs = [(a - b).abs().mean() for a, b in pairs]
        assert max(diffs) < 2e-6


def test_g_step_under_bf16_autocast_is_scored_by_the_updated_discriminator():
    """Lightning runs the whole manual-optimization step inside one autocast region, whose cache
    keeps bf16 copies of weights that require grad. D is frozen before G's step, so G must be
    scored with D's updated weights rather than stale cached copies."""
    torch.manual_seed(0)
    d_opt = functools.partial(torch.optim.Adam, lr=0.05, betas=(0.5, 0.999))  # a large D move
    model = Pix2Pix(**TINY_NETS, optimizer_d=d_opt)
    seen: list[tuple[torch.Tensor, torch.Tensor]] = []
    model.discriminator.register_forward_hook(lambda m, args, out: seen.append((args[0], out)))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        run_module_step(model, rgb_batch())
    (_, before_fake), (_, before_real), (g_pair, g_logits) = seen
    with torch.autocast("cpu", dtype=torch.bfloat16), torch.no_grad():
        fresh = model.discriminator(g_pair.detach())
    torch.testing.assert_close(g_logits.detach(), fresh, rtol=0, atol=0)


def test_compile_keeps_the_official_state_dict_keys():
    plain, compiled = Pix2Pix(**TINY_NETS), Pix2Pix(**TINY_NETS, compile=True)
    assert compiled.generator.state_dict().keys() == plain.generator.state_dict().keys()
    assert compiled.discriminator.state_dict().keys() == plain.discriminator.state_dict().keys()


# -- precision: auto --------------------------------------------------------------------------
@pytest.fixture
def pretend_machine(monkeypatch):
    """Pretend to be a machine: ``pretend_machine(cpu_bf16=..., cuda=None | (major, minor))``."""

    def pretend(cpu_bf16: bool, cuda: tuple[int, int] | None = None) -> None:
        monkeypatch.setattr(hardware, "cpu_has_native_bf16", lambda: cpu_bf16)
        monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda is not None)
        monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=0: cuda)
        monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)

    return pretend


@pytest.mark.parametrize(
    ("cpu_bf16", "cuda", "accelerator", "expected"),
    [
        (True, None, "auto", "bf16-mixed"),  # Zen 4/5, Sapphire Rapids
        (False, None, "auto", "32-true"),  # bf16 would be emulated: slower than fp32
        (False, (8, 0), "auto", "bf16-mixed"),  # A100
        (False, (9, 0), "gpu", "bf16-mixed"),  # H100
        (True, (7, 0), "auto", "32-true"),  # V100: no bf16 tensor cores
        (False, (8, 6), "cpu", "32-true"),  # forced onto a CPU without bf16
        (True, (7, 5), "cpu", "bf16-mixed"),
    ],
)
def test_auto_precision_follows_the_hardware(
    pretend_machine, cpu_bf16, cuda, accelerator, expected
):
    pretend_machine(cpu_bf16, cuda)
    assert hardware.resolve_precision("auto", accelerator) == expected


def test_explicit_precision_passes_through(pretend_machine):
    pretend_machine(cpu_bf16=True)
    for value in ("32-true", "bf16-mixed", "16-mixed", 32, None):
        assert hardware.resolve_precision(value, "cpu") == value


def test_default_trainer_trains_in_the_resolved_precision(make_cfg):
    cfg = make_cfg("train", TINY)
    assert cfg.trainer.precision == "auto"
    trainer = instantiate(cfg.trainer, logger=False)
    expected = "bf16-mixed" if hardware.cpu_has_native_bf16() else "32-true"
    assert trainer.precision == expected
    assert torch.backends.cudnn.benchmark  # on unless deterministic
    deterministic = instantiate(cfg.trainer, logger=False, deterministic=True)
    assert deterministic.precision == expected and not torch.backends.cudnn.benchmark


# -- reuse_host_memory ------------------------------------------------------------------------
RSS_AFTER_FREE = """
import sys, torch
from pathlib import Path
from revive.training.trainer import reuse_freed_memory
if sys.argv[1] == "reuse":
    assert reuse_freed_memory()
def rss_mb():
    line = next(l for l in Path("/proc/self/status").read_text().splitlines() if l.startswith("VmRSS"))
    return int(line.split()[1]) / 1024
before = rss_mb()
block = torch.ones(256 * 2**20, dtype=torch.uint8)  # 256 MiB, every page touched
del block
print(rss_mb() - before)
"""


def rss_growth_after_free(mode: str) -> float:
    done = subprocess.run(
        [sys.executable, "-c", RSS_AFTER_FREE, mode], capture_output=True, text=True, check=True
    )
    return float(done.stdout.split()[-1])


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="a glibc allocator setting")
def test_reused_memory_stays_in_the_process_and_default_malloc_returns_it():
    assert rss_growth_after_free("reuse") > 200  # kept for the next step's buffers
    assert rss_growth_after_free("default") < 50  # unmapped at once


def test_the_training_command_applies_the_allocator_setting_unless_told_not_to(
    make_cfg, monkeypatch
):
    """The training command applies it; building a Trainer (a library call) never does."""
    from revive.training.cli import prepare_process

    calls = []
    monkeypatch.setattr(trainer_module, "reuse_freed_memory", lambda: calls.append(1) or True)
    cfg = make_cfg("train", TINY)
    instantiate(cfg.trainer, logger=False)
    assert calls == []
    prepare_process(cfg)
    assert calls == [1]
    prepare_process(make_cfg("train", [*TINY, "trainer.reuse_host_memory=false"]))
    assert calls == [1]


# -- bf16 keeps quality -----------------------------------------------------------------------
def short_run(make_cfg, precision: str, seed: int) -> dict[str, float]:
    cfg = make_cfg(
        "train",
        [
            *TINY,
            f"trainer.precision={precision}",
            f"seed={seed}",
            "data.train_samples=16",
            "data.batch_size=4",
            "model.n_epochs=3",
            "model.n_epochs_decay=0",
            "~logger",
            "~callbacks",
            "+trainer.enable_checkpointing=false",
            "+trainer.enable_progress_bar=false",
        ],
    )
    return train(cfg)


@pytest.mark.slow
def test_bf16_reaches_the_validation_metrics_of_fp32(make_cfg):
    fp32 = short_run(make_cfg, "32-true", seed=1)
    bf16 = short_run(make_cfg, "bf16-mixed", seed=1)
    other_seed = short_run(make_cfg, "32-true", seed=2)
    for key in ("val/psnr", "val/ssim"):
        noise = abs(other_seed[key] - fp32[key])
        tolerance = max(2 * noise, 0.02 * abs(fp32[key]))
        assert abs(bf16[key] - fp32[key]) <= tolerance, (key, fp32, bf16, other_seed)
