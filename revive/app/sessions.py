"""Each browser session's private folder: its uploads and results, and nobody else's.

Folders are named by a hash of Gradio's session id (a client-supplied string never becomes a
path), are created readable by this user only (0700, files 0600), and are deleted when the session
ends or after ``keep_minutes`` without use, whichever comes first.

A session also holds:

- a secret **token**, handed to its page once and sent back by its browser as the cookie
  ``revive_<folder>`` with every file request (:mod:`revive.app.guard` checks it), so that a link
  to a family's photo opens for that family's page only;
- its **uploads**: Gradio stores uploads by content hash, so two sessions that upload the same
  bytes share one file. Each session copies what it uploads into its own folder at once
  (:meth:`SessionFolders.keep_upload`) and works on that copy only; Gradio's file is deleted when
  the last session that claimed it ends, and any upload no session claimed goes within
  ``keep_minutes`` (:func:`sweep_orphans`);
- whether it is **closed**: after :meth:`SessionFolders.close`, :meth:`SessionFolders.writing`
  refuses, so a request still running for a closed page writes nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from revive.app.work import Cancelled

COOKIE_PREFIX = "revive_"
UPLOADS = "uploads"  # a session's copies of its uploads: never served, not even to the session


class SessionClosed(Cancelled):
    """The session's page was closed: its work stops and writes nothing more."""


