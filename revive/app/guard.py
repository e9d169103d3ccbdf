"""Links only for their session: an ASGI middleware in front of Gradio's file routes.

Gradio serves any file under its temporary folder to whoever asks for its path
(``/gradio_api/file=<path>``). The page keeps every upload and result under that folder, so this
guard answers every file request that points there, whatever the spelling (``..``, symlinks,
percent-encoding: Starlette decodes the path once, and it is resolved both literally and
through links):

- a result under ``sessions/<folder>/request_*/`` is served only to a request carrying the
  cookie ``revive_<folder>`` with that session's token (:meth:`SessionFolders.issue_token`);
- the session's copies of its uploads, Gradio's own upload copies and anything else in the
  folder are served to nobody (the page never shows them).

Paths outside the folder go on to Gradio's own checks, which refuse everything it did not create.
"""

from __future__ import annotations

import os
import re
from http.cookies import CookieError, SimpleCookie
from pathlib import Path
from typing import Any

from revive.app.sessions import COOKIE_PREFIX, UPLOADS, SessionFolders

FILE_ROUTE = re.compile(r"/file[=/](?P<target>.*)$", re.DOTALL)

Scope = dict[str, Any]


def _within(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def cookies_of(scope: Scope) -> dict[str, str]:
    """The request's cookies by name (a malformed header counts as none)."""
    jar: SimpleCookie = SimpleCookie()
    for key, value in scope.get("headers", []):
        if key == b"cookie":
            try:
                jar.load(value.decode("latin-1"))
            except CookieError:
                return {}
    return {name: morsel.value for name, morsel in jar.items()}


class FileGuard:
    """Refuse file requests into ``protected`` unless they are a result of a session whose
    token the request's cookie carries (404, so nobody learns whether the file exists)."""

    def __init__(self, app: Any, folders: SessionFolders, protected: Path) -> None:
        self.app = app
        self.folders = folders
        self.protected = Path(os.path.realpath(protected))
        self.sessions = Path(os.path.realpath(folders.root))

    def allows(self, target: str, cookies: dict[str, str]) -> bool:
        """Whether a file request for ``target`` may go on to Gradio."""
        if not target or "://" in target:
            return True  # not a local path: Gradio's own rules
        readings = {Path(os.path.abspath(target)), Path(os.path.realpath(target))}
        if not any(_within(p, self.protected) for p in readings):
            return True
        for path in readings:
            if not _within(path, self.sessions):
                return False
            parts = path.relative_to(self.sessions).parts
            if len(parts) < 3 or not parts[1].startswith("request_") or UPLOADS in parts[1:]:
                return False
            folder = parts[0]
            if not self.folders.token_matches(folder, cookies.get(COOKIE_PREFIX + folder)):
                return False
        return True

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            match = FILE_ROUTE.search(scope.get("path", ""))
            if match and not self.allows(match["target"], cookies_of(scope)):
                await send(
                    {
                        "type": "http.response.start",
                        "status": 404,
                        "headers": [(b"content-type", b"text/plain; charset=utf-8")],
                    }
                )
                await send({"type": "http.response.body", "body": b"Not found."})
                return
        await self.app(scope, receive, send)
