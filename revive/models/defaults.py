"""What a module built without Hydra (a test, a notebook, a benchmark) trains with: the optimizer
and schedule that ``train.py`` would give it, read from the same config files, so that their
numbers are written once, in ``conf/``, and both ways of building a module train alike.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from omegaconf import DictConfig, OmegaConf

from revive.config import config_dir


@functools.cache
def _config(name: str) -> DictConfig:
    return OmegaConf.load(config_dir() / f"{name}.yaml")


def configured(name: str, key: str | None = None, **overrides: Any) -> Callable[..., Any]:
    """``conf/<name>.yaml`` (its ``key`` node), instantiated as Hydra instantiates it for
    ``train.py``: for a ``_partial_`` optimizer, the factory ``params -> optimizer``.
    ``overrides`` replace some of its arguments, as ``key=value`` on a command line would."""
    from hydra.utils import instantiate

    node = _config(name)
    if key is not None:
        node = node[key]
    node = OmegaConf.to_container(node, resolve=True) | overrides
    return instantiate(node, _convert_="all")
