"""The batch contract (revive/batch.py): what a batch may hold, how samples become a batch, how
it travels (worker processes, pinned memory, the device), and the views the models read."""

from __future__ import annotations

import dataclasses

import kornia.color as kc
import pytest
import torch
from lightning.fabric.utilities import move_data_to_device
from torch.utils.data import DataLoader, Dataset
from torch.utils.data._utils.pin_memory import pin_memory

from revive.batch import Batch, ColorBatch, DenoiseBatch, collate
from revive.models.dncnn import DnCNNModule


def rgb(*shape: int, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, shape, generator=generator, dtype=torch.uint8)


def test_a_color_batch_holds_its_photo_in_exactly_one_form():
    lab = kc.rgb_to_lab(rgb(3, 4, 4).float() / 255)
    with pytest.raises(ValueError, match="exactly one; got both"):
        ColorBatch(rgb=rgb(3, 4, 4), lab=lab)
    with pytest.raises(ValueError, match="exactly one; got neither"):
        ColorBatch()
    with pytest.raises(ValueError, match="exactly one; got neither"):
        ColorBatch(degraded=rgb(1, 4, 4))


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"rgb": torch.rand(3, 4, 4)}, "rgb must be uint8, got torch.float32"),
        ({"lab": rgb(3, 4, 4)}, "lab must be a float tensor, got torch.uint8"),
        ({"rgb": rgb(3, 4, 4), "degraded": torch.rand(1, 4, 4)}, "degraded must be uint8"),
        ({"rgb": rgb(3, 4, 4), "scans": rgb(3, 4, 4).float()}, "scans must be uint8"),
        ({"rgb": rgb(1, 4, 4)}, "rgb must have 3 channels"),
        ({"rgb": rgb(4, 4)}, "rgb must have 3 channels"),
        ({"rgb": rgb(3, 4, 4), "degraded": rgb(2, 4, 4)}, "degraded must have 1 or 3 channels"),
        ({"rgb": rgb(2, 3, 4, 4), "degraded": rgb(1, 4, 4)}, "all \\[C, H, W\\]"),
        ({"rgb": rgb(1, 1, 3, 4, 4)}, "all \\[C, H, W\\]"),
        ({"rgb": [[0]]}, "rgb must be a tensor, got list"),
    ],
)
def test_a_color_batch_with_wrong_fields_is_refused_by_name(fields, message):
    with pytest.raises((TypeError, ValueError), match=message):
        ColorBatch(**fields)


def test_a_denoise_batch_holds_float_images_and_noisy_copies_of_their_shape():
    clean = torch.rand(1, 8, 8)
    assert DenoiseBatch(clean).noisy is None
    with pytest.raises(TypeError, match="clean must be a float tensor"):
        DenoiseBatch((clean * 255).to(torch.uint8))
    with pytest.raises(ValueError, match="noisy \\(1, 4, 4\\) and clean \\(1, 8, 8\\) differ"):
        DenoiseBatch(clean, torch.rand(1, 4, 4))
    with pytest.raises(ValueError, match="clean must have 1 or 3 channels"):
        DenoiseBatch(torch.rand(2, 8, 8))


def test_collate_stacks_every_held_field_and_keeps_the_type():
    samples = [
        ColorBatch(rgb=rgb(3, 4, 4, seed=i), degraded=rgb(1, 4, 4, seed=9 + i)) for i in range(3)
    ]
    batch = collate(samples)
    assert type(batch) is ColorBatch and len(batch) == 3
    assert torch.equal(batch.rgb, torch.stack([s.rgb for s in samples]))
    assert torch.equal(batch.degraded, torch.stack([s.degraded for s in samples]))
    assert batch.lab is None and batch.scans is None
    assert set(batch.tensors()) == {"rgb", "degraded"}
    patches = collate([DenoiseBatch(torch.rand(1, 8, 8)) for _ in range(2)])
    assert type(patches) is DenoiseBatch and patches.clean.shape == (2, 1, 8, 8)


def test_collate_refuses_samples_that_do_not_share_a_form():
    with pytest.raises(ValueError, match="1 of 2 samples hold degraded: all or none"):
        collate([ColorBatch(rgb=rgb(3, 4, 4), degraded=rgb(1, 4, 4)), ColorBatch(rgb=rgb(3, 4, 4))])
    with pytest.raises(TypeError, match="mixes"):
        collate([ColorBatch(rgb=rgb(3, 4, 4)), DenoiseBatch(torch.rand(3, 4, 4))])
    with pytest.raises(ValueError, match="at least one sample"):
        collate([])


class Photos(Dataset):
    def __len__(self) -> int:
        return 4

    def __getitem__(self, index: int) -> ColorBatch:
        return ColorBatch(rgb=rgb(3, 8, 8, seed=index), degraded=rgb(1, 8, 8, seed=index))


