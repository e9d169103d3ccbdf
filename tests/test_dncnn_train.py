"""DnCNN training: patch data, the paper's loss, noise on the device, and runs through Hydra."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from revive.batch import DenoiseBatch
from revive.data.denoise import DenoiseDataModule, PatchDataset, dihedral
from revive.data.noise import gaussian_noise
from revive.errors import UserError
from revive.models.dncnn import DnCNNModule
from revive.training.run import train
from revive.weights.dncnn import load_denoiser
from tests.conftest import assert_fp32_close, require_shared


def write_images(folder: Path, n: int, size: int, mode: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        smooth = rng.integers(0, 256, (size // 8, size // 8, 3), dtype=np.uint8)
        image = Image.fromarray(smooth).resize((size, size), Image.BICUBIC).convert(mode)
        image.save(folder / f"{i:02d}.png")
    return folder


def test_patches_follow_the_papers_grid() -> None:
    """Train400's 180x180 images: 15^2 + 13^2 + 11^2 + 9^2 = 596 patches of 40x40 each."""
    data = PatchDataset([np.zeros((180, 180, 1), np.uint8)] * 2, 40, 10, (1.0, 0.9, 0.8, 0.7))
    assert len(data) == 2 * 596
    sample = data[len(data) - 1].clean
    assert sample.shape == (1, 40, 40) and sample.dtype == torch.float32


def test_the_eight_flips_and_rotations_are_distinct() -> None:
    image = np.arange(12, dtype=np.uint8).reshape(3, 4, 1)
    views = {
        dihedral(image, mode).tobytes() + bytes(dihedral(image, mode).shape) for mode in range(8)
    }
    assert len(views) == 8


def test_datamodule_batches_color_patches_and_whole_images(tmp_path: Path) -> None:
    train_dir = write_images(tmp_path / "train", 2, 64, "RGB")
    val_dir = write_images(tmp_path / "val", 2, 48, "RGB")
    dm = DenoiseDataModule(str(train_dir), str(val_dir), channels=3, batch_size=4, num_workers=0)
    dm.setup("fit")
    batch = next(iter(dm.train_dataloader())).clean
    assert batch.shape == (4, 3, 40, 40)
    assert batch.min() >= 0.0 and batch.max() <= 1.0
    assert next(iter(dm.val_dataloader())).clean.shape == (1, 3, 48, 48)


def test_datamodule_errors_name_the_config_key(tmp_path: Path) -> None:
    train_dir = write_images(tmp_path / "train", 1, 48, "L")
    with pytest.raises(UserError, match="data.val_dir is not set"):
        DenoiseDataModule(str(train_dir)).prepare_data()
    with pytest.raises(UserError, match="data.root="):
        DenoiseDataModule(str(tmp_path / "nothing"), str(train_dir)).prepare_data()
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no images"):
        DenoiseDataModule(str(train_dir), str(tmp_path / "empty")).prepare_data()


def test_blind_noise_has_one_sigma_per_sample() -> None:
    clean = torch.zeros(3, 1, 64, 64)
    noise = gaussian_noise(clean, torch.tensor([0.0, 10.0, 50.0]))
    stds = noise.flatten(1).std(1) * 255
    assert stds[0] == 0
    assert stds[1].item() == pytest.approx(10, rel=0.1)
    assert stds[2].item() == pytest.approx(50, rel=0.1)


def test_training_loss_is_the_papers() -> None:
    """1/(2N) sum ||R(y) - (y - x)||^2, with the noise the step itself drew."""
    module = DnCNNModule(net={"depth": 3, "features": 4}, sigma=25)
    clean = torch.rand(5, 1, 12, 12)
    torch.manual_seed(3)
    loss = module.training_step(DenoiseBatch(clean), 0)
    torch.manual_seed(3)
    noise = torch.randn_like(clean) * 25 / 255
    expected = ((module.net.residual(clean + noise) - noise) ** 2).sum() / (2 * 5)
    torch.testing.assert_close(loss, expected)


FAST_RUNS = {
    "dncnn": ("L", 1, 17),
    "dncnn_blind": ("L", 1, 20),
    "dncnn_color": ("RGB", 3, 20),
}


@pytest.mark.slow
@pytest.mark.parametrize("model", list(FAST_RUNS))
def test_fast_dev_run_through_hydra(make_cfg, tmp_path: Path, model: str) -> None:
    mode, channels, depth = FAST_RUNS[model]
    train_dir = write_images(tmp_path / "train", 2, 48, mode)
    val_dir = write_images(tmp_path / "val", 2, 32, mode)
    overrides = [f"model={model}", "data=denoise", f"data.root={train_dir}"]
    overrides += [f"data.val_dir={val_dir}", "data.batch_size=2", "+trainer.fast_dev_run=true"]
    if channels == 3:
        overrides.append("data.channels=3")
    cfg = make_cfg("train", overrides)
    assert cfg.model.net.depth == depth and cfg.data.channels == channels
    metrics = train(cfg)
    assert np.isfinite(metrics["train/loss"])
    assert metrics["val/psnr"] > 0


@pytest.mark.slow
def test_short_training_on_train400_denoises_set12(make_cfg, tmp_path: Path) -> None:
    """A small DnCNN, a few hundred steps on CPU: Set12 at sigma 25 rises well above the
    noisy input (about 20.2 dB); the checkpoint then loads through load_denoiser."""
    overrides = [
        "model=dncnn",
        "data=denoise",
        f"data.root={require_shared('Train400')}",
        f"data.val_dir={require_shared('Set12')}",
        "model.net.depth=8",
        "model.net.features=32",
        "model.n_epochs=1",
        "data.batch_size=32",
        "+trainer.limit_train_batches=100",
        "~logger",
        "~callbacks.lr_monitor",
    ]
    cfg = make_cfg("train", overrides)
    metrics = train(cfg)
    assert metrics["val/psnr"] >= 26.0
    ckpt = Path(cfg.paths.output_dir) / "checkpoints" / "last.ckpt"
    net = load_denoiser(ckpt)
    assert (net.depth, net.features, net.bn) == (8, 32, False)
    module = DnCNNModule.load_from_checkpoint(ckpt, map_location="cpu").eval()
    y = torch.rand(1, 1, 50, 50)
    with torch.inference_mode():
        assert_fp32_close(net(y), module(y))
