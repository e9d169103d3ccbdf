"""Family scans: every format and mode read as RGB, no training, validation with panels."""

import lightning as L
import numpy as np
import pytest
import torch
from hydra.utils import instantiate

from revive.data.fakes import make_family
from revive.data.family import FamilyDataModule, NoColorTargetsError
from revive.errors import UserError
from revive.training.run import train
from tests.tiny_runs import TINY_TRAIN

SMALL = {"load_size": 72, "crop_size": 32, "num_workers": 0, "batch_size": 2}


def loaded(dm: FamilyDataModule) -> dict[str, np.ndarray]:
    """Each scan as decoded (before the transform), by file name."""
    dm.setup("validate")
    ds = dm.datasets["val"]
    return {p.name: ds.load(i) for i, p in enumerate(ds.paths)}


def test_every_scan_in_every_subfolder_is_a_val_sample(tmp_path):
    dm = FamilyDataModule(str(make_family(tmp_path)), **SMALL)
    assert dm.split_sizes() == {"val": 4}
    batches = list(dm.val_dataloader())
    assert [b.rgb.shape for b in batches] == [(2, 3, 32, 32), (2, 3, 32, 32)]
    assert all(b.rgb.dtype == torch.uint8 for b in batches)


def test_odd_modes_are_read_as_a_person_would_see_them(tmp_path):
    scans = loaded(FamilyDataModule(str(make_family(tmp_path)), **SMALL))
    wedding = scans["wedding.png"]  # 16-bit gray: scaled to 8 bits, not clipped to white
    assert wedding.shape == (64, 80, 3) and (wedding[..., 0] == wedding[..., 2]).all()
    assert 20 < wedding.mean() < 235 and wedding.std() > 5
    portrait = scans["portrait.png"]  # RGBA: the transparent border is flattened onto white
    assert portrait.shape == (70, 50, 3) and (portrait[:5] == 255).all()
    assert scans["rotated.jpg"].shape == (40, 30, 3)  # 40x30 stored, EXIF says turn it upright
    sepia = scans["sepia.tif"]
    assert (sepia[..., 0].astype(int) >= sepia[..., 2]).all()  # the tone is kept, as scanned


def test_aspect_is_kept_by_a_centre_crop(tmp_path):
    root = make_family(tmp_path)
    dm = FamilyDataModule(str(root), **SMALL)
    dm.setup("validate")
    ds = dm.datasets["val"]
    index = [p.name for p in ds.paths].index("portrait.png")
    sample = ds[index].rgb
    assert sample.shape == (3, 32, 32)
    # 50x70 -> 32x45, centre 32 rows: the white border (top 5 of 70 rows) is cut away.
    assert (sample < 250).any(dim=0)[:2].any()


def test_training_a_colorizer_is_refused_with_the_reason(make_cfg, tmp_path):
    root = make_family(tmp_path / "scans")
    cfg = make_cfg("train", ["data=family", f"data.root={root}", *TINY_TRAIN])
    with pytest.raises(NoColorTargetsError, match="without color ground truth.*data=denoise"):
        train(cfg)


def test_missing_folder_is_explained(tmp_path):
    with pytest.raises(UserError, match="is not a folder"):
        FamilyDataModule(str(tmp_path / "nope"), **SMALL).setup("validate")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no images"):
        FamilyDataModule(str(tmp_path / "empty"), **SMALL).setup("validate")


@pytest.mark.slow
def test_validate_gives_colorfulness_and_panels_without_truth(make_cfg, tmp_path):
    root = make_family(tmp_path / "scans")
    cfg = make_cfg("train", ["data=family", f"data.root={root}", *TINY_TRAIN])
    model, datamodule = instantiate(cfg.model), instantiate(cfg.data)
    trainer = L.Trainer(accelerator="cpu", logger=False, enable_progress_bar=False)
    (metrics,) = trainer.validate(model, datamodule=datamodule)
    assert np.isfinite(metrics["val/colorfulness"])
    assert model.panel["pred"].shape == (4, 3, 64, 64)
