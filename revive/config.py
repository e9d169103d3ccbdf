"""Where the Hydra configs live, composing them outside ``@hydra.main``, the small OmegaConf
resolvers they use, and flattening a config into dotted keys."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict


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


def compose(
    config_name: str = "train", overrides: Sequence[str] = (), hydra_node: bool = False
) -> DictConfig:
    """``conf/<config_name>.yaml`` composed with ``overrides`` as its script would compose it,
    for code that runs outside ``@hydra.main`` (the demo, the inspector, benchmarks, tests).

    ``${hydra:...}`` interpolations resolve as under ``@hydra.main``; the ``hydra`` node itself
    is kept only with ``hydra_node=True``, since a task never sees it.
    """
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.hydra_config import HydraConfig

    register_resolvers()
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        cfg = hydra_compose(config_name, overrides=list(overrides), return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)
    if not hydra_node:
        with open_dict(cfg):
            del cfg["hydra"]
    return cfg


def flatten(node: Any, prefix: str = "") -> dict[str, Any]:
    """``{"model": {"lambda_l1": 10}}`` -> ``{"model.lambda_l1": 10}`` (lists stay leaves), so
    that dashboards and comparisons can filter on any key."""
    if not isinstance(node, Mapping):
        return {prefix: node}
    flat: dict[str, Any] = {}
    for key, value in node.items():
        flat.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    return flat
