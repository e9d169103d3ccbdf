"""Every key of every composed config is read by something: a config key with no effect is a
promise the code does not keep (a renamed parameter, a value overwritten by another group).

A key under a ``_target_`` node must be a parameter of that callable or of the base class it
hands ``**kwargs`` to; a key whose value is instantiated (a callback, a logger) is a label; any other key
must be named somewhere in the code that reads configs, or in an interpolation of another key. The configs composed are each command's own, and
``train`` with every option of the model, data and experiment groups.
"""

from __future__ import annotations

import inspect
import io
import re
import tokenize
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest
from hydra.utils import get_object
from omegaconf import OmegaConf

import revive
from revive.config import compose, config_dir

CONF = config_dir()
SOURCE = Path(revive.__file__).parent
HYDRA_KEYS = {"_target_", "_partial_", "_recursive_", "_convert_", "_args_"}


def primary_configs() -> list[str]:
    return sorted(p.stem for p in CONF.glob("*.yaml"))


def group_options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


def composed() -> Iterator[tuple[str, list[str]]]:
    for name in primary_configs():
        yield name, []
    for group in ("model", "data", "experiment"):
        for option in group_options(group):
            yield "train", [f"{group}={option}"]


@cache
def words_in_code() -> frozenset[str]:
    """Every name and every word inside a string literal of revive's code: what a key must be
    to be read by ``cfg.key``, ``cfg["key"]``, ``cfg.get("key")`` or a dataclass field."""
    words: set[str] = set()
    for path in SOURCE.rglob("*.py"):
        for tok in tokenize.generate_tokens(io.StringIO(path.read_text()).readline):
            if tok.type == tokenize.NAME:
                words.add(tok.string)
            elif tok.type == tokenize.STRING:
                words.update(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", tok.string))
    return frozenset(words)


@cache
def interpolated_words() -> frozenset[str]:
    """Names used inside ``${...}`` anywhere in the configs (a key read by another key)."""
    words: set[str] = set()
    for path in CONF.rglob("*.yaml"):
        for inner in re.findall(r"\$\{([^}]*)\}", path.read_text()):
            words.update(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", inner))
    return frozenset(words)


# Keys a target takes through **kwargs by a naming rule of its own (its docstring says so).
KWARG_RULES = {"revive.data.mix.MixDataModule": re.compile(r"\w+_root")}


def parameters(target: str) -> set[str] | None:
    """The keyword parameters ``target`` accepts, following ``**kwargs`` up the classes it
    hands them to; None when it takes any (``**kwargs`` that reach no named parameter, e.g.
    a Trainer factory that passes them on)."""
    obj = get_object(target)
    if inspect.isclass(obj):
        chain = [c.__init__ for c in inspect.getmro(obj) if "__init__" in vars(c)]
    else:
        chain = [obj]
    names: set[str] = set()
    for fn in chain:
        params = inspect.signature(fn).parameters.values()
        names |= {p.name for p in params if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}
        if not any(p.kind == p.VAR_KEYWORD for p in params):
            return names - {"self"}
    return None


def accepts(target: str, params: set[str] | None, key: str) -> bool:
    rule = KWARG_RULES.get(target)
    return params is None or key in params or bool(rule and rule.fullmatch(key))


def unread_keys(node: object, path: str = "", target_params: set[str] | None = None):
    """(dotted key, why) for each key that nothing reads."""
    if not isinstance(node, dict):
        return
    params = parameters(node["_target_"]) if "_target_" in node else None
    for key, value in node.items():
        key = str(key)
        where = f"{path}.{key}" if path else key
        if key in HYDRA_KEYS or key == "hydra":
            continue
        if "_target_" in node:
            if not accepts(node["_target_"], params, key):
                yield where, f"not a parameter of {node['_target_']}"
        elif isinstance(value, dict) and "_target_" in value:
            pass  # an instance of a group (callbacks, loggers): its name is a label
        elif key not in words_in_code() and key not in interpolated_words():
            yield where, "named nowhere in revive/ nor in an interpolation"
        if isinstance(value, dict):
            yield from unread_keys(value, where)
        elif isinstance(value, list):
            for i, item in enumerate(value):
                yield from unread_keys(item, f"{where}[{i}]")


@pytest.mark.slow  # about 40 compositions
@pytest.mark.parametrize(("name", "overrides"), list(composed()), ids=lambda v: str(v))
def test_every_key_is_read(name, overrides):
    cfg = compose(name, overrides)
    plain = OmegaConf.to_container(cfg, resolve=False)
    assert list(unread_keys(plain)) == []


def test_the_check_finds_a_key_nothing_reads():
    """The check itself: an unknown key under a target and an unknown top-level key."""
    plain = OmegaConf.to_container(compose("train", ["model=pix2pix"]), resolve=False)
    plain["model"]["lambda_l1_typo"] = 1.0
    plain["no_such_setting_anywhere"] = 3
    found = dict(unread_keys(plain))
    assert found == {
        "model.lambda_l1_typo": "not a parameter of revive.models.pix2pix.Pix2Pix",
        "no_such_setting_anywhere": "named nowhere in revive/ nor in an interpolation",
    }
