"""Where the Hydra configs live, and the small OmegaConf resolvers they use."""

from __future__ import annotations

from pathlib import Path

from omegaconf import OmegaConf


def config_dir() -> Path:
    """The ``conf/`` folder: inside the installed wheel, or at the root of a source checkout."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "conf", here.parent / "conf"):
        if (candidate / "train.yaml").is_file():
            return candidate
    raise FileNotFoundError(
        f"revive's Hydra configs are missing: looked in {here / 'conf'} and {here.parent / 'conf'}"
    )


def register_resolvers() -> None:
    """``${add:a,b}`` (e.g. total epochs = constant + decay). Safe to call more than once."""
    if not OmegaConf.has_resolver("add"):
        OmegaConf.register_new_resolver("add", lambda *xs: sum(xs))
