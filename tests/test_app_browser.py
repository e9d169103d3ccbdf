"""The web page in a real browser: Playwright drives headless Chromium (Debian's ``chromium``)
against ``python -m revive.app`` on a free 127.0.0.1 port, with tiny random-weight networks.

Every wait is bounded in time; the server is stopped with SIGTERM at the end and must
remove its temporary folder. Set ``REVIVE_APP_SCREENSHOT=path.png`` to keep the screenshot.
"""

from __future__ import annotations

import os
import re
import shutil
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urlparse

import numpy as np
import pytest
from PIL import Image

from revive.restore import RestoreOptions, restore_paths
from tests.app_fixtures import (
    RENDER,
    save_corrupt,
    save_gray,
    save_noise,
    save_weights,
    start_app,
    stop_app,
)

pytestmark = pytest.mark.slow
CHROMIUM = (
    os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
)
START_S, REVIVE_S = 300, 120  # bounds: server start (imports on a busy 2-core machine), one request
PHOTO = "grandma_1952.png"  # a name that must never reach the server's log


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("app")
    colorizer, denoiser = save_weights(root / "server" / "weights")  # start_app's, the same
    return {
        "root": root,
        "colorizer": colorizer,
        "denoiser": denoiser,
        # about 1.4 MP each: slow enough on a CPU to watch a request under way
        "slow": [
            save_gray(root / "photos" / f"wedding_{i}.png", 1200, 1200, seed=i) for i in range(3)
        ],
        "photo": save_gray(root / "photos" / PHOTO),
        "broken": save_corrupt(root / "photos" / "broken_scan.jpg"),
        "heavy": save_noise(root / "photos" / "heavy.png", megabytes=1.5),
    }


