"""Pix2Pix through Hydra: configs compose, training runs, the schedule is the official one."""

import logging

import pytest
import torch
from hydra.utils import instantiate
from PIL import Image

from revive.batch import ColorBatch
from revive.errors import UserError
from revive.models.pix2pix import Pix2Pix
from revive.training.run import train
from tests.tiny_runs import TINY_PIX2PIX

TINY = TINY_PIX2PIX


def write_images(folder, n=6, size=(80, 70)):
    folder.mkdir(parents=True, exist_ok=True)
    rng = torch.Generator().manual_seed(0)
    for i in range(n):
        pixels = torch.randint(0, 256, (size[1], size[0], 3), generator=rng, dtype=torch.uint8)
        Image.fromarray(pixels.numpy()).save(folder / f"img_{i}.png")
    return folder


@pytest.mark.parametrize("space", ["lab", "rgb"])
@pytest.mark.parametrize("data", ["samples", "folder"])
def test_every_combination_composes_and_instantiates(make_cfg, tmp_path, space, data):
    overrides = ["model=pix2pix", f"data={data}", f"color_space={space}"]
    if data == "folder":
        overrides.append(f"data.root={write_images(tmp_path / 'imgs')}")
    cfg = make_cfg("train", overrides)
    model = instantiate(cfg.model)
    datamodule = instantiate(cfg.data)
    assert model.space.name == space
    assert model.generator.output_nc == (2 if space == "lab" else 3)
    assert cfg.trainer.max_epochs == 200
    datamodule.setup()
    batch = next(iter(datamodule.train_dataloader()))
    assert batch.rgb.shape == (1, 3, 256, 256) and batch.rgb.dtype == torch.uint8


@pytest.mark.slow
@pytest.mark.parametrize("space", ["lab", "rgb"])
def test_fast_dev_run_trains(make_cfg, space):
    cfg = make_cfg("train", [f"color_space={space}", "+trainer.fast_dev_run=true", "logger=csv"])
    metrics = train(cfg)
    for key in (
        "train/g_gan",
        "train/g_l1",
        "train/d_real",
        "train/d_fake",
        "val/psnr",
        "val/ssim",
        "val/colorfulness",
        "val/delta_cf",
    ):
        assert key in metrics and metrics[key] == metrics[key], key  # present and not NaN
    assert 5 < metrics["val/psnr"] < 60


@pytest.mark.slow
def test_short_run_writes_checkpoints_panels_and_config(make_cfg, tmp_path):
    cfg = make_cfg(
        "train",
        [
            *TINY,
            "data.train_samples=4",
            "data.batch_size=2",
            "trainer.max_epochs=2",
            "model.n_epochs=1",
            "model.n_epochs_decay=1",
        ],
    )
    metrics = train(cfg)
    run = tmp_path / "run"
    assert (run / "checkpoints" / "last.ckpt").is_file()
    assert any(p.name.startswith("best") for p in (run / "checkpoints").iterdir())
    assert (run / "config_resolved.yaml").read_text().count("lambda_l1: 100.0") == 1
    panels = sorted((run / "panels").glob("epoch_*.png"))
    assert len(panels) == 2
    width, height = Image.open(panels[-1]).size
    assert width > 3 * 64 and height > 2 * 64  # gray | prediction | truth, several images
    assert metrics["val/psnr"] > 0

    # resuming continues after the saved epoch instead of starting over
    last = run / "checkpoints" / "last.ckpt"
    before = torch.load(last, weights_only=False)
    first_panel_time = panels[0].stat().st_mtime_ns
    cfg.ckpt_path = str(last)
    cfg.trainer.max_epochs = 3
    cfg.model.n_epochs_decay = 2
    train(cfg)
    after = torch.load(last, weights_only=False)
    assert after["epoch"] == before["epoch"] + 1
    assert after["global_step"] == before["global_step"] * 3 // 2
    assert panels[0].stat().st_mtime_ns == first_panel_time  # epoch 0 was not redone


def test_learning_rate_follows_official_linear_policy():
    model = Pix2Pix(generator={"ngf": 8, "num_downs": 5}, n_epochs=100, n_epochs_decay=100)
    (opt_g, opt_d), schedulers = model.configure_optimizers()
    seen = {}
    for epoch in range(200):
        seen[epoch] = [opt_g.param_groups[0]["lr"], opt_d.param_groups[0]["lr"]]
        for s in schedulers:
            s.step()
    base = 2e-4
    assert seen[0] == [base, base]
    assert seen[99] == pytest.approx([base, base])
    assert seen[100] == pytest.approx([base * 100 / 101] * 2)
    assert seen[150] == pytest.approx([base * 50 / 101] * 2)
    assert seen[199] == pytest.approx([base * 1 / 101] * 2)
    assert opt_g.param_groups[0]["betas"] == (0.5, 0.999)


