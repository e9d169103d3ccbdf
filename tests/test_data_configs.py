"""The data configs compose their loader, image size and degrade keys from conf/data/shared/.

Each key is written once there; a data config keeps only the values it changes. The expected
values below are what every ``data=X`` held when each config still spelled them out, so a
change to a shared file or a lost override shows here.
"""

from __future__ import annotations

import pytest
import yaml
from omegaconf import OmegaConf

from revive.config import compose, config_dir

LOADER = {
    "batch_size": 1,
    "num_workers": 2,
    "pin_memory": "auto",
    "persistent_workers": True,
    "seed": "${seed}",
}
IMAGES = {"load_size": 286, "crop_size": 256, "flip": True}
DEGRADE = {"degrade": None}
MOVED = (*LOADER, *IMAGES, *DEGRADE)

EXPECTED = {
    "art": {**LOADER, **IMAGES, **DEGRADE},
    "celeba": {**LOADER, **IMAGES, **DEGRADE},
    "colorization": {**LOADER, **IMAGES, **DEGRADE},
    "denoise": {**LOADER, "batch_size": 128, **DEGRADE},
    "family": {**LOADER, **IMAGES, "flip": False, **DEGRADE},
    "folder": {**LOADER, **IMAGES, **DEGRADE},
    "mix": {**LOADER, **IMAGES, **DEGRADE},
    "samples": {**LOADER, **IMAGES, **DEGRADE},
    "unpaired": {**LOADER, **IMAGES},
}
OLD_PHOTO = yaml.safe_load((config_dir() / "degrade" / "old_photo.yaml").read_text())
# DnCNN keeps the scan's noise only (conf/data/denoise.yaml).
DENOISE_P = {
    "cast": 0,
    "fade": 0,
    "dust": 0,
    "spots": 0,
    "scratches": 0,
    "vignette": 0,
    "blur": 0,
    "downscale": 0,
    "grain": 0.7,
    "gaussian_noise": 0.5,
    "poisson_noise": 0.3,
    "jpeg": 0.7,
}
MIX_SOURCES = ("celeba", "art", "colorization", "folder")


def data_config(name: str) -> dict:
    """``data=name`` as train.py composes it, interpolations unresolved."""
    return OmegaConf.to_container(compose("train", [f"data={name}"]).data, resolve=False)


def expected_degradations(name: str) -> dict | None:
    if name == "unpaired":
        return None
    if name == "denoise":
        return {op: {**knobs, "p": DENOISE_P[op]} for op, knobs in OLD_PHOTO.items()}
    return OLD_PHOTO


def moved(node: dict) -> dict:
    return {key: node[key] for key in MOVED if key in node}


def test_every_data_config_is_checked():
    assert sorted(p.stem for p in (config_dir() / "data").glob("*.yaml")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_composed_keys_keep_their_values(name):
    node = data_config(name)
    assert moved(node) == EXPECTED[name]
    assert node.get("degradations") == expected_degradations(name)


def test_mix_sources_compose_the_same_keys_under_options():
    options = data_config("mix")["options"]
    assert sorted(options) == sorted(MIX_SOURCES)
    for source in MIX_SOURCES:
        assert moved(options[source]) == EXPECTED[source], source
        assert options[source]["degradations"] == expected_degradations(source), source


def test_the_seed_follows_the_run_seed():
    assert compose("train", ["data=denoise", "seed=7"]).data.seed == 7
    assert compose("train", ["data=mix", "seed=7"]).data.options.art.seed == 7
