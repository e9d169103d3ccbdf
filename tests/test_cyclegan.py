"""CycleGAN: its losses on known inputs, the image pool, unpaired data, a training run, and its
gray->color generator as a colorizer (predict, official *_net_G_A.pth weights)."""

from __future__ import annotations

import math

import pytest
import torch
from hydra.utils import instantiate
from torch import nn

from revive.data.fakes import make_family
from revive.models.cyclegan import CycleGAN
from revive.models.image_pool import ImagePool
from revive.nets.resnet import ResnetGenerator
from revive.restore import RestoreOptions, restore_paths
from revive.training.run import train
from revive.weights.colorizer import load_colorizer
from tests.tiny_runs import QUICK, image_folder, save_checkpoint

TINY = ["model.generator.ngf=4", "model.generator.n_blocks=2", "model.discriminator.ndf=4"]
TINY += ["data.load_size=72", "data.crop_size=64", "data.a_load_size=72"]


class Fn(nn.Module):
    def __init__(self, fn) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(x)


def tiny_cyclegan(space: str = "lab") -> CycleGAN:
    return CycleGAN(
        space,
        generator={"_target_": "revive.nets.resnet.ResnetGenerator", "ngf": 4, "n_blocks": 1},
        discriminator={"ndf": 4, "norm": "instance"},
    )


def test_losses_on_known_inputs():
    """G_A outputs ab = 0 and G_B keeps L: the A cycle is exact, the B cycle loses the ab."""
    model = tiny_cyclegan("lab")
    model.generator = Fn(lambda x: torch.zeros_like(x).expand(-1, 2, -1, -1))
    model.generator_b = Fn(lambda c: c[:, :1])
    model.discriminator_a = Fn(lambda x: torch.full_like(x[:, :1], 0.25))
    model.discriminator_b = Fn(lambda x: torch.full_like(x[:, :1], -0.5))
    torch.manual_seed(0)
    real_a, real_b = torch.rand(2, 1, 8, 8) * 2 - 1, torch.rand(2, 3, 8, 8) * 2 - 1
    losses = model.generator_losses(real_a, real_b)
    assert losses["cycle_a"].item() == 0.0
    expected_b = 10.0 * real_b[:, 1:].abs().sum() / real_b.numel()  # L is kept, ab goes to 0
    assert torch.allclose(losses["cycle_b"], expected_b)
    assert losses["g_a"].item() == pytest.approx((-0.5 - 1) ** 2)  # lsgan: (D(fake_b) - 1)^2
    assert losses["g_b"].item() == pytest.approx((0.25 - 1) ** 2)
    total = losses["g_a"] + losses["g_b"] + losses["cycle_a"] + losses["cycle_b"]
    assert torch.allclose(losses["g"], total)
    assert torch.equal(losses["fake_b"], torch.cat([real_a, torch.zeros(2, 2, 8, 8)], 1))
    d_b = model.discriminator_loss(model.discriminator_b, real_b, losses["fake_b"])
    assert d_b.item() == pytest.approx(0.5 * ((-0.5 - 1) ** 2 + 0.5**2))


def test_identity_loss_is_refused_for_gray_to_color():
    with pytest.raises(ValueError, match="lambda_identity must be 0"):
        CycleGAN("lab", lambda_identity=0.5)


def test_image_pool_fills_then_swaps_half():
    pool = ImagePool(size=4, seed=0)
    first = torch.arange(4.0).view(4, 1, 1, 1).requires_grad_(True)
    out = pool.query(first)
    assert torch.equal(out, first.detach()) and not out.requires_grad
    stored = {float(x) for x in pool.images}
    swapped = 0
    for step in range(1000):
        new = torch.tensor([100.0 + step]).view(1, 1, 1, 1)
        got = float(pool.query(new))
        assert got == 100.0 + step or got in stored  # the input, or an older fake
        if got != 100.0 + step:
            swapped += 1
            stored.discard(got)
            stored.add(100.0 + step)
        assert len(pool.images) == 4 and stored == {float(x) for x in pool.images}
    # p = 1/2: over 1000 draws the binomial's sd is 0.016, so [0.45, 0.55] is beyond 3 sd
    assert 0.45 <= swapped / 1000 <= 0.55
    assert ImagePool(size=0).query(first) is first


@pytest.fixture
def unpaired(tmp_path):
    scans = make_family(tmp_path / "scans")  # 4 scans of mixed modes and sizes
    photos = image_folder(tmp_path / "photos", n_train=2, n_val=1)
    return scans, photos


def test_unpaired_epoch_is_the_larger_side(make_cfg, unpaired):
    scans, photos = unpaired
    cfg = make_cfg("train", ["data=unpaired", f"data.a_root={scans}", f"data.b_root={photos}"])
    cfg.data.crop_size, cfg.data.load_size, cfg.data.a_load_size = 32, 40, 40
    data = instantiate(cfg.data)
    data.setup("fit")
    assert len(data.datasets["train"]) == 4 and len(data.datasets["val"]) == 1
    batch = next(iter(data.train_dataloader()))
    assert batch.scans.shape == batch.rgb.shape == (1, 3, 32, 32)
    assert set(next(iter(data.val_dataloader())).tensors()) == {"rgb"}


def test_unpaired_names_the_missing_side(make_cfg, tmp_path, unpaired):
    _, photos = unpaired
    cfg = make_cfg(
        "train", ["data=unpaired", f"data.a_root={tmp_path}/none", f"data.b_root={photos}"]
    )
    with pytest.raises(FileNotFoundError, match="data.a_root=.*gray scans"):
        instantiate(cfg.data).setup("fit")


@pytest.mark.slow
@pytest.mark.parametrize("space", ["lab", "rgb"])
def test_cyclegan_trains_on_unpaired_data(make_cfg, unpaired, space):
    scans, photos = unpaired
    overrides = ["model=cyclegan", "data=unpaired", f"data.a_root={scans}", f"color_space={space}"]
    overrides += [f"data.b_root={photos}", *TINY, *QUICK, "+trainer.fast_dev_run=true"]
    metrics = train(make_cfg("train", overrides))
    assert math.isfinite(metrics["val/psnr"]) and math.isfinite(metrics["train/cycle_b"])


def test_official_g_a_weights_load_into_the_colorizer(make_cfg):
    cfg = make_cfg("train", ["model=cyclegan", "model.generator.ngf=8"])
    model = instantiate(cfg.model)
    official = ResnetGenerator(1, 2, 9, ngf=8, norm="instance")  # what *_net_G_A.pth holds
    model.generator.load_state_dict(official.state_dict(), strict=True)
    x = torch.rand(1, 1, 16, 16) * 2 - 1
    with torch.no_grad():
        assert torch.equal(model.generator(x), official(x))


@pytest.mark.slow
def test_predict_takes_a_cyclegan_checkpoint(tmp_path):
    torch.manual_seed(0)
    model = tiny_cyclegan("rgb")
    ckpt = tmp_path / "last.ckpt"
    save_checkpoint(model, ckpt)
    net, space = load_colorizer(ckpt)
    x = torch.rand(1, 1, 32, 32) * 2 - 1
    with torch.no_grad():
        assert space.name == "rgb" and torch.equal(net(x), model.generator.eval()(x))
    photos = image_folder(tmp_path / "in", n_train=1, n_val=0, size=40)
    summary = restore_paths(
        photos, tmp_path / "out", RestoreOptions(colorizer=ckpt, render_size=64, device="cpu")
    )
    assert len(summary.done) == 1