def test_d_step_then_g_step_updates_both(make_cfg):
    cfg = make_cfg("train", TINY)
    model = instantiate(cfg.model)
    before_g = [p.clone() for p in model.generator.parameters()]
    before_d = [p.clone() for p in model.discriminator.parameters()]
    (opt_g, opt_d), _ = model.configure_optimizers()
    model.optimizers = lambda: (opt_g, opt_d)
    model.manual_backward = lambda loss: loss.backward()
    model.log_dict = lambda *a, **k: None
    batch = ColorBatch(rgb=torch.randint(0, 256, (2, 3, 64, 64), dtype=torch.uint8))
    model.training_step(batch, 0)
    assert any(
        not torch.equal(a, b) for a, b in zip(before_g, model.generator.parameters(), strict=True)
    )
    assert any(
        not torch.equal(a, b)
        for a, b in zip(before_d, model.discriminator.parameters(), strict=True)
    )
    assert all(p.requires_grad for p in model.discriminator.parameters())


def test_wrong_config_key_names_the_key(make_cfg):
    with pytest.raises(UserError, match="lambda_l2=10: no such key; did you mean model.lambda_l1"):
        make_cfg("train", ["model.lambda_l2=10"])


def test_empty_folder_is_named(make_cfg, tmp_path):
    empty = tmp_path / "nothing_here"
    empty.mkdir()
    cfg = make_cfg("train", ["data=folder", f"data.root={empty}"])
    with pytest.raises(UserError, match="nothing_here"):
        instantiate(cfg.data).setup()


@pytest.mark.slow
def test_corrupt_image_is_skipped_with_a_warning(make_cfg, tmp_path, caplog):
    root = write_images(tmp_path / "imgs", n=3)
    (root / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    cfg = make_cfg(
        "train",
        [
            *TINY,
            "data=folder",
            f"data.root={root}",
            "data.val_fraction=0.25",
            "data.batch_size=1",
            "trainer.max_epochs=1",
            "model.n_epochs=1",
            "model.n_epochs_decay=0",
            "data.seed=3",
        ],
    )
    dm = instantiate(cfg.data)
    dm.setup()
    names = [p.name for p in dm.datasets["train"].paths + dm.datasets["val"].paths]
    assert "broken.jpg" in names
    with caplog.at_level(logging.WARNING):
        train(cfg)
    assert any("broken.jpg" in r.getMessage() for r in caplog.records)


class FixedOutput(torch.nn.Module):
    """A stand-in generator that returns a given prediction, whatever the input."""

    def __init__(self, output: torch.Tensor) -> None:
        super().__init__()
        self.output = output

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.output


def test_validation_metrics_are_fp32_under_bf16_autocast():
    from revive.data.samples import load_sample

    model = Pix2Pix(generator={"ngf": 8, "num_downs": 6}, discriminator={"ndf": 8}).eval()
    model.log_dict = lambda *a, **k: None
    batch = ColorBatch(
        rgb=torch.from_numpy(load_sample("astronaut")[:128, :128]).permute(2, 0, 1)[None]
    )
    _, y = model.split(batch)
    model.generator = FixedOutput(
        y + 0.01 * torch.randn(y.shape, generator=torch.Generator().manual_seed(0))
    )
    scores = []
    for bf16 in (False, True):
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            model._evaluate(batch, model.val_metrics, model.val_color, "val")
        scores.append({k: v for k, v in model.val_metrics.compute().items()})
        model.val_metrics.reset()
    fp32, bf16 = scores
    assert bf16["val/psnr"].dtype == torch.float32
    # a near-perfect prediction: bf16 color math or SSIM would lose ~1 dB and ~0.07 SSIM here
    assert bf16["val/psnr"].item() == pytest.approx(fp32["val/psnr"].item(), abs=1e-3)
    assert bf16["val/ssim"].item() == pytest.approx(fp32["val/ssim"].item(), abs=1e-4)


@pytest.mark.parametrize("space", ["lab", "rgb"])
def test_validation_scores_the_gray_floor_whatever_the_weights(space):
    """val/gray_psnr is the PSNR of the validation images left gray: it does not depend on the
    generator, and for LAB it is the image with its L* kept and a*b* set to zero."""
    import kornia.color as kc

    rgb = torch.randint(0, 256, (2, 3, 32, 32), generator=torch.Generator().manual_seed(1))
    batch = ColorBatch(rgb=rgb.to(torch.uint8))
    floors = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        model = Pix2Pix(space, generator={"num_downs": 5, "ngf": 4}, discriminator={"ndf": 4})
        model.eval()
        with torch.no_grad(), pytest.warns(UserWarning, match="self.log"):
            model.validation_step(batch, 0)
        floors.append(float(model.val_gray_psnr.compute()))
        assert float(model.val_metrics["psnr"].compute()) != floors[-1]
    assert floors[0] == floors[1]
    truth = rgb.float() / 255.0
    if space == "lab":
        lab = kc.rgb_to_lab(truth)
        gray = kc.lab_to_rgb(torch.cat([lab[:, :1], torch.zeros_like(lab[:, 1:])], 1), clip=True)
    else:  # the luma in all three channels
        gray = (truth * torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True)
        gray = gray.expand(-1, 3, -1, -1)
    mse = ((gray - truth) ** 2).flatten(1).mean(1)
    expected = (10 * torch.log10(1 / mse)).mean()
    assert floors[0] == pytest.approx(float(expected), abs=1e-4)  # float32 LAB round trip
