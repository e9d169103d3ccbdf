"""Mixing datasets: exact per-epoch proportions, determinism, one batch format, training."""

from collections import Counter

import numpy as np
import pytest
import torch
from hydra.errors import InstantiationException
from hydra.utils import instantiate

from revive.data.fakes import make_art, make_celeba, make_colorization, make_folder
from revive.data.mix import MixDataModule, WeightedEpochSampler, allocate
from revive.errors import UserError
from revive.training.run import train
from tests.tiny_runs import TINY_TRAIN

SMALL = ["data.load_size=40", "data.crop_size=32", "data.batch_size=4"]


def test_allocate_is_exact_and_proportional():
    assert allocate([0.7, 0.3], 20) == [14, 6]
    assert allocate([1, 1, 1], 10) == [4, 3, 3]
    assert allocate([0.7, 0.3, 0.0], 7) == [5, 2, 0]
    for total in range(1, 50):
        counts = allocate([0.5, 0.3, 0.2], total)
        assert sum(counts) == total
        assert all(abs(c - w * total) < 1 for c, w in zip(counts, [0.5, 0.3, 0.2], strict=True))


def test_sampler_honours_weights_in_every_epoch_and_is_seeded():
    sizes = [100, 7]
    sampler = WeightedEpochSampler(sizes, [0.7, 0.3], epoch_length=50, seed=3)
    epochs = []
    for epoch in range(4):
        sampler.set_epoch(epoch)
        indices = list(sampler)
        assert len(indices) == len(sampler) == 50
        from_small = [i - 100 for i in indices if i >= 100]
        assert len(from_small) == 15  # exactly 30 % of this epoch, not just on average
        # 15 draws from 7 samples: each seen twice before any is seen a third time.
        assert sorted(Counter(from_small).values()) == [2] * 6 + [3]
        big = [i for i in indices if i < 100]
        assert len(set(big)) == 35  # no repeats while a source is not exhausted
        epochs.append(indices)
    assert epochs[0] != epochs[1]
    again = WeightedEpochSampler(sizes, [0.7, 0.3], epoch_length=50, seed=3)
    again.set_epoch(2)
    assert list(again) == epochs[2]
    other_seed = WeightedEpochSampler(sizes, [0.7, 0.3], epoch_length=50, seed=4)
    assert list(other_seed) != epochs[0]


@pytest.fixture
def roots(tmp_path):
    return {
        "celeba": make_celeba(tmp_path / "celeba", n=12),  # 8 train, 2 val, 2 test
        "art": make_art(tmp_path / "art", n_train=4, n_val=2),  # 6 train, 2 val
        "colorization": make_colorization(tmp_path / "col", n=10, size=32),
    }


def mix_cfg(make_cfg, roots, sources, weights, *extra):
    overrides = [
        "data=mix",
        f"data.sources=[{','.join(sources)}]",
        f"data.weights=[{','.join(map(str, weights))}]",
        *[f"data.roots.{name}={roots[name]}" for name in sources if name in roots],
        *SMALL,
        *extra,
    ]
    return make_cfg("train", overrides)


def test_proportions_through_hydra_and_the_dataloader(make_cfg, roots):
    cfg = mix_cfg(make_cfg, roots, ["celeba", "art"], [0.7, 0.3], "data.epoch_length=40")
    dm = instantiate(cfg.data)
    assert isinstance(dm, MixDataModule)
    assert dm.source_sizes() == {
        "celeba": {"train": 8, "val": 2, "test": 2},
        "art": {"train": 6, "val": 2},
    }
    assert dm.split_sizes() == {"train": 14, "val": 4, "test": 4}
    loader = dm.train_dataloader()
    n_celeba = dm.datasets["train"].cumulative_sizes[0]
    for epoch in range(3):
        loader.sampler.set_epoch(epoch)
        picked = list(loader.sampler)
        assert sum(i < n_celeba for i in picked) == 28 and len(picked) == 40
    batches = list(loader)
    assert len(batches) == 10
    assert all(b.rgb.shape == (4, 3, 32, 32) and b.rgb.dtype == torch.uint8 for b in batches)


def test_sources_share_the_mix_settings_and_colorization_yields_rgb(make_cfg, roots):
    cfg = mix_cfg(
        make_cfg, roots, ["celeba", "colorization"], [1, 1], "data.options.celeba.face_crop=100"
    )
    dm = instantiate(cfg.data)
    dm.setup("fit")
    assert dm.modules["celeba"].face_crop == 100  # a source's own option reaches it
    assert all(m.crop_size == 32 and m.seed == cfg.seed for m in dm.modules.values())
    for loader in (dm.train_dataloader(), dm.val_dataloader()):
        for batch in loader:
            assert set(batch.tensors()) == {"rgb"} and batch.rgb.shape[1:] == (3, 32, 32)


def test_bad_mixes_are_explained(make_cfg, roots):
    # Hydra wraps what the constructor raises; the message is kept.
    with pytest.raises(InstantiationException, match="has 2 entries but data.weights"):
        instantiate(mix_cfg(make_cfg, roots, ["celeba", "art"], [1.0]).data)
    with pytest.raises(InstantiationException, match="unknown mix source 'imagenet'.*known"):
        instantiate(mix_cfg(make_cfg, {}, ["imagenet"], [1.0]).data)
    with pytest.raises(InstantiationException, match="'family', which has no color targets"):
        instantiate(mix_cfg(make_cfg, {}, ["family"], [1.0]).data)
    with pytest.raises(InstantiationException, match="add data.roots.folder=PATH"):
        instantiate(mix_cfg(make_cfg, {}, ["folder"], [1.0]).data)
    with pytest.raises(UserError, match="CelebA not found"):
        cfg = mix_cfg(make_cfg, {"celeba": roots["celeba"] / "nowhere"}, ["celeba"], [1.0])
        instantiate(cfg.data).setup()


def test_a_plain_folder_of_photos_can_join_the_mix(make_cfg, roots, tmp_path):
    roots = {**roots, "folder": make_folder(tmp_path / "mine", n=6)}
    cfg = mix_cfg(make_cfg, roots, ["folder", "art"], [0.5, 0.5], "data.epoch_length=8")
    dm = instantiate(cfg.data)
    assert dm.source_sizes()["folder"] == {"train": 5, "val": 1}
    n_folder = dm.datasets["train"].cumulative_sizes[0]
    assert sum(i < n_folder for i in dm.train_dataloader().sampler) == 4


@pytest.mark.slow
def test_fast_dev_run_through_hydra(make_cfg, roots):
    cfg = mix_cfg(make_cfg, roots, ["celeba", "art", "colorization"], [0.5, 0.3, 0.2], *TINY_TRAIN)
    metrics = train(cfg)
    assert np.isfinite(metrics["train/g_l1"]) and 5 < metrics["val/psnr"] < 60


def test_a_source_root_shorthand_sets_that_sources_folder(make_cfg, tmp_path):
    """``data.<source>_root`` (e.g. faces_landscapes_lab's ``data.landscapes_root``)."""
    folder = make_folder(tmp_path / "landscapes")
    cfg = make_cfg(
        "train",
        ["experiment=faces_landscapes_lab", f"data.landscapes_root={folder}"]
        + [f"data.roots.celeba={make_celeba(tmp_path / 'celeba')}"],
    )
    datamodule = instantiate(cfg.data)
    datamodule.setup("fit")
    assert str(datamodule.modules["landscapes"].root) == str(folder)
    with pytest.raises(InstantiationException, match="not in data.sources"):
        instantiate(cfg.data, art_root=str(folder))
