"""The page's own waiting line: who runs now, and each waiting request's place in line.

Gradio's queue shows its position and a time estimate only in an overlay that the page cannot
word or place (and its estimate was wrong by minutes). So the revive event runs without Gradio's
limit, and waits here instead: at most ``slots`` requests revive at once, at most ``size`` wait,
and a waiting request can tell its family where it stands.
"""

from __future__ import annotations

import threading


class LineFull(Exception):
    """More requests are waiting than the line holds."""


class Line:
    """A first-come first-served line with ``slots`` places that run and ``size`` that wait."""

    def __init__(self, slots: int = 1, size: int = 16) -> None:
        if slots < 1 or size < 0:
            raise ValueError(f"a line needs slots >= 1 and size >= 0 (got {slots}, {size})")
        self.slots, self.size = slots, size
        self._order: list[object] = []
        self._changed = threading.Condition()

    def join(self) -> object:
        """A new ticket at the end of the line; :class:`LineFull` when it is full."""
        ticket = object()
        with self._changed:
            if len(self._order) >= self.slots + self.size:
                raise LineFull(f"{len(self._order) - self.slots} requests are waiting already")
            self._order.append(ticket)
        return ticket

    def place(self, ticket: object) -> int:
        """0 when ``ticket`` may run; else how many requests run or wait before it, less the
        ones running (1: it is next)."""
        with self._changed:
            return max(0, self._order.index(ticket) - self.slots + 1)

    def wait(self, ticket: object, timeout: float) -> int:
        """Wait up to ``timeout`` s for ``ticket``'s place to change; returns the place."""
        with self._changed:
            before = self._order.index(ticket)
            if before >= self.slots:
                self._changed.wait_for(lambda: self._order.index(ticket) != before, timeout=timeout)
            return max(0, self._order.index(ticket) - self.slots + 1)

    def leave(self, ticket: object) -> None:
        """``ticket`` is done (or its page closed): the ones behind it move up."""
        with self._changed:
            if ticket in self._order:
                self._order.remove(ticket)
                self._changed.notify_all()

    def __len__(self) -> int:
        with self._changed:
            return len(self._order)