@pytest.fixture(scope="module")
def server(files) -> Iterator[dict]:
    """The app on a free local port (1 MB uploads at most); yields its URL and log file."""
    try:
        state = start_app(
            files["root"] / "server", ["app.max_upload_mb=1", "app.max_photos=3"], START_S
        )
    except RuntimeError as e:
        pytest.fail(str(e))
    state["roots"] = set()
    yield state
    stop_app(state)
    for root in state["roots"]:
        assert not root.exists(), f"{root} was left behind"


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        pytest.skip("no chromium binary (apt-get install chromium; .ci/run does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


def open_page(browser, server: dict):
    context = browser.new_context(accept_downloads=True, viewport={"width": 1100, "height": 900})
    page = context.new_page()
    hosts = []
    page.on("request", lambda request: hosts.append(urlparse(request.url).netloc))
    page.goto(server["url"], timeout=60_000)
    page.wait_for_selector("#revive", timeout=60_000)
    return context, page, hosts


def upload(page, paths: list[Path], timeout_s: float = 30) -> None:
    """Give ``paths`` to the photo picker and wait until the page's file list names exactly
    them, in order: the upload is done and Revive will send them. (Gradio's list shows each
    name as two spans, stem and extension, so a ``text=name.png`` selector never matches it;
    it matched only the "Uploading…" list for the moment it was up.)"""
    page.set_input_files("#photos input[type=file]", [str(p) for p in paths])
    page.wait_for_function(
        """names => JSON.stringify([...document.querySelectorAll('#photos .file-preview td.filename')]
          .map(td => td.getAttribute('aria-label'))) === JSON.stringify(names)""",
        arg=[p.name for p in paths],
        timeout=timeout_s * 1000,
    )


def session_root(src: str) -> Path:
    """The server-side file behind an image URL (…/gradio_api/file=/tmp/…/x.png)."""
    return Path(unquote(src.split("file=", 1)[1]))


def test_revive_a_photo_then_download_what_predict_gives(browser, server, files, tmp_path):
    context, page, hosts = open_page(browser, server)
    upload(page, [files["photo"], files["broken"]])
    page.click("#revive")
    page.wait_for_selector("#slider-0 img", timeout=REVIVE_S * 1000)
    page.wait_for_function(
        "() => [...document.querySelectorAll('#slider-0 img')].every(i => i.complete && i.naturalWidth)",
        timeout=30_000,
    )
    sizes = page.eval_on_selector_all(
        "#slider-0 img", "els => els.map(e => [e.naturalWidth, e.naturalHeight, e.src])"
    )
    assert len(sizes) == 2 and all((w, h) == (110, 150) for w, h, _ in sizes)  # full size
    status = page.inner_text("#status")
    assert "1 photo revived" in status and "broken_scan.jpg could not be read" in status
    assert not page.is_visible("#slider-1")  # the broken file has no slider

    with page.expect_download(timeout=30_000) as info:
        page.click("#download-0")
    downloaded = tmp_path / "download.png"
    info.value.save_as(downloaded)
    assert info.value.suggested_filename == "grandma_1952_revived.png"
    summary = restore_paths(files["photo"], tmp_path / "predict", RestoreOptions(colorizer=files["colorizer"], denoiser=files["denoiser"], render_size=RENDER, device="cpu"), progress=False)  # fmt: skip
    assert summary.ok
    expected = np.asarray(Image.open(tmp_path / "predict" / "grandma_1952_revived.png"))
    np.testing.assert_array_equal(np.asarray(Image.open(downloaded)), expected)

    with page.expect_download(timeout=30_000) as info:
        page.click("#download-all")
    info.value.save_as(tmp_path / "all.zip")
    with zipfile.ZipFile(tmp_path / "all.zip") as archive:
        assert archive.read("grandma_1952_revived.png") == downloaded.read_bytes()

    shot = Path(os.environ.get("REVIVE_APP_SCREENSHOT", tmp_path / "app_screenshot.png"))
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    assert set(hosts) == {urlparse(server["url"]).netloc}  # nothing fetched from elsewhere

    folder = session_root(sizes[1][2]).parents[1]  # <root>/gradio/sessions/<session>
    server["roots"].add(folder.parents[2])
    assert folder.exists()
    second, other_page, _ = open_page(browser, server)  # another family, at the same time
    assert not other_page.is_visible("#slider-0") and PHOTO not in other_page.content()
    assert "revived" not in other_page.inner_text("#status")
    second.close()

    context.close()  # the family closes the page: its folder goes
    deadline = time.monotonic() + 30
    while folder.exists() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not folder.exists()
    assert PHOTO.split(".")[0] not in server["log"].read_text()  # the log names no photo


def test_an_oversized_upload_gets_its_message(browser, server, files):
    context, page, _ = open_page(browser, server)
    page.set_input_files("#photos input[type=file]", [str(files["heavy"])])
    message = page.wait_for_selector("text=exceed the maximum allowed size", timeout=30_000)
    assert "1.0 Mb" in message.inner_text() and "heavy.png" in message.inner_text()
    context.close()


def status_box(page) -> dict:
    """Where the status line is, and whether its text fits in it (not clipped, not 0 px)."""
    return page.eval_on_selector(
        "#status",
        """el => {
          const box = el.getBoundingClientRect();
          const range = document.createRange();
          range.selectNodeContents(el);
          const text = range.getBoundingClientRect();
          return {height: box.height, width: box.width, text: el.innerText,
                  textHeight: text.height, clipped: el.scrollHeight > el.clientHeight + 1,
                  inside: text.top >= box.top - 1 && text.bottom <= box.bottom + 1};
        }""",
    )


def wait_for_status(page, words: str, timeout_s: float = REVIVE_S) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        box = status_box(page)
        if words in box["text"]:
            return box
        time.sleep(0.05)
    raise AssertionError(f"the status never said {words!r}; it says {status_box(page)['text']!r}")


def assert_visible(box: dict) -> None:
    assert box["height"] > 0 and box["width"] > 0 and box["textHeight"] > 0, box
    assert not box["clipped"] and box["inside"], box


def session_folder(server: dict, page) -> Path:
    """The session folder of ``page``: the one holding the photos it uploaded."""
    sessions = server["root"] / "gradio" / "sessions"
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    (name,) = [n for n in cookies if n.startswith("revive_")]
    return sessions / name.removeprefix("revive_")


def test_progress_is_visible_and_results_come_one_by_one(browser, server, files, tmp_path):
    """Failure 4: while a family's three photos wait and are revived, the status line says
    where they stand (place in line, "photo 2 of 3"), visibly, with no time estimate; the
    button is disabled; each photo appears as soon as it is done."""
    shots = Path(os.environ.get("REVIVE_APP_STATUS_SCREENSHOT", tmp_path / "status.png"))
    first, a, _ = open_page(browser, server)
    second, b, _ = open_page(browser, server)
    upload(a, files["slow"])
    upload(b, [files["photo"]])
    a.click("#revive")
    wait_for_status(a, "Reviving photo 1 of 3")  # a's request holds the line before b's joins
    assert a.is_disabled("#revive")
    b.click("#revive")  # another family, while the first is under way
    box = wait_for_status(b, "Waiting in line: 1 request ahead of yours")
    assert_visible(box)
    b.screenshot(path=str(tmp_path / "waiting.png"))
    assert b.is_disabled("#revive")
    box = wait_for_status(a, "Reviving photo 2 of 3")
    assert_visible(box)
    assert a.is_disabled("#revive")
    assert a.is_visible("#slider-0") and not a.is_visible("#slider-2")  # photo 1 is there already
    a.screenshot(path=str(shots))
    assert shots.stat().st_size > 10_000
    assert not re.search(r"\d+(\.\d+)?\s*/\s*\d+(\.\d+)?s", a.inner_text("body"))  # no "0.2/32.2s"
    box = wait_for_status(a, "3 photos revived")
    assert_visible(box)
    a.wait_for_selector("#slider-2 img", timeout=30_000)
    a.wait_for_function("() => !document.querySelector('#revive').disabled", timeout=30_000)
    wait_for_status(b, "1 photo revived")
    first.close()
    second.close()


def test_identical_uploads_stay_each_sessions_own(browser, server, files):
    """Failure 2: two families upload the same photo (Gradio keeps one file for both); the
    first closes its page; the second's Revive still works, on its own copy."""
    first, a, _ = open_page(browser, server)
    second, b, _ = open_page(browser, server)
    for page in (a, b):
        upload(page, [files["photo"]])
    folder_a, folder_b = session_folder(server, a), session_folder(server, b)
    deadline = time.monotonic() + 30
    while not (folder_b / "uploads").exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert folder_a != folder_b
    first.close()  # the first family leaves
    deadline = time.monotonic() + 30
    while folder_a.exists() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not folder_a.exists()
    b.click("#revive")
    wait_for_status(b, "photo revived")
    assert "1 photo revived" in b.inner_text("#status") and "could not" not in b.inner_text(
        "#status"
    )
    modes = {
        p.relative_to(folder_b).as_posix(): p.stat().st_mode & 0o777 for p in folder_b.rglob("*")
    }
    assert all(m == (0o700 if (folder_b / n).is_dir() else 0o600) for n, m in modes.items()), modes
    second.close()


def test_closing_the_page_stops_its_request_and_writes_nothing(browser, server, files):
    """Failure 3: the page is closed while photo 2 of 3 is revived: its folder goes and is not
    written again, and the next family is not kept waiting by it."""
    context, page, _ = open_page(browser, server)
    upload(page, files["slow"])
    folder = session_folder(server, page)
    page.click("#revive")
    wait_for_status(page, "Reviving photo 2 of 3")
    assert folder.exists()  # photo 1 is written: the checks below are not about a folder never made
    context.close()
    deadline = time.monotonic() + 30
    while folder.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not folder.exists()
    deadline = time.monotonic() + 60
    while "request stopped: its page was closed" not in server["log"].read_text():
        assert time.monotonic() < deadline, "the request did not stop"
        time.sleep(0.5)
    assert not folder.exists()  # nothing written after the close, not even the folder
    other, page, _ = open_page(browser, server)
    upload(page, [files["photo"]])
    page.click("#revive")
    wait_for_status(page, "1 photo revived", timeout_s=60)
    other.close()
