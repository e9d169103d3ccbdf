"""``app_load``: the web page under N families at once (``revive-bench benchmark=app_load``).

Starts ``python -m revive.app`` as a family would (the shipped colorizer, ``conf/app.yaml``'s
limits and concurrency) on a free local port, then N sessions at the same moment each open the
page, upload one 640x480 photo and press Revive, over the same HTTP routes a browser uses
(:class:`revive.app.client.PageSession`). Reports the time from the shared Revive press to the
first result on any page and to the last, and the server's peak RSS (``VmHWM``, read before
it stops). Every session must get its own photo back, or the benchmark fails.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from PIL import Image

from revive.data.fakes import fake_photos

START_S = 300


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 2**10
    return float("nan")


def _family(go: threading.Barrier, page: Any, files: list, runs: list, i: int) -> None:
    """One family: wait for the others, press Revive, keep what its page saw."""
    go.wait()
    runs[i] = page.revive(files, enlarge=False)


def app_load(sessions: int = 6, repeats: int = 1) -> list[dict[str, Any]]:
    from revive.app.client import PageSession

    records = []
    with tempfile.TemporaryDirectory(prefix="revive-bench-app-") as tmp:
        root = Path(tmp)
        photos = []
        for i in range(sessions):
            photos.append(root / f"family_{i}.png")
            Image.fromarray(fake_photos(1, 480, 640, seed=i)[0][..., 1]).save(photos[-1])
        port = _free_port()
        cmd = [sys.executable, "-m", "revive.app", f"app.port={port}", "device=cpu",
               f"hydra.run.dir={root / 'hydra'}"]  # fmt: skip
        log = (root / "server.log").open("w")
        server = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=os.environ)
        url = f"http://127.0.0.1:{port}/"
        try:
            deadline = time.monotonic() + START_S
            while True:
                try:
                    urllib.request.urlopen(url, timeout=5)
                    break
                except OSError:
                    if server.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(
                            f"the app did not start: {(root / 'server.log').read_text()[-2000:]}"
                        ) from None
                    time.sleep(1)
            for _ in range(repeats):
                pages = [PageSession(url, timeout=1800) for _ in range(sessions)]
                files = []
                for page, photo in zip(pages, photos, strict=True):
                    page.open()
                    files.append(page.upload([photo]))
                runs: list[Any] = [None] * sessions
                go = threading.Barrier(sessions)
                threads = [
                    threading.Thread(target=_family, args=(go, pages[i], files[i], runs, i))
                    for i in range(sessions)
                ]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
                lost = [i for i, run in enumerate(runs) if run is None or 0 not in run.result_times]
                if lost:
                    raise RuntimeError(f"sessions {lost} got no result: {[runs[i] for i in lost]}")
                times = [run.result_times[0] for run in runs]
                for page in pages:
                    page.close()
                records.append(
                    {
                        "name": "app_load",
                        "metric": "seconds",
                        "seconds": round(max(times), 2),
                        "first_result_s": round(min(times), 2),
                        "last_result_s": round(max(times), 2),
                        "peak_rss_mb": round(_peak_rss_mb(server.pid), 1),
                        "sessions": sessions,
                        "settings": f"{sessions} sessions at once, one 640x480 photo each, "
                        f"shipped colorizer, app.yaml defaults: seconds to the last result "
                        f"(first {min(times):.1f} s); RSS of the server",
                    }
                )
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=60)
            except subprocess.TimeoutExpired:
                server.kill()
            log.close()
    return records
