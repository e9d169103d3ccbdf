"""Each browser session's private folder: its uploads and results, and nobody else's.

Folders are named by a hash of Gradio's session id (a client-supplied string never becomes a
path), are created readable by this user only, and are deleted when the session ends or after
``keep_minutes`` without use, whichever comes first.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
import time
from pathlib import Path


class SessionFolders:
    """Private per-session folders under ``root``, removed on :meth:`drop` or by :meth:`sweep`."""

    def __init__(self, root: str | os.PathLike, keep_minutes: float) -> None:
        if keep_minutes <= 0:
            raise ValueError(f"keep_minutes must be positive (got {keep_minutes})")
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.keep_seconds = keep_minutes * 60.0
        self._lock = threading.Lock()

    def path(self, session: str) -> Path:
        """Where ``session``'s files live (whether or not the folder exists yet)."""
        return self.root / hashlib.sha256(session.encode()).hexdigest()[:24]

    def folder(self, session: str) -> Path:
        """``session``'s folder, created if needed and marked as used now."""
        if not session:
            raise ValueError("no browser session: the page must be used through its queue")
        path = self.path(session)
        with self._lock:
            path.mkdir(mode=0o700, exist_ok=True)
            os.utime(path)
        return path

    def drop(self, session: str) -> bool:
        """Delete ``session``'s folder and everything in it; True when there was one."""
        path = self.path(session)
        with self._lock:
            existed = path.exists()
            shutil.rmtree(path, ignore_errors=True)
        return existed

    def sweep(self, now: float | None = None) -> int:
        """Delete the folders unused for longer than ``keep_minutes``; returns how many."""
        now = time.time() if now is None else now
        removed = 0
        with self._lock:
            for path in self.root.iterdir():
                if path.is_dir() and now - path.stat().st_mtime > self.keep_seconds:
                    shutil.rmtree(path, ignore_errors=True)
                    removed += 1
        return removed

    def sweep_every(self, seconds: float) -> threading.Event:
        """Sweep in a daemon thread every ``seconds``; set the returned event to stop it."""
        stop = threading.Event()

        def loop() -> None:
            while not stop.wait(seconds):
                self.sweep()

        threading.Thread(target=loop, name="revive-app-sweeper", daemon=True).start()
        return stop