class SessionFolders:
    """Private per-session folders under ``root``, removed on :meth:`close` or by :meth:`sweep`."""

    def __init__(self, root: str | os.PathLike, keep_minutes: float) -> None:
        if keep_minutes <= 0:
            raise ValueError(f"keep_minutes must be positive (got {keep_minutes})")
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.keep_seconds = keep_minutes * 60.0
        self._lock = threading.Lock()  # guards the dictionaries below
        self._write_locks: dict[str, threading.Lock] = {}  # per folder: writes against close
        self._tokens: dict[str, str] = {}  # folder id -> secret
        self._closed: dict[str, float] = {}  # folder id -> when its page closed
        self._uploads: dict[str, dict[str, Path]] = {}  # folder id -> Gradio path -> own copy
        self._claims: dict[str, set[str]] = {}  # Gradio path -> folder ids that copied it

    # -- names ------------------------------------------------------------------------------------
    @staticmethod
    def folder_id(session: str) -> str:
        """The folder name of ``session``: a hash, so the client's string never becomes a path."""
        return hashlib.sha256(session.encode()).hexdigest()[:24]

    def path(self, session: str) -> Path:
        """Where ``session``'s files live (whether or not the folder exists yet)."""
        return self.root / self.folder_id(session)

    def folder(self, session: str) -> Path:
        """``session``'s folder, created if needed and marked as used now."""
        if not session:
            raise ValueError("no browser session: the page must be used through its queue")
        if self.is_closed(session):
            raise SessionClosed(session)
        path = self.path(session)
        with self._lock:
            path.mkdir(mode=0o700, exist_ok=True)
            os.utime(path)
        return path

    # -- the token behind every file link ---------------------------------------------------------
    def issue_token(self, session: str) -> str | None:
        """The cookie (``name=value``) that opens ``session``'s files; given out once only, so
        that nobody else who learns the session id can ask for it again. None after that."""
        if not session or self.is_closed(session):
            return None
        fid = self.folder_id(session)
        with self._lock:
            if fid in self._tokens:
                return None
            self._tokens[fid] = secrets.token_urlsafe(24)
            return f"{COOKIE_PREFIX}{fid}={self._tokens[fid]}"

    def has_token(self, session: str) -> bool:
        with self._lock:
            return self.folder_id(session) in self._tokens

    def token_matches(self, folder_id: str, token: str | None) -> bool:
        """Whether ``token`` (the cookie's value) opens the folder ``folder_id``."""
        with self._lock:
            expected = self._tokens.get(folder_id)
        return bool(expected and token) and hmac.compare_digest(expected, token or "")

    # -- uploads ----------------------------------------------------------------------------------
    def keep_upload(self, session: str, source: Path) -> Path:
        """Copy Gradio's upload ``source`` into ``session``'s own folder (0600) and claim it."""
        with self.writing(session) as folder:
            mine = self._uploads.setdefault(self.folder_id(session), {})
            if str(source) in mine and mine[str(source)].exists():
                return mine[str(source)]
            uploads = folder / UPLOADS
            uploads.mkdir(mode=0o700, exist_ok=True)
            dest = uploads / f"{len(mine):03d}{source.suffix.lower()}"
            tmp = dest.with_name(f".{dest.name}.part")
            shutil.copyfile(source, tmp)  # FileNotFoundError when it went meanwhile
            tmp.chmod(0o600)
            os.replace(tmp, dest)
            with self._lock:
                mine[str(source)] = dest
                self._claims.setdefault(str(source), set()).add(self.folder_id(session))
        return dest

    def own_upload(self, session: str, source: Path) -> Path | None:
        """``session``'s copy of Gradio's upload ``source``, or None if it never copied it."""
        with self._lock:
            copy = self._uploads.get(self.folder_id(session), {}).get(str(source))
        return copy if copy is not None and copy.exists() else None

    # -- the end of a session ---------------------------------------------------------------------
    def is_closed(self, session: str) -> bool:
        with self._lock:
            return self.folder_id(session) in self._closed

    @contextmanager
    def writing(self, session: str) -> Iterator[Path]:
        """Hold ``session``'s write lock and yield its folder; :class:`SessionClosed` when the
        page has closed, so that nothing is written after :meth:`close`."""
        fid = self.folder_id(session)
        with self._lock:
            lock = self._write_locks.setdefault(fid, threading.Lock())
        with lock:
            yield self.folder(session)  # raises SessionClosed once closed

    def close(self, session: str) -> list[Path]:
        """The page closed: refuse its writes from now on, delete its folder and token. Returns
        Gradio's uploads that no open session claims any more (for the caller to delete)."""
        fid = self.folder_id(session)
        with self._lock:
            self._closed[fid] = time.time()
            lock = self._write_locks.setdefault(fid, threading.Lock())
        with lock:  # a write under way finishes first; none starts after this
            shutil.rmtree(self.root / fid, ignore_errors=True)
        with self._lock:
            self._tokens.pop(fid, None)
            self._write_locks.pop(fid, None)
            unclaimed = []
            for source in self._uploads.pop(fid, {}):
                owners = self._claims.get(source, set())
                owners.discard(fid)
                if not owners:
                    self._claims.pop(source, None)
                    unclaimed.append(Path(source))
        return unclaimed

    def drop(self, session: str) -> bool:
        """Delete ``session``'s folder and everything in it; True when there was one."""
        existed = self.path(session).exists()
        self.close(session)
        return existed

    def sweep(self, now: float | None = None) -> int:
        """Delete the folders unused for longer than ``keep_minutes``; returns how many."""
        now = time.time() if now is None else now
        removed = 0
        with self._lock:
            for path in self.root.iterdir():
                if path.is_dir() and now - path.stat().st_mtime > self.keep_seconds:
                    shutil.rmtree(path, ignore_errors=True)
                    self._tokens.pop(path.name, None)
                    removed += 1
            # a closed session's id is remembered long enough to refuse its late requests
            for fid, when in list(self._closed.items()):
                if now - when > self.keep_seconds:
                    del self._closed[fid]
        return removed

    def sweep_every(
        self, seconds: float, uploads: Path | None = None, max_age: float | None = None
    ) -> threading.Event:
        """Sweep in a daemon thread every ``seconds`` (and :func:`sweep_orphans` of ``uploads``
        older than ``max_age``); set the returned event to stop it."""
        stop = threading.Event()

        def loop() -> None:
            while not stop.wait(seconds):
                self.sweep()
                if uploads is not None:
                    sweep_orphans(uploads, self, max_age or self.keep_seconds)

        threading.Thread(target=loop, name="revive-app-sweeper", daemon=True).start()
        return stop


def sweep_orphans(
    uploads: Path, folders: SessionFolders, max_age: float, now: float | None = None
) -> int:
    """Delete Gradio's uploads under ``uploads`` (all but the sessions' root) older than
    ``max_age`` seconds: pages closed before Revive, and files POSTed straight to
    ``/gradio_api/upload``. A session that claimed one works on its own copy, so none is needed
    by then. Returns how many files went."""
    now = time.time() if now is None else now
    removed = 0
    if not uploads.is_dir():
        return 0
    for entry in uploads.iterdir():
        if entry == folders.root:
            continue
        files = list(entry.iterdir()) if entry.is_dir() else [entry]
        for file in files:
            try:
                if now - file.lstat().st_mtime > max_age:
                    file.unlink()
                    removed += 1
            except OSError:  # gone meanwhile, or a folder
                continue
        if entry.is_dir():
            with suppress(OSError):  # only when empty
                entry.rmdir()
    return removed
