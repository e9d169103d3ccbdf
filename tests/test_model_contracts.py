"""What a colorizer subclass must provide, and the optimizers a module gets without Hydra.

- ``ColorizerModule`` names what its subclasses provide as abstract methods: a subclass that
  leaves one out cannot be built (``TypeError`` naming it), instead of failing at its first step.
- A module built in Python gets the optimizers (and DnCNN its schedule) that ``train.py`` gives
  the same model from its config: same hyper-parameters, fused Adam included.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from hydra.utils import instantiate

from revive.models.colorizer import ColorizerModule, gan_losses
from revive.models.cyclegan import CycleGAN
from revive.models.dncnn import DnCNNModule
from revive.models.pix2pix import Pix2Pix
from revive.models.pix2pix_wgangp import Pix2PixWGANGP
from revive.nets.build import DEFAULT_DISCRIMINATOR

TINY_UNET = {"ngf": 4, "num_downs": 5}
TINY_RESNET = {"ngf": 4, "n_blocks": 1}


class Complete(ColorizerModule):
    """The least a colorizer needs: a generator, what each optimizer trains, a step."""

    def make_generator(self) -> torch.nn.Module:
        return torch.nn.Conv2d(self.space.in_channels, self.space.out_channels, 1)

    def gan_parameters(self):
        return [self.generator.weight], [self.generator.bias]  # a toy split

    def training_step(self, batch, batch_idx: int):
        zero = torch.zeros(())
        return gan_losses(zero, zero)


def without(name: str) -> type[ColorizerModule]:
    """``Complete`` less one of its methods (left abstract)."""
    namespace = {k: v for k, v in vars(Complete).items() if k != name}
    namespace[name] = ColorizerModule.__dict__[name]
    return type(f"Without_{name}", (ColorizerModule,), namespace)


@pytest.mark.parametrize("name", ["make_generator", "gan_parameters", "training_step"])
def test_a_colorizer_missing_a_piece_cannot_be_built(name):
    with pytest.raises(TypeError, match=f"abstract.*{name}"):
        without(name)()


def test_a_complete_colorizer_and_the_shipped_ones_can_be_built():
    module = Complete()
    assert isinstance(module.generator, torch.nn.Conv2d)
    assert not module.automatic_optimization
    assert module.hparams["generator"]["_target_"] == Complete.default_generator
    assert module.hparams["discriminator"]["_target_"] == DEFAULT_DISCRIMINATOR
    (opt_g, opt_d), _ = module.configure_optimizers()
    assert opt_d.param_groups[0]["params"] == [module.generator.bias]
    Pix2Pix(generator=TINY_UNET, discriminator={"ndf": 4})
    Pix2PixWGANGP(generator=TINY_UNET, discriminator={"ndf": 4, "norm": "layer"})
    CycleGAN(generator=TINY_RESNET, discriminator={"ndf": 4})


def test_a_non_finite_loss_stops_the_run():
    module = Complete()
    module.trainer = SimpleNamespace(log_every_n_steps=1, current_epoch=0, global_step=0)
    module.on_train_batch_end(gan_losses(torch.tensor(1.0), torch.tensor(2.0)), None, 0)
    with pytest.raises(FloatingPointError, match="not finite"):
        module.on_train_batch_end(
            gan_losses(torch.tensor(float("nan")), torch.tensor(0.0)), None, 0
        )


def settings(optimizers, schedulers) -> list[dict]:
    """Every optimizer's and scheduler's settings, without the parameters themselves."""
    groups = [{k: v for k, v in o.param_groups[0].items() if k != "params"} for o in optimizers]
    skip = {"lr_lambdas", "last_epoch", "_step_count", "_last_lr", "_get_lr_called_within_step"}
    return groups + [{k: v for k, v in s.state_dict().items() if k not in skip} for s in schedulers]


def optimizer_settings(module) -> list[dict]:
    answer = module.configure_optimizers()
    if isinstance(answer, dict):  # DnCNN: one optimizer and its schedule
        return settings([answer["optimizer"]], [answer["lr_scheduler"]["scheduler"]])
    return settings(*answer)


MODELS = {
    "pix2pix": (
        lambda: Pix2Pix(generator=TINY_UNET, discriminator={"ndf": 4}),
        ["model.generator.ngf=4", "model.generator.num_downs=5", "model.discriminator.ndf=4"],
    ),
    "pix2pix_wgangp": (
        lambda: Pix2PixWGANGP(generator=TINY_UNET, discriminator={"ndf": 4, "norm": "layer"}),
        ["model.generator.ngf=4", "model.generator.num_downs=5", "model.discriminator.ndf=4"],
    ),
    "cyclegan": (
        lambda: CycleGAN(generator=TINY_RESNET, discriminator={"ndf": 4}),
        ["model.generator.ngf=4", "model.generator.n_blocks=1", "model.discriminator.ndf=4"],
    ),
    "dncnn": (lambda: DnCNNModule(net={"depth": 3, "features": 4}), ["model.net.depth=3"]),
}


@pytest.mark.parametrize("model", list(MODELS))
def test_a_module_built_in_python_gets_the_optimizers_of_its_config(model, make_cfg):
    build, overrides = MODELS[model]
    from_config = instantiate(make_cfg("train", [f"model={model}", *overrides]).model)
    built = optimizer_settings(build())
    assert built == optimizer_settings(from_config)
    if model != "dncnn":
        assert [group["fused"] for group in built[:2]] == [True, True]


def test_the_paper_optimizers_are_the_defaults():
    pix2pix = optimizer_settings(MODELS["pix2pix"][0]())
    wgangp = optimizer_settings(MODELS["pix2pix_wgangp"][0]())
    assert (pix2pix[0]["lr"], pix2pix[0]["betas"]) == (2e-4, (0.5, 0.999))  # Isola et al.
    assert (wgangp[0]["lr"], wgangp[0]["betas"]) == (1e-4, (0.0, 0.9))  # Gulrajani et al.
