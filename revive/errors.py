"""The user's mistakes: one error type, and one place that turns it into one line and exit 2.

A bad file, a bad path or a bad value is not a bug in ``revive``: a traceback would only hide
the one sentence that matters. Every entry point (``train.py``, ``predict.py``, ``eval.py``,
the export) runs inside :func:`user_errors`; ``HYDRA_FULL_ERROR=1`` (or ``debug=true`` where
the config has it) lets the traceback through for whoever debugs ``revive`` itself.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

EXIT_USER_ERROR = 2
MAX_MESSAGE = 2000


class UserError(ValueError):
    """A file, path or value given by the user that cannot be used; the message names it.

    A ``ValueError``, so that callers that already handle bad values keep working. Its message
    is always one line of at most :data:`MAX_MESSAGE` characters, whatever text from a hostile
    file it quotes.
    """

    def __str__(self) -> str:
        text = " ".join(super().__str__().split())
        return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"


class SetupError(UserError):
    """A problem found before any photo is read: input path, weights file, device or option."""


def one_line(error: BaseException) -> str:
    """The message of ``error`` on one line (or its type, when it has none)."""
    return " ".join(str(error).split()) or type(error).__name__


def show_tracebacks(debug: object = False) -> bool:
    """Whether errors should be raised in full rather than summed up in one line."""
    return debug is True or os.environ.get("HYDRA_FULL_ERROR") == "1"


def user_error_in(error: BaseException) -> UserError | None:
    """``error`` if it is a :class:`UserError`, else the first one it was raised ``from``.

    Hydra's ``instantiate`` wraps whatever a constructor raises (``InstantiationException ...
    from e``); the user's mistake, or a missing extra, is still the one line to show.
    """
    seen: set[int] = set()
    cause: BaseException | None = error
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, UserError):
            return cause
        seen.add(id(cause))
        cause = cause.__cause__
    return None


@contextmanager
def user_errors(program: str, debug: object = False) -> Iterator[None]:
    """Turn a :class:`UserError` raised inside the block (or raised ``from`` one) into
    ``program: error: ...`` and exit 2."""
    try:
        yield
    except Exception as e:
        found = user_error_in(e)
        if found is None or show_tracebacks(debug):
            raise
        print(f"{program}: error: {one_line(found)}", file=sys.stderr, flush=True)
        sys.exit(EXIT_USER_ERROR)