def test_a_worker_process_collates_the_typed_batch():
    loader = DataLoader(Photos(), batch_size=2, num_workers=1, collate_fn=collate)
    batches = list(loader)
    assert [type(b) for b in batches] == [ColorBatch, ColorBatch]
    assert torch.equal(batches[1].rgb[0], rgb(3, 8, 8, seed=2))
    assert batches[0].degraded.shape == (2, 1, 8, 8) and batches[0].scans is None


def test_pinning_reaches_every_field(monkeypatch):
    """torch's loader pins any object with a ``pin_memory`` method (CPU here: pinning itself is
    stood in for, so that the dispatch is what is tested)."""
    pinned: list[torch.Tensor] = []
    monkeypatch.setattr(torch.Tensor, "pin_memory", lambda t, *a: pinned.append(t) or t.clone())
    batch = collate([Photos()[0], Photos()[1]])
    out = pin_memory(batch)
    assert type(out) is ColorBatch and out.scans is None
    assert {id(t) for t in pinned} == {id(batch.rgb), id(batch.degraded)}
    assert torch.equal(out.rgb, batch.rgb) and out.rgb is not batch.rgb


@pytest.mark.skipif(not torch.cuda.is_available(), reason="pinned memory needs a CUDA GPU")
def test_a_pinned_loader_yields_pinned_typed_batches():
    loader = DataLoader(Photos(), batch_size=2, num_workers=1, collate_fn=collate, pin_memory=True)
    batch = next(iter(loader))
    assert type(batch) is ColorBatch and batch.rgb.is_pinned() and batch.degraded.is_pinned()


def test_lightning_moves_the_typed_batch_field_by_field():
    batch = ColorBatch(lab=torch.rand(2, 3, 4, 4) * 50, degraded=rgb(2, 1, 4, 4))
    moved = move_data_to_device(batch, torch.device("meta"))
    assert type(moved) is ColorBatch and moved.rgb is None and moved.scans is None
    assert moved.lab.device.type == "meta" and moved.degraded.device.type == "meta"
    assert batch.lab.device.type == "cpu"  # the original is left where it was
    module = DnCNNModule(net={"depth": 3, "features": 4})
    patches = DenoiseBatch(torch.rand(2, 1, 8, 8))
    moved = module.transfer_batch_to_device(patches, torch.device("meta"), 0)
    assert type(moved) is DenoiseBatch and moved.clean.device.type == "meta"
    assert moved.noisy is None


def test_rgb_and_lab_views_agree_with_each_other():
    photo = rgb(2, 3, 8, 8)
    from_rgb = ColorBatch(rgb=photo)
    assert torch.equal(from_rgb.as_rgb(), photo.float() / 255)
    assert torch.equal(from_rgb.as_lab(), kc.rgb_to_lab(photo.float() / 255))
    from_lab = ColorBatch(lab=from_rgb.as_lab())
    assert torch.equal(from_lab.as_lab(), from_rgb.as_lab())
    assert (from_lab.as_rgb() - from_rgb.as_rgb()).abs().max() < 1e-4
    sample = ColorBatch(lab=from_rgb.as_lab()[0])  # a sample [3, H, W] has the same views
    assert (sample.as_rgb() - from_rgb.as_rgb()[0]).abs().max() < 1e-4


def test_the_input_comes_from_the_degraded_scan_when_there_is_one():
    photo = rgb(2, 3, 8, 8)
    assert torch.equal(ColorBatch(rgb=photo).input_rgb(), photo.float() / 255)
    scan = rgb(2, 1, 8, 8, seed=1)
    gray = ColorBatch(rgb=photo, degraded=scan).input_rgb()
    assert gray.shape == (2, 3, 8, 8) and torch.equal(gray, scan.expand(-1, 3, -1, -1) / 255)
    sample = ColorBatch(rgb=photo[0], degraded=scan[0])
    assert torch.equal(sample.input_rgb(), gray[0])
    color_scan = rgb(2, 3, 8, 8, seed=2)
    assert torch.equal(ColorBatch(rgb=photo, degraded=color_scan).input_rgb(), color_scan / 255)


def test_unpaired_scans_are_a_batch_of_photos_of_their_own():
    scans = rgb(2, 3, 8, 8, seed=3)
    batch = ColorBatch(rgb=rgb(2, 3, 8, 8), scans=scans)
    assert torch.equal(batch.scan_photos().rgb, scans) and batch.scan_photos().scans is None
    with pytest.raises(ValueError, match="no unpaired scans"):
        ColorBatch(rgb=scans).scan_photos()


def test_map_keeps_the_type_and_the_empty_fields():
    batch = ColorBatch(rgb=rgb(3, 4, 4))
    doubled = batch.map(lambda t: t * 2)
    assert isinstance(doubled, Batch) and doubled.lab is None
    assert torch.equal(doubled.rgb, batch.rgb * 2)
    assert dataclasses.replace(batch, degraded=rgb(1, 4, 4)).degraded.shape == (1, 4, 4)
