"""Official pix2pix checkpoints (plain state dicts with official keys) load into our networks."""

import pytest
import torch

from revive.errors import UserError
from revive.models.pix2pix import Pix2Pix
from revive.nets import PatchDiscriminator, UnetGenerator
from revive.weights.colorizer import load_colorizer, unet_config_from_state
from tests.tiny_runs import save_checkpoint


def official_generator_file(tmp_path, input_nc=1, output_nc=2, **kwargs):
    """What an official *_net_G.pth looks like: net.cpu().state_dict(), no `module.` prefix."""
    torch.manual_seed(0)
    net = UnetGenerator(input_nc, output_nc, **kwargs)
    for m in net.modules():  # non-trivial BN statistics so that eval() outputs depend on them
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    path = tmp_path / "latest_net_G.pth"
    torch.save(net.state_dict(), path)
    return path, net.eval()


def test_official_keys_are_ours():
    keys = set(UnetGenerator(1, 2).state_dict())
    assert {"model.model.0.weight", "model.model.1.model.2.running_mean"} <= keys
    assert "model.0.weight" in PatchDiscriminator(3).state_dict()


def test_official_generator_round_trip_gives_identical_outputs(tmp_path):
    path, reference = official_generator_file(tmp_path)
    net, space = load_colorizer(path)
    assert space.name == "lab"
    x = torch.randn(1, 1, 256, 256)
    with torch.no_grad():
        assert torch.equal(net(x), reference(x))


def test_official_discriminator_loads_strictly(tmp_path):
    d = PatchDiscriminator(3)
    torch.save(d.state_dict(), tmp_path / "latest_net_D.pth")
    other = PatchDiscriminator(3)
    other.load_state_dict(torch.load(tmp_path / "latest_net_D.pth", weights_only=True), strict=True)
    x = torch.randn(1, 3, 64, 64)
    assert torch.equal(d.eval()(x), other.eval()(x))


def test_architecture_is_inferred_from_keys(tmp_path):
    path, _ = official_generator_file(tmp_path, 1, 3, num_downs=7, ngf=16)
    state = torch.load(path, weights_only=True)
    assert unet_config_from_state(state) == {
        "_target_": "revive.nets.unet.UnetGenerator",
        "input_nc": 1,
        "output_nc": 3,
        "ngf": 16,
        "num_downs": 7,
        "norm": "batch",
    }
    net, space = load_colorizer(path)
    assert space.name == "rgb" and net.num_downs == 7


def test_our_checkpoint_gives_the_same_generator(tmp_path):
    model = Pix2Pix(color_space="rgb", generator={"ngf": 8, "num_downs": 6})
    save_checkpoint(model, tmp_path / "ours.ckpt")
    net, space = load_colorizer(tmp_path / "ours.ckpt")
    x = torch.randn(1, 1, 64, 64)
    with torch.no_grad():
        assert space.name == "rgb"
        assert torch.equal(net(x), model.generator.eval()(x))


def test_non_colorizer_generator_is_refused(tmp_path):
    path, _ = official_generator_file(tmp_path, 3, 3, num_downs=6, ngf=8)
    with pytest.raises(ValueError, match="3->3"):
        load_colorizer(path)


def test_unknown_format_lists_known_ones(tmp_path):
    torch.save({"conv.weight": torch.zeros(1)}, tmp_path / "x.pth")
    with pytest.raises(ValueError, match="model.model.0.weight"):
        load_colorizer(tmp_path / "x.pth")


def test_pickled_code_is_not_executed(tmp_path):
    torch.save({"state": UnetGenerator}, tmp_path / "evil.pth")  # a class object needs unpickling
    with pytest.raises(ValueError, match="weights_only"):
        load_colorizer(tmp_path / "evil.pth")


def test_safetensors_export_round_trip(tmp_path):
    from revive.weights.export import export_colorizer

    path, reference = official_generator_file(tmp_path, 1, 3, num_downs=6, ngf=8)
    out = export_colorizer(path, tmp_path / "colorizer.safetensors")
    net, space = load_colorizer(out)
    x = torch.randn(1, 1, 64, 64)
    with torch.no_grad():
        assert space.name == "rgb" and torch.equal(net(x), reference(x))
    with pytest.raises(UserError, match="exists"):
        export_colorizer(path, out)
