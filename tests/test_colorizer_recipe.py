"""The shipped colorizer's recipe: the held-out split, the wash floor, the moving average of the
generator's weights, and a few steps of the experiment itself."""

from __future__ import annotations

import json
from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch
from hydra.utils import instantiate
from skimage.color import lab2rgb, rgb2lab

from revive.color import LabSpace
from revive.data import holdout
from revive.data.fakes import fake_photos, make_colorize_split
from revive.errors import UserError
from revive.evaluation.colorizers import evaluate_colorizer
from revive.evaluation.metrics import psnr_8bit
from revive.io import save_image
from revive.models.pix2pix import Pix2Pix
from revive.restore.restorer import Restorer
from revive.weights.colorizer import read_colorizer
from tests.test_colorizer_eval import ConstantChroma


# -- the held-out split --------------------------------------------------------------------------
def fake_collection(root: Path, faces: int = 12, per_class: int = 6, varied: int = 9) -> Path:
    rng = np.random.default_rng(0)
    layout = {"faces": faces, "varied": varied}
    layout |= {f"scenes/{c}": per_class for c in ("forest", "sea")}
    for folder, n in layout.items():
        for i in range(n):
            save_image(
                rng.integers(0, 256, (8, 8, 3), dtype=np.uint8), root / folder / f"{i:03d}.jpg"
            )
    return root


@pytest.fixture
def small_counts(monkeypatch):
    monkeypatch.setattr(
        holdout,
        "COUNTS",
        {
            "faces": holdout.Counts(test=3, val=2),
            "scenes": holdout.Counts(test=2, val=1),
            "varied": holdout.Counts(test=2, val=1),
        },
    )


def test_the_split_sizes_are_the_issues():
    counts = holdout.COUNTS
    assert (counts["faces"].test, counts["scenes"].test, counts["varied"].test) == (300, 50, 60)


def test_split_is_seeded_disjoint_and_never_moves(tmp_path: Path, small_counts):
    source = fake_collection(tmp_path / "photos")
    record = holdout.make_split(source, tmp_path / "split")
    faces = record["groups"]["faces"]
    assert [len(faces[s]) for s in ("test", "val", "train")] == [3, 2, 7]
    assert len(record["groups"]["scenes/sea"]["test"]) == 2
    for parts in record["groups"].values():
        names = [set(parts[s]) for s in ("test", "val", "train")]
        assert not (names[0] & names[1] or names[0] & names[2] or names[1] & names[2])
    # the links exist where the loaders look, and point at the originals
    test_faces = sorted(p.name for p in (tmp_path / "split/faces/test").iterdir())
    assert test_faces == faces["test"]
    link = tmp_path / "split/scenes/test/sea" / record["groups"]["scenes/sea"]["test"][0]
    assert link.is_symlink() and link.resolve().parent == (source / "scenes/sea").resolve()
    # the same rule gives the same split; another seed another one, refused over the first
    assert holdout.make_split(source, tmp_path / "again")["groups"] == record["groups"]
    assert holdout.make_split(source, tmp_path / "split") == record
    other = holdout.make_split(source, tmp_path / "other", seed=1)["groups"]
    assert other["faces"]["test"] != faces["test"]
    with pytest.raises(UserError, match="another split"):
        holdout.make_split(source, tmp_path / "split", seed=1)


def test_split_refuses_a_collection_without_its_folders(tmp_path: Path, small_counts):
    with pytest.raises(UserError, match="varied"):
        holdout.make_split(fake_collection(tmp_path / "p", varied=0), tmp_path / "s")
    with pytest.raises(UserError, match="needs more than 5"):
        holdout.make_split(fake_collection(tmp_path / "q", faces=5), tmp_path / "t")


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (
            ["photos", "split"],
            "photos split: arguments are now key=value: source=photos dest=split",
        ),
        (["source=photos", "dest=split", "--seed", "1"], "--seed is now seed=N"),
        (["source=photos"], "dest= is missing: revive-holdout source=PHOTOS dest=SPLIT"),
        (["source=photos", "dest=split", "sed=1"], "sed=1: no such key; did you mean seed=1?"),
    ],
)
def test_the_command_answers_old_forms_and_mistakes_in_one_line(
    tmp_path, monkeypatch, command, args, line
):
    monkeypatch.chdir(tmp_path)
    assert line in command.error(holdout.main, "revive-holdout", *args)
    assert not list(tmp_path.iterdir())  # no split, no Hydra folder


