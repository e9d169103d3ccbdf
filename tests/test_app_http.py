"""The web page over plain HTTP, as a hostile visitor on the same machine would try it, and
under load: ``python -m revive.app`` with tiny random-weight networks on a free local port,
driven by :class:`revive.app.client.PageSession` (the routes a browser uses, nothing else).

Issue 24's failures 5 (links without their session), 6 (the private close action called
through the queue) and 7 (uploads never revived), and six sessions at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from revive.app.client import PageSession
from tests.app_fixtures import save_gray, start_app, stop_app

pytestmark = pytest.mark.slow
KEEP_MINUTES = 0.25  # 15 s: orphans must go within this


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[dict]:
    root = tmp_path_factory.mktemp("app_http")
    state = start_app(root, [f"app.keep_minutes={KEEP_MINUTES}", "app.max_photos=3"])
    state["photos"] = root / "photos"
    yield state
    stop_app(state)


def revived(server: dict, seed: int = 3) -> tuple[PageSession, list[str]]:
    """A session that opened the page and revived one photo: it and its two links."""
    session = PageSession(server["url"])
    session.open()
    photo = save_gray(server["photos"] / f"photo_{seed}.png", seed=seed)
    run = session.revive(session.upload([photo]))
    assert run.error is None, run.error
    (links,) = session.results(run)
    return session, links


def folder_of(link: str) -> Path:
    """The session folder behind a result link (…/file=<root>/gradio/sessions/<id>/request_000/x)."""
    return Path(link.split("file=", 1)[1]).parents[1]


def test_links_open_only_for_their_own_session(server):
    """Failure 5: another session and a client without cookies get 404 for every file of the
    session, the original upload included, under the spellings a visitor would try."""
    alice, links = revived(server)
    bob = PageSession(server["url"])
    bob.open()
    folder = folder_of(links[0])
    upload = next((folder / "uploads").iterdir())
    spellings = [
        *links,
        links[1].replace("/request_000/", "/request_000/../request_000/"),
        links[1].replace("file=/", "file=//"),
        links[1].replace("/gradio_api/file=", "/gradio_api/file/"),
        links[1].replace("sessions/", "sessions/%2e%2e/sessions/"),
    ]
    uploads = [f"{server['url']}gradio_api/file={upload}"]
    with httpx.Client() as nobody:
        for url in spellings + uploads:
            assert nobody.get(url).status_code == 404, url
            assert bob.http.get(url).status_code == 404, url
    for url in links:  # the family itself still gets its photos
        answer = alice.http.get(url)
        assert answer.status_code == 200 and answer.content.startswith(b"\x89PNG")
    assert alice.http.get(uploads[0]).status_code == 404  # never shown, so never served
    assert httpx.get(f"{server['url']}gradio_api/file=/etc/passwd").status_code != 200
    alice.close()
    bob.close()


def test_nobody_can_call_the_private_close_action(server):
    """Failure 6: a POST to /gradio_api/queue/join with the close action's fn_index and the
    family's session id (from another client) deletes nothing."""
    alice, links = revived(server, seed=4)
    folder = folder_of(links[0])
    for session_hash in (alice.session, "someone-else"):
        body = {"data": [], "fn_index": alice.fns["forget"], "session_hash": session_hash}
        answer = httpx.post(f"{server['url']}gradio_api/queue/join", json=body)
        assert answer.status_code in (200, 400, 403, 422)
    time.sleep(2)  # the queue runs what it accepted at once
    assert folder.exists() and alice.http.get(links[1]).status_code == 200
    assert "refused a call of the page's close action" in server["log"].read_text()
    alice.close()


def test_uploads_never_revived_go_within_keep_minutes(server):
    """Failure 7: a file POSTed straight to /gradio_api/upload (no page at all), and a page
    closed after its upload without pressing Revive, leave nothing after keep_minutes."""
    photo = save_gray(server["photos"] / "orphan.png", seed=9)
    with httpx.Client() as raw:
        (stored,) = raw.post(
            f"{server['url']}gradio_api/upload", files=[("files", ("x.png", photo.read_bytes()))]
        ).json()
    page = PageSession(server["url"])
    page.open()
    beat = threading.Thread(target=page.heartbeat, kwargs={"seconds": 3.0}, daemon=True)
    beat.start()
    (kept,) = page.upload([save_gray(server["photos"] / "kept.png", seed=10)])
    own = next((server["root"] / "gradio" / "sessions").glob("*/uploads/*"))
    assert Path(stored).exists() and Path(kept["path"]).exists() and own.exists()
    beat.join()  # the page closes without Revive
    deadline = time.monotonic() + KEEP_MINUTES * 60 + 3  # a little slack for a busy machine
    while time.monotonic() < deadline and (
        Path(stored).exists() or Path(kept["path"]).exists() or own.exists()
    ):
        time.sleep(0.5)
    assert not Path(stored).exists(), "a file POSTed straight to the upload route stayed"
    assert not Path(kept["path"]).exists() and not own.exists(), "a closed page's upload stayed"
    page.close()


def test_six_sessions_at_once_each_get_their_own_photo(server):
    """Six sessions revive one photo each at the same moment: every result reaches its own
    session (its pixels are that session's photo), none is lost, none is served to another."""
    count = 6
    photos = [save_gray(server["photos"] / f"family_{i}.png", seed=20 + i) for i in range(count)]
    sessions = [PageSession(server["url"]) for _ in range(count)]
    runs: list = [None] * count
    errors: list[BaseException] = []
    start = threading.Barrier(count)

    def family(i: int) -> None:
        try:
            sessions[i].open()
            files = sessions[i].upload([photos[i]])
            start.wait(timeout=60)
            runs[i] = sessions[i].revive(files)
        except BaseException as e:  # handed to the test thread
            errors.append(e)

    threads = [threading.Thread(target=family, args=(i,)) for i in range(count)]
    began = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert time.monotonic() - began < 120
    for i, (session, run) in enumerate(zip(sessions, runs, strict=True)):
        assert run is not None and run.error is None, (i, run)
        assert "1 photo revived" in run.statuses[-1]
        (links,) = session.results(run)
        before = session.http.get(links[0])
        assert before.status_code == 200
        pixels = np.asarray(Image.open(__import__("io").BytesIO(before.content)))[..., 0]
        np.testing.assert_array_equal(pixels, np.asarray(Image.open(photos[i])))
        other = sessions[(i + 1) % count]
        assert other.http.get(links[1]).status_code == 404
    waited = [any(s.startswith("**Waiting in line") for s in run.statuses) for run in runs]
    assert any(waited), "with one request at a time, some sessions must have waited"
    for session in sessions:
        session.close()
