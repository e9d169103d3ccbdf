"""Swappable generators and discriminators: official ResNet generators (parameter counts, strict
official-layout loading), the pretrained-encoder U-Net, and checkpoints that rebuild any of them."""

from __future__ import annotations

import math

import lightning as L
import pytest
import timm
import torch
import torchvision
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from torch import nn
from torch.nn.utils import parametrize

from revive.nets.build import build_net, net_config
from revive.nets.patchgan import PatchDiscriminator, PixelDiscriminator
from revive.nets.pretrained_unet import PretrainedUnet
from revive.nets.resnet import ResnetGenerator
from revive.nets.unet import UnetGenerator
from revive.restore import RestoreOptions, restore_paths
from revive.training.run import train
from revive.weights.colorizer import load_colorizer, resnet_config_from_state
from revive.weights.export import export_colorizer
from tests.conftest import assert_fp32_close
from tests.tiny_runs import QUICK, image_folder, save_checkpoint


def n_params(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


@pytest.mark.parametrize(
    ("net", "expected"),
    [
        (lambda: ResnetGenerator(3, 3, 9, norm="instance"), 11_378_179),
        (lambda: ResnetGenerator(1, 3, 9, norm="instance"), 11_371_907),
        (lambda: ResnetGenerator(3, 1, 9, norm="instance"), 11_371_905),
        (lambda: ResnetGenerator(1, 2, 9, norm="instance"), 11_368_770),
        (lambda: ResnetGenerator(3, 3, 6, norm="instance"), 7_837_699),
        (lambda: UnetGenerator(1, 2, num_downs=7), 41_824_898),  # unet_128
    ],
)
def test_parameter_counts_equal_official(net, expected):
    assert n_params(net()) == expected


def test_resnet_keys_are_the_official_ones():
    keys = set(ResnetGenerator(3, 3, 9, norm="instance").state_dict())
    # official: pad 0, stem conv 1, downs 4 and 7, blocks 10..18, ups 19 and 22, last conv 26
    expected = {"model.1.weight", "model.4.weight", "model.10.conv_block.1.weight"}
    expected |= {"model.18.conv_block.5.bias", "model.19.weight", "model.26.weight"}
    assert expected <= keys
    assert "model.23.weight" in ResnetGenerator(3, 3, 6, norm="instance").state_dict()


@pytest.mark.parametrize(("output_nc", "space"), [(2, "lab"), (3, "rgb")])
def test_official_cyclegan_generator_loads_strictly(tmp_path, output_nc, space):
    """A ``*_net_G_A.pth`` (resnet_9blocks, instance norm, plain state dict) -> same outputs."""
    torch.manual_seed(0)
    official = ResnetGenerator(1, output_nc, 9, ngf=16, norm="instance").eval()
    path = tmp_path / "latest_net_G_A.pth"
    torch.save(official.state_dict(), path)
    state = torch.load(path, weights_only=True)
    assert resnet_config_from_state(state) == {
        "_target_": "revive.nets.resnet.ResnetGenerator",
        "input_nc": 1,
        "output_nc": output_nc,
        "n_blocks": 9,
        "ngf": 16,
        "norm": "instance",
        "dropout": 0.0,
    }
    net, got_space = load_colorizer(path)
    assert got_space.name == space
    x = torch.rand(1, 1, 32, 32) * 2 - 1
    with torch.no_grad():
        assert torch.equal(net(x), official(x))


def test_resnet_with_dropout_and_batch_norm_is_read_off_the_keys(tmp_path):
    path = tmp_path / "latest_net_G.pth"
    torch.save(ResnetGenerator(1, 3, 6, ngf=8, norm="batch", dropout=0.5).state_dict(), path)
    cfg = resnet_config_from_state(torch.load(path, weights_only=True))
    assert (cfg["n_blocks"], cfg["norm"], cfg["dropout"]) == (6, "batch", 0.5)
    load_colorizer(path)  # strict


@pytest.mark.parametrize("norm", ["batch", "instance", "layer", "none", "spectral"])
@pytest.mark.parametrize("cls", [PatchDiscriminator, PixelDiscriminator])
def test_discriminator_norms(cls, norm):
    d = cls(3, ndf=8, norm=norm)
    convs = [m for m in d.modules() if isinstance(m, nn.Conv2d)]
    assert all(parametrize.is_parametrized(c, "weight") == (norm == "spectral") for c in convs)
    has_bn = any(isinstance(m, nn.BatchNorm2d) for m in d.modules())
    assert has_bn == (norm == "batch")
    assert any(isinstance(m, nn.GroupNorm) for m in d.modules()) == (norm == "layer")
    assert d(torch.randn(2, 3, 32, 32)).shape[1] == 1


def test_patchgan_n_layers_sets_the_depth():
    assert len(PatchDiscriminator(3, 8, n_layers=5).model) > len(PatchDiscriminator(3, 8).model)


def test_build_refuses_targets_outside_revive_nets():
    with pytest.raises(ValueError, match="not a class of the revive.nets package"):
        build_net({"_target_": "os.system", "command": "true"})
    with pytest.raises(ValueError, match="not an nn.Module"):
        build_net({"_target_": "revive.nets.build.net_config"})


# -- pretrained_unet ------------------------------------------------------------------------------
def torchvision_resnet_file(tmp_path, name: str = "resnet34"):
    torch.manual_seed(0)
    model = getattr(torchvision.models, name)(weights=None).eval()
    for m in model.modules():  # non-trivial BN statistics
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.2, 0.2)
    path = tmp_path / f"{name}.pth"
    torch.save(model.state_dict(), path)
    return path, model