def test_the_command_writes_the_split_and_prints_its_sizes(
    tmp_path, monkeypatch, command, capsys, small_counts
):
    source = fake_collection(tmp_path / "photos")
    monkeypatch.chdir(tmp_path)
    command(holdout.main, "source=photos", "dest=split", "seed=1")
    printed = capsys.readouterr().out
    assert "faces                test     3  val     2  train     7" in printed
    assert "split written to split/split.json" in printed
    written = json.loads((tmp_path / "split/split.json").read_text())
    assert written == holdout.make_split(source, tmp_path / "again", seed=1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["again", "photos", "split"]


# -- the wash: the folder's mean chroma on every pixel -------------------------------------------
def test_the_wash_is_the_folders_mean_chroma_by_hand(tmp_path: Path):
    big, small = fake_photos(1, 40, 64, seed=4)[0], fake_photos(1, 20, 24, seed=5)[0]
    save_image(big, tmp_path / "a.png")
    save_image(small, tmp_path / "b.png")
    # by hand: every pixel of both photos counts once (2560 + 480 pixels)
    pixels = np.concatenate([rgb2lab(p / 255.0)[..., 1:].reshape(-1, 2) for p in (big, small)])
    ab = pixels.mean(0)
    restorer = Restorer(ConstantChroma(torch.zeros(1, 2, 64, 64)), LabSpace(), render_size=64)
    table, _ = evaluate_colorizer(restorer, tmp_path, progress=False)
    assert table["truth"].all()
    assert np.allclose(table.attrs["wash_ab"], ab, atol=0.02)
    # each photo's wash: its own L* with that a*b*, scored against the photo
    for name, photo in (("a.png", big), ("b.png", small)):
        lab = rgb2lab(photo / 255.0)
        lab[..., 1:] = ab
        wash = np.round(np.clip(lab2rgb(lab), 0, 1) * 255).astype(np.uint8)
        row = table.set_index("image").loc[name]
        assert row["wash_psnr"] == pytest.approx(psnr_8bit(wash, photo), abs=0.5)
        assert row["wash_psnr"] != row["gray_psnr"]


# -- the moving average of G ---------------------------------------------------------------------
def tiny_pix2pix(**kwargs) -> Pix2Pix:
    generator = {"_target_": "revive.nets.unet.UnetGenerator", "num_downs": 5, "ngf": 4}
    discriminator = {"_target_": "revive.nets.patchgan.PatchDiscriminator", "ndf": 4}
    return Pix2Pix(generator=generator, discriminator=discriminator, **kwargs)


def test_ema_follows_the_formula_and_is_what_loaders_read(tmp_path: Path):
    model = tiny_pix2pix(ema_decay=0.9)
    start = [p.clone() for p in model.generator_ema.parameters()]
    with torch.no_grad():
        for p in model.generator.parameters():
            p.add_(1.0)
    model.update_ema()  # first update: decay min(0.9, 2/11)
    d = 2 / 11
    pairs = zip(model.generator_ema.parameters(), model.generator.parameters(), strict=True)
    for s, (e, g) in zip(start, pairs, strict=True):
        assert torch.allclose(e, d * s + (1 - d) * g)
    assert model.scoring_generator is model.generator_ema
    ckpt = tmp_path / "m.ckpt"
    torch.save({"state_dict": model.state_dict(), "hyper_parameters": dict(model.hparams)}, ckpt)
    _, state, _ = read_colorizer(ckpt)
    key = next(iter(state))
    assert torch.equal(state[key], model.generator_ema.state_dict()[key])
    assert not torch.equal(state[key], model.generator.state_dict()[key])
    with pytest.raises(ValueError, match="ema_decay"):
        tiny_pix2pix(ema_decay=1.0)
    plain = tiny_pix2pix()
    assert plain.generator_ema is None and plain.scoring_generator is plain.generator


# -- the experiment ------------------------------------------------------------------------------
def tiny_recipe(make_cfg, tmp_path: Path, *overrides: str):
    """``experiment=revive_colorizer`` on a fake split, with networks small enough for a test."""
    split = make_colorize_split(tmp_path / "split")
    return make_cfg(
        overrides=[
            "experiment=revive_colorizer",
            f"split_dir={split}",
            "data.num_workers=0",
            "data.batch_size=2",
            "data.epoch_length=4",
            "model.generator.num_downs=5",
            "model.generator.ngf=8",
            "model.discriminator.ndf=8",
            *overrides,
        ]
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    "overrides",
    [
        [],  # the recipe: L1 alone
        ["model.lambda_gan=1"],  # the seed's loss: GAN + L1
        ["model.color_loss=classify"],
        ["model.color_loss=classify", "model.lambda_gan=1"],
    ],
    ids=["l1", "gan_l1", "classify", "classify_gan"],
)
def test_the_recipe_trains_a_few_steps(make_cfg, tmp_path: Path, overrides):
    cfg = tiny_recipe(make_cfg, tmp_path, *overrides)
    datamodule = instantiate(cfg.data, _recursive_=False)
    model = instantiate(cfg.model)
    trainer = L.Trainer(
        max_epochs=1,
        limit_val_batches=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        default_root_dir=tmp_path,
    )
    trainer.fit(model, datamodule=datamodule)
    logged = trainer.callback_metrics
    assert torch.isfinite(logged["val/psnr"])
    if "model.color_loss=classify" in overrides:
        assert model.classifier_loss.has_counts  # the prior was counted on training photos
        assert torch.isfinite(logged["train/g_classify"])
    assert ("train/g_gan" in logged) == ("model.lambda_gan=1" in overrides)
    # the average generator is what an export holds
    assert model.generator_ema is not None


@pytest.mark.slow
def test_the_gan_joins_at_gan_start_epoch(make_cfg, tmp_path: Path):
    """Before ``model.gan_start_epoch`` the discriminator never steps and G's loss has no GAN
    term; from that epoch on both train."""
    cfg = tiny_recipe(make_cfg, tmp_path, "model.lambda_gan=1", "model.gan_start_epoch=1")
    datamodule = instantiate(cfg.data, _recursive_=False)
    model = instantiate(cfg.model)
    d_weights: list[dict[str, torch.Tensor]] = []
    gan_logged: list[bool] = []

    class Watch(L.Callback):
        def on_train_epoch_end(self, trainer, module):
            d_weights.append({k: v.clone() for k, v in module.discriminator.state_dict().items()})
            gan_logged.append("train/g_gan" in trainer.callback_metrics)

    start = {k: v.clone() for k, v in model.discriminator.state_dict().items()}
    trainer = L.Trainer(
        max_epochs=2,
        limit_val_batches=0,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        default_root_dir=tmp_path,
        callbacks=[Watch()],
    )
    trainer.fit(model, datamodule=datamodule)
    key = next(k for k, v in start.items() if v.is_floating_point() and v.dim() == 4)
    assert torch.equal(d_weights[0][key], start[key])  # epoch 0: D untouched
    assert not torch.equal(d_weights[1][key], start[key])  # epoch 1: D trained
    assert gan_logged == [False, True]
    with pytest.raises(ValueError, match="gan_start_epoch"):
        tiny_pix2pix(gan_start_epoch=-1)


def test_the_recipe_composes_for_a_gpu(make_cfg, tmp_path: Path):
    cfg = make_cfg(
        overrides=[
            "experiment=revive_colorizer",
            "trainer=gpu",
            "data.crop_size=256",
            "data.load_size=286",
            "data.batch_size=32",
        ],
        fast=False,
    )
    assert cfg.trainer.accelerator == "gpu" and cfg.data.batch_size == 32
    assert cfg.model.color_space == "lab" and cfg.data.sources == ["faces", "scenes", "varied"]
    assert list(cfg.data.weights) == [0.35, 0.35, 0.3]
    # the shipped model's run: L1 alone, 19 epochs of a 13 + 13-epoch schedule, under 2 hours
    assert cfg.model.lambda_gan == 0 and cfg.trainer.max_epochs == 19
    assert (cfg.model.n_epochs, cfg.model.n_epochs_decay) == (13, 13)
    assert cfg.trainer.max_time == "00:02:00:00"


def test_a_classifier_learns_every_pixel_phase():
    """The loss reads one pixel per 2x2 block; the block corner must vary from step to step,
    or three of the four output phases of the last transposed convolution never learn."""
    model = tiny_pix2pix(color_loss="classify", lambda_gan=0.0, classify={"features": 4})
    torch.manual_seed(0)
    x = torch.rand(1, 1, 32, 32) * 2 - 1
    phases = set()
    for _ in range(40):
        fake, logits, phase = model.generate(x)
        assert fake is None and logits.shape[-2:] == (16, 16)
        phases.add(phase)
    assert phases == {(0, 0), (0, 1), (1, 0), (1, 1)}
