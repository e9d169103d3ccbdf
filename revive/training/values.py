"""Numbers in the training config that cannot work, refused before anything is built.

``model.optimizer_g.lr=-1`` or ``data.batch_size=0`` would otherwise fail minutes later, deep
inside Lightning or torch, with a traceback that does not name the key the user typed. The
rules go by the name of the key, wherever it sits under ``model``, ``data`` and ``trainer``, so
that a new model's ``lambda_*`` or a third optimizer's ``lr`` are checked without a new entry.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from omegaconf import DictConfig, OmegaConf

from revive.config import flatten
from revive.errors import UserError

Rule = tuple[Callable[[Any], bool], str]


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


POSITIVE_NUMBER: Rule = (lambda v: _number(v) and v > 0, "a number > 0")
NON_NEGATIVE_NUMBER: Rule = (lambda v: _number(v) and v >= 0, "a number >= 0")
POSITIVE_INTEGER: Rule = (lambda v: _integer(v) and v >= 1, "a whole number >= 1")
NON_NEGATIVE_INTEGER: Rule = (lambda v: _integer(v) and v >= 0, "a whole number >= 0")
EPOCHS_OR_UNLIMITED: Rule = (lambda v: _integer(v) and v >= -1, "a whole number >= 0, or -1")

# By key name. ``null`` is always allowed: it means "the default" wherever a key may be null.
RULES: dict[str, Rule] = {
    "lr": POSITIVE_NUMBER,
    "batch_size": POSITIVE_INTEGER,
    "val_batch_size": POSITIVE_INTEGER,
    "num_workers": NON_NEGATIVE_INTEGER,
    "n_epochs": NON_NEGATIVE_INTEGER,
    "n_epochs_decay": NON_NEGATIVE_INTEGER,
    "max_epochs": EPOCHS_OR_UNLIMITED,
    "max_steps": EPOCHS_OR_UNLIMITED,
    "crop_size": POSITIVE_INTEGER,
    "load_size": POSITIVE_INTEGER,
    "patch_size": POSITIVE_INTEGER,
}
PREFIX_RULES: dict[str, Rule] = {"lambda_": NON_NEGATIVE_NUMBER}
SECTIONS = ("model", "data", "trainer")


def _rule(key: str) -> Rule | None:
    if key in RULES:
        return RULES[key]
    return next((rule for prefix, rule in PREFIX_RULES.items() if key.startswith(prefix)), None)


def check_values(cfg: DictConfig) -> None:
    """Raise a :class:`UserError` naming the first key whose value cannot work."""
    for section in SECTIONS:
        node = cfg.get(section)
        if not isinstance(node, DictConfig):
            continue
        for path, value in flatten(OmegaConf.to_container(node, resolve=True), section).items():
            rule = _rule(path.rsplit(".", 1)[-1])
            if rule is None or value is None:
                continue
            accepts, what = rule
            if not accepts(value):
                raise UserError(f"{path}={value!r} cannot work: it must be {what}")
