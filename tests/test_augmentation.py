"""The seed's augmentation, and its reproducibility across runs and loader workers."""

import numpy as np
import pytest
import torch

from revive.data.module import resolve_pin_memory
from revive.data.samples import SamplesDataModule
from revive.data.transforms import eval_transform, train_transform


def test_train_transform_is_resize_crop_flip():
    image = np.random.default_rng(0).integers(0, 256, (300, 400, 3), dtype=np.uint8)
    out = train_transform(286, 256, seed=0)(image=image)["image"]
    assert out.shape == (256, 256, 3) and out.dtype == np.uint8
    names = [type(t).__name__ for t in train_transform(286, 256).transforms]
    assert names == ["Resize", "RandomCrop", "HorizontalFlip"]
    assert eval_transform(256)(image=image)["image"].shape == (256, 256, 3)


def batches(num_workers: int, seed: int) -> torch.Tensor:
    torch.manual_seed(seed)
    dm = SamplesDataModule(
        train_names=["astronaut"],
        train_samples=8,
        batch_size=4,
        num_workers=num_workers,
        persistent_workers=False,
        load_size=72,
        crop_size=64,
        seed=seed,
    )
    dm.setup()
    return torch.cat([b.rgb for b in dm.train_dataloader()])


def test_same_seed_same_augmentations_different_seed_different():
    assert torch.equal(batches(0, seed=1), batches(0, seed=1))
    assert not torch.equal(batches(0, seed=1), batches(0, seed=2))


def test_workers_do_not_replay_each_others_augmentations():
    first = batches(2, seed=1)
    assert torch.equal(first, batches(2, seed=1))
    # samples 0-3 come from worker 0, 4-7 from worker 1: same image, so only augmentation differs
    assert not torch.equal(first[:4], first[4:])


@pytest.mark.parametrize(
    ("value", "cuda", "expected"),
    [("auto", True, True), ("auto", False, False), (True, False, True), (False, True, False)],
)
def test_pin_memory_auto_pins_only_for_a_gpu(monkeypatch, value, cuda, expected):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    assert resolve_pin_memory(value) is expected


def test_pin_memory_refuses_other_words():
    with pytest.raises(ValueError, match="true, false or auto"):
        resolve_pin_memory("yes")


def test_validation_keeps_the_aspect_ratio():
    """A 2:1 picture of a circle: the centre crop keeps it round where a square resize would
    squash it into an ellipse twice as tall as wide."""
    height, width = 100, 200
    yy, xx = np.mgrid[:height, :width]
    disc = ((yy - 50) ** 2 + (xx - 100) ** 2 < 40**2).astype(np.uint8) * 255
    image = np.repeat(disc[..., None], 3, axis=2)
    out = eval_transform(50)(image=image)["image"]
    assert out.shape == (50, 50, 3)
    rows, cols = np.nonzero(out[..., 0] > 127)
    extent_y, extent_x = np.ptp(rows) + 1, np.ptp(cols) + 1
    assert abs(extent_y - extent_x) <= 1 and abs(extent_y - 40) <= 2  # still round, 40 px
