"""WGAN-GP: the gradient penalty against its closed form, the n_critic schedule counted, the
critic's norm, and the logged Wasserstein estimate."""

from __future__ import annotations

import math

import lightning as L
import pytest
import torch
from hydra.errors import InstantiationException
from hydra.utils import instantiate

from revive.models.losses import gradient_penalty
from revive.restore import RestoreOptions, restore_paths
from revive.weights.colorizer import load_colorizer
from tests.tiny_runs import QUICK, TINY_PIX2PIX, image_folder, save_checkpoint


def test_gradient_penalty_of_a_linear_critic_is_closed_form():
    """For D(x) = <w, x> the gradient is w at every interpolate: penalty (||w|| - 1)^2."""
    torch.manual_seed(0)
    w = torch.randn(3, 8, 8, dtype=torch.float64)

    def critic(x):
        return (x * w).sum(dim=(1, 2, 3))

    real, fake = torch.randn(4, 3, 8, 8, dtype=torch.float64), torch.randn(4, 3, 8, 8).double()
    expected = (w.norm() - 1) ** 2
    assert torch.allclose(gradient_penalty(critic, real, fake), expected, rtol=1e-12)
    unit = w / w.norm()
    assert gradient_penalty(lambda x: (x * unit).sum(dim=(1, 2, 3)), real, fake).item() < 1e-20


class StepCounter(L.Callback):
    """Counts optimizer steps, in order: 'd' for the critic, 'g' for the generator."""

    def __init__(self) -> None:
        self.steps: list[str] = []

    def on_train_start(self, trainer, pl_module) -> None:
        opt_g, opt_d = trainer.optimizers
        opt_g.register_step_post_hook(lambda *_: self.steps.append("g"))
        opt_d.register_step_post_hook(lambda *_: self.steps.append("d"))


@pytest.mark.slow
def test_five_critic_steps_per_generator_step(make_cfg, tmp_path):
    root = image_folder(tmp_path / "photos", n_train=10, n_val=1, size=72)
    overrides = ["model=pix2pix_wgangp", "data=folder", f"data.root={root}", *TINY_PIX2PIX, *QUICK]
    cfg = make_cfg("train", overrides)
    model, data = instantiate(cfg.model), instantiate(cfg.data)
    assert model.hparams.n_critic == 5 and model.gan.gp_weight == 10.0
    counter = StepCounter()
    trainer = L.Trainer(
        accelerator="cpu",
        max_epochs=1,
        limit_train_batches=10,
        limit_val_batches=0,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        callbacks=[counter],
        log_every_n_steps=1,
    )
    trainer.fit(model, data)
    assert counter.steps == ["d"] * 5 + ["g"] + ["d"] * 5 + ["g"]
    opt_g, opt_d = model.optimizers()
    assert opt_g.param_groups[0]["betas"] == (0.0, 0.9) and opt_d.param_groups[0]["lr"] == 1e-4
    assert math.isfinite(trainer.callback_metrics["train/wasserstein"].item())


def test_a_batchnorm_critic_is_refused(make_cfg):
    cfg = make_cfg("train", ["model=pix2pix_wgangp", "model.discriminator.norm=batch"])
    with pytest.raises(InstantiationException, match="cannot use norm='batch'"):
        instantiate(cfg.model)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["model=pix2pix", "model.gan_mode=wgangp"], "use model=pix2pix_wgangp"),
        (["model=pix2pix_wgangp", "model.gan_mode=lsgan"], "use model=pix2pix"),
    ],
)
def test_there_is_one_wgangp(make_cfg, overrides, message):
    """WGAN-GP is model=pix2pix_wgangp only: a plain pix2pix with the wgangp loss would skip the
    critic schedule and norm, and the WGAN-GP model's gan_mode cannot be silently overwritten."""
    cfg = make_cfg("train", overrides)
    with pytest.raises(InstantiationException, match=message):
        instantiate(cfg.model)


def test_the_critic_has_layer_norm_by_default(make_cfg):
    model = instantiate(make_cfg("train", ["model=pix2pix_wgangp", *TINY_PIX2PIX]).model)
    kinds = {type(m).__name__ for m in model.discriminator.modules()}
    assert "GroupNorm" in kinds and "BatchNorm2d" not in kinds


def test_the_critic_cycle_survives_a_checkpoint(make_cfg):
    cfg = make_cfg("train", ["model=pix2pix_wgangp", *TINY_PIX2PIX])
    model, resumed = instantiate(cfg.model), instantiate(cfg.model)
    model.critic_steps = 13
    checkpoint: dict = {}
    model.on_save_checkpoint(checkpoint)
    resumed.on_load_checkpoint(checkpoint)
    assert resumed.critic_steps == 13


def test_predict_takes_a_wgangp_checkpoint(make_cfg, tmp_path):
    torch.manual_seed(0)
    model = instantiate(make_cfg("train", ["model=pix2pix_wgangp", *TINY_PIX2PIX]).model)
    ckpt = tmp_path / "last.ckpt"
    save_checkpoint(model, ckpt)
    net, space = load_colorizer(ckpt)
    x = torch.rand(1, 1, 64, 64) * 2 - 1
    with torch.no_grad():
        assert space.name == "lab" and torch.equal(net(x), model.generator.eval()(x))
    photos = image_folder(tmp_path / "in", n_train=1, n_val=0, size=40)
    summary = restore_paths(
        photos, tmp_path / "out", RestoreOptions(colorizer=ckpt, render_size=64, device="cpu")
    )
    assert len(summary.done) == 1