def torchvision_features(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    x = model.maxpool(model.relu(model.bn1(model.conv1(x))))
    return model.layer4(model.layer3(model.layer2(model.layer1(x))))


@pytest.mark.slow
def test_pretrained_unet_encoder_matches_the_torchvision_source(tmp_path):
    path, source = torchvision_resnet_file(tmp_path)
    net = PretrainedUnet(3, 2, encoder="resnet34", encoder_weights=str(path)).eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert_fp32_close(net.encoder(x)[-1], torchvision_features(source, x))


@pytest.mark.slow
def test_gray_input_equals_the_rgb_encoder_on_repeated_gray(tmp_path):
    path, _ = torchvision_resnet_file(tmp_path, "resnet18")
    gray = PretrainedUnet(1, 2, encoder="resnet18", encoder_weights=str(path)).eval()
    rgb = PretrainedUnet(3, 2, encoder="resnet18", encoder_weights=str(path)).eval()
    x = torch.rand(2, 1, 64, 64) * 2 - 1
    with torch.no_grad():
        for got, want in zip(
            gray.encoder(x)[1:], rgb.encoder(x.repeat(1, 3, 1, 1))[1:], strict=True
        ):
            assert_fp32_close(got, want)


@pytest.mark.slow
def test_convnext_encoder_loads_timm_weights_and_sums_its_stem_for_gray(tmp_path):
    torch.manual_seed(0)
    source = timm.create_model("convnext_tiny", pretrained=False).eval()
    path = tmp_path / "convnext_tiny.pth"
    torch.save(source.state_dict(), path)
    gray = PretrainedUnet(1, 2, encoder="convnext_tiny", encoder_weights=str(path)).eval()
    x = torch.rand(1, 1, 64, 64) * 2 - 1
    with torch.no_grad():  # the timm source on the gray image repeated over R, G and B
        assert_fp32_close(gray.encoder(x)[-1], source.forward_features(x.repeat(1, 3, 1, 1)))


def test_missing_encoder_weights_say_how_to_get_them(tmp_path):
    with pytest.raises(FileNotFoundError, match="Save the ImageNet weights of resnet34"):
        PretrainedUnet(1, 2, encoder_weights=str(tmp_path / "nope.pth"))


def test_random_encoder_weights_are_logged(make_cfg, caplog):
    cfg = make_cfg("train", generator_overrides("pretrained_unet"))
    with caplog.at_level("INFO"):
        instantiate(cfg.model)
    assert "encoder resnet18 has random weights (encoder_weights=null)" in caplog.text


# -- through Hydra: every generator x color space, and checkpoints that rebuild it ---------------
TINY_GENERATORS = {
    "unet_256": ["model.generator.ngf=8", "model.generator.num_downs=6"],
    "unet_128": ["model.generator.ngf=4", "data.load_size=136", "data.crop_size=128"],
    "resnet_9blocks": ["model.generator.ngf=4"],
    "resnet_6blocks": ["model.generator.ngf=4"],
    "pretrained_unet": [
        "model.generator.encoder=resnet18",
        "model.generator.decoder_channels=[16,16,16,8,8]",
    ],
}
TINY_D = ["model.discriminator.ndf=8", "data.load_size=72", "data.crop_size=64"]


def generator_overrides(name: str) -> list[str]:
    return [f"model/generator={name}", *TINY_D, *TINY_GENERATORS[name]]


@pytest.mark.slow
@pytest.mark.parametrize("space", ["lab", "rgb"])
@pytest.mark.parametrize("generator", list(TINY_GENERATORS))
def test_fast_dev_run_every_generator(make_cfg, tmp_path, generator, space):
    root = image_folder(tmp_path / "photos", n_train=2, n_val=1)
    overrides = [*generator_overrides(generator), f"color_space={space}", "data=folder"]
    overrides += [f"data.root={root}", *QUICK, "+trainer.fast_dev_run=true"]
    metrics = train(make_cfg("train", overrides))
    assert math.isfinite(metrics["val/psnr"]), metrics


@pytest.mark.slow
@pytest.mark.parametrize("generator", ["resnet_9blocks", "pretrained_unet"])
def test_checkpoint_rebuilds_its_generator_for_predict_and_export(make_cfg, tmp_path, generator):
    cfg = make_cfg("train", [*generator_overrides(generator), "model/discriminator=pixel"])
    torch.manual_seed(0)
    model = instantiate(cfg.model)
    assert model.hparams["generator"]["_target_"] == cfg.model.generator._target_
    ckpt = tmp_path / "last.ckpt"
    save_checkpoint(model, ckpt)

    net, space = load_colorizer(ckpt)
    assert type(net) is type(model.generator) and space.name == "lab"
    x = torch.rand(1, 1, 64, 64) * 2 - 1
    with torch.no_grad():
        expected = model.generator.eval()(x)
        assert torch.equal(net(x), expected)
        exported, _ = load_colorizer(export_colorizer(ckpt, tmp_path / "g.safetensors"))
        assert torch.equal(exported(x), expected)

    photos = image_folder(tmp_path / "in", n_train=1, n_val=0, size=40)
    summary = restore_paths(
        photos, tmp_path / "out", RestoreOptions(colorizer=ckpt, render_size=64, device="cpu")
    )
    assert len(summary.done) == 1 and (tmp_path / "out").rglob("*_revived.png")


def test_old_checkpoints_without_a_target_are_unets():
    assert net_config({"ngf": 8}, "revive.nets.unet.UnetGenerator") == {
        "_target_": "revive.nets.unet.UnetGenerator",
        "ngf": 8,
    }


class WeightsAtEpochEnd(L.Callback):
    """The encoder's and the decoder's weights after each training epoch."""

    def __init__(self) -> None:
        self.encoder: list[torch.Tensor] = []
        self.decoder: list[torch.Tensor] = []

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        unet = pl_module.generator.unet
        self.encoder.append(unet.encoder.conv1.weight.detach().clone())
        self.decoder.append(unet.segmentation_head[0].weight.detach().clone())


@pytest.mark.slow
def test_freeze_encoder_epochs_trains_the_decoder_first(make_cfg, tmp_path):
    root = image_folder(tmp_path / "photos", n_train=2, n_val=1)
    overrides = [*generator_overrides("pretrained_unet"), "model.freeze_encoder_epochs=1"]
    cfg = make_cfg("train", [*overrides, "data=folder", f"data.root={root}", *QUICK])
    model, data = instantiate(cfg.model), instantiate(cfg.data)
    start = model.generator.encoder.conv1.weight.detach().clone()
    seen = WeightsAtEpochEnd()
    trainer = L.Trainer(
        accelerator="cpu",
        max_epochs=2,
        limit_train_batches=1,
        limit_val_batches=0,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        callbacks=[seen],
    )
    trainer.fit(model, data)
    assert torch.equal(seen.encoder[0], start)  # epoch 0: encoder frozen
    assert not torch.equal(seen.encoder[1], start)  # epoch 1: it learns too
    assert not torch.equal(seen.decoder[0], seen.decoder[1])


def test_freeze_needs_a_pretrained_encoder(make_cfg):
    cfg = make_cfg(
        "train", [*TINY_D, *TINY_GENERATORS["unet_256"], "model.freeze_encoder_epochs=1"]
    )
    with pytest.raises(InstantiationException, match="needs a generator with a pretrained encoder"):
        instantiate(cfg.model)
