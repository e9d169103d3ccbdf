"""Where the Hydra configs live, the commands' ``@hydra.main`` (:func:`hydra_command`), composing
them outside it, the small OmegaConf resolvers they use, and flattening a config into dotted keys.

A config option or key mistyped on a command line (``model=pix2px``, ``colorizr=x``) is the
user's mistake: it becomes a :class:`~revive.errors.UserError` that names the closest real name
(:func:`unknown_name`), one line and exit 2 from a command, instead of Hydra's report.
"""

from __future__ import annotations

import difflib
import functools
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from omegaconf import DictConfig, OmegaConf, open_dict

from revive.errors import EXIT_USER_ERROR, UserError, show_tracebacks, user_errors

T = TypeVar("T")


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
    is kept only with ``hydra_node=True``, since a task never sees it. An override naming an
    option or key that does not exist raises :class:`~revive.errors.UserError` (the closest
    real name in its one line); Hydra's other errors are raised as they are.
    """
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.hydra_config import HydraConfig
    from hydra.errors import ConfigCompositionException

    register_resolvers()
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
            cfg = hydra_compose(config_name, overrides=list(overrides), return_hydra_config=True)
    except ConfigCompositionException as e:  # a missing option is one too
        mistake = unknown_name(e, overrides)
        if mistake is None:
            raise
        raise UserError(mistake) from e
    HydraConfig.instance().set_config(cfg)
    if not hydra_node:
        with open_dict(cfg):
            del cfg["hydra"]
    return cfg


def unknown_name(error: BaseException, overrides: Sequence[str]) -> str | None:
    """One line for the override in ``overrides`` that ``error`` (Hydra's, from composing them)
    says names a config option or key that does not exist, with the closest real name, e.g.
    ``model=pix2px: no such option; did you mean model=pix2pix? (choices: cyclegan, ...)``;
    ``None`` when ``error`` is about something else.
    """
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import MissingConfigException
    from omegaconf.errors import ConfigAttributeError, ConfigKeyError

    try:
        parsed = OverridesParser.create().parse_overrides(list(overrides))
    except Exception:  # Hydra says what is wrong with the syntax
        return None
    if isinstance(error, MissingConfigException):  # a group's option: model=pix2px
        group, _, name = str(error.missing_cfg_file).rpartition("/")
        choices = [str(option) for option in error.options or ()]
        for override in parsed:
            if override.key_or_group != group or override.is_sweep_override():
                continue
            if str(override.value()) == name:
                key = override.input_line.partition("=")[0]
                return did_you_mean(override.input_line, f"{key}=", name, choices, "option")
        return None
    cause = error.__cause__  # a key: colorizr=x, model.lamda_l1=10
    if not isinstance(cause, (ConfigAttributeError, ConfigKeyError)) or not cause.full_key:
        return None
    parent = cause.parent_node
    if not isinstance(parent, DictConfig):
        return None
    wrong = str(cause.full_key)
    names = [str(key) for key in parent]
    if "." not in wrong:  # at the top, a group not chosen by default (experiment=...) is right too
        names += [path.name for path in sorted(config_dir().iterdir()) if path.is_dir()]
    for override in parsed:
        key = override.key_or_group
        if not override.is_delete() and (key == wrong or key.startswith(wrong + ".")):
            head, _, name = wrong.rpartition(".")
            prefix = f"{head}." if head else ""
            return did_you_mean(
                override.input_line,
                prefix,
                name,
                sorted(set(names)),
                "key",
                suffix=key[len(wrong) :] + "=" + override.input_line.partition("=")[2],
            )
    return None


def did_you_mean(
    given: str, prefix: str, name: str, names: Sequence[str], what: str, suffix: str = ""
) -> str:
    """``given: no such <what>; did you mean <prefix><closest><suffix>?``, the closest of
    ``names`` to ``name`` by :func:`difflib.get_close_matches`; options are listed, keys (there
    are many) only when none is close."""
    close = difflib.get_close_matches(name, names, n=1)
    listed = f"choices: {', '.join(names)}" if what == "option" else ""
    if close:
        line = f"{given}: no such {what}; did you mean {prefix}{close[0]}{suffix}?"
        return f"{line} ({listed})" if listed else line
    if what == "key":  # (none here: an empty node such as revive-bench's train)
        listed = f"keys here: {', '.join(names)}; " if names else ""
        listed += f"a new key is added with +{given}"
    return f"{given}: no such {what} ({listed})"


def hydra_command(
    config_name: str,
    program: str,
    retired: Mapping[str, str] | None = None,
    positional: Sequence[str] = (),
) -> Callable[[Callable[[DictConfig], T]], Callable[..., T]]:
    """``@hydra.main`` for ``conf/<config_name>.yaml``, the decorator of every Hydra command.

    Before Hydra starts, the overrides on the command line are composed once
    (:func:`check_command_line`): a mistyped option or key ends as ``<program>: error: ...``,
    one line naming the closest real name, and exit 2 (:func:`revive.errors.user_errors`).
    ``retired`` and ``positional``: the command's options from before it took ``key=value``
    (:func:`check_retired`), each answered with one line naming its replacement.
    """
    import hydra

    def decorate(task: Callable[[DictConfig], T]) -> Callable[..., T]:
        hydra_main = hydra.main(
            version_base="1.3", config_path=str(config_dir()), config_name=config_name
        )(task)

        @functools.wraps(task)
        def main(cfg_passthrough: DictConfig | None = None) -> T:
            if cfg_passthrough is None:
                check_retired(program, sys.argv[1:], retired or {}, positional)
                check_command_line(config_name, program, sys.argv[1:])
            return hydra_main(cfg_passthrough)

        return main

    return decorate


# Hydra's flags that take a value (``--cfg job``: ``job`` is not an argument of the command).
HYDRA_VALUE_FLAGS = {"--cfg", "-c", "--package", "-p", "--info", "-i", "--config-path", "-cp"}
HYDRA_VALUE_FLAGS |= {"--config-name", "-cn", "--config-dir", "-cd", "--experimental-rerun"}


def check_retired(
    program: str, argv: Sequence[str], flags: Mapping[str, str], positional: Sequence[str] = ()
) -> None:
    """Exit 2 with one line when ``argv`` uses an option a command had before it took
    ``key=value`` overrides: a flag of ``flags`` (``{"--out": "out=PATH"}``: ``program: error:
    --out is now out=PATH``), or a bare argument, once given in the order of ``positional``
    (``("runs",)``: ``DIR: arguments are now key=value: runs=DIR``).
    """
    bare: list[str] = []
    args = iter(argv)
    for arg in args:
        flag = arg.partition("=")[0] if arg.startswith("-") else ""
        if flag in flags:
            message = f"{flag} is now {flags[flag]}"
            break
        if arg in HYDRA_VALUE_FLAGS:
            next(args, None)
        elif not arg.startswith(("-", "~")) and "=" not in arg:
            bare.append(arg)
    else:
        if not bare or not positional:
            return
        keys = [f"{key}={value}" for key, value in zip(positional, bare, strict=False)]
        message = f"{' '.join(bare)}: arguments are now key=value: {' '.join(keys)}"
    print(f"{program}: error: {message}", file=sys.stderr, flush=True)
    sys.exit(EXIT_USER_ERROR)


# Hydra's flags that leave the config as it is (``--cfg job`` shows it), with their values.
SHOW_FLAGS = {"--cfg": 1, "-c": 1, "--package": 1, "-p": 1, "--resolve": 0}


def check_command_line(config_name: str, program: str, argv: Sequence[str]) -> None:
    """Exit 2 with one line when an override in ``argv`` names an option or key that
    ``conf/<config_name>.yaml`` does not have; return for anything else, left to Hydra.

    Plain runs and ``--cfg job`` are checked; Hydra's other flags (``--help``, ``-m`` ...),
    no overrides, or ``HYDRA_FULL_ERROR=1`` (Hydra's own report, its traceback) skip it.
    """
    overrides: list[str] = []
    args = iter(argv)
    for arg in args:
        if arg in SHOW_FLAGS:
            for _ in range(SHOW_FLAGS[arg]):
                next(args, None)
        elif arg.startswith("-"):
            return
        else:
            overrides.append(arg)
    if not overrides or show_tracebacks():
        return
    with user_errors(program):
        try:
            compose(config_name, overrides)
        except UserError:
            raise
        except Exception:  # a sweep, a syntax error: Hydra reports it as it always has
            return


def flatten(node: Any, prefix: str = "") -> dict[str, Any]:
    """``{"model": {"lambda_l1": 10}}`` -> ``{"model.lambda_l1": 10}`` (lists stay leaves), so
    that dashboards and comparisons can filter on any key."""
    if not isinstance(node, Mapping):
        return {prefix: node}
    flat: dict[str, Any] = {}
    for key, value in node.items():
        flat.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    return flat
