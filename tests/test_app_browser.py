"""The web page in a real browser: Playwright drives headless Chromium (Debian's ``chromium``)
against ``python -m revive.app`` on a free 127.0.0.1 port, with tiny random-weight networks.

Every wait is bounded in time; the server is stopped with SIGTERM at the end and must
remove its temporary folder. Set ``REVIVE_APP_SCREENSHOT=path.png`` to keep the screenshot.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urlparse

import numpy as np
import pytest
from PIL import Image

from revive.restore import restore_paths
from tests.app_fixtures import RENDER, save_corrupt, save_gray, save_noise, save_weights
from tests.conftest import REPO

pytestmark = pytest.mark.slow
CHROMIUM = (
    os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
)
START_S, REVIVE_S = 180, 120  # bounds: server start (imports on a busy 2-core machine), one request
PHOTO = "grandma_1952.png"  # a name that must never reach the server's log


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("app")
    colorizer, denoiser = save_weights(root / "weights")
    return {
        "root": root,
        "colorizer": colorizer,
        "denoiser": denoiser,
        "photo": save_gray(root / "photos" / PHOTO),
        "broken": save_corrupt(root / "photos" / "broken_scan.jpg"),
        "heavy": save_noise(root / "photos" / "heavy.png", megabytes=1.5),
    }


@pytest.fixture(scope="module")
def server(files) -> Iterator[dict]:
    """The app on a free local port (1 MB uploads at most); yields its URL and log file."""
    port, log = free_port(), files["root"] / "server.log"
    cmd = [
        sys.executable, "-m", "revive.app", f"colorizer={files['colorizer']}",
        f"denoiser={files['denoiser']}", f"render_size={RENDER}", "device=cpu",
        f"app.port={port}", "app.max_upload_mb=1", "app.max_photos=3",
        f"hydra.run.dir={files['root'] / 'hydra'}",
    ]  # fmt: skip
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + START_S
    while True:
        try:
            urllib.request.urlopen(url, timeout=5)
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"the app did not start:\n{log.read_text()[-3000:]}")
            time.sleep(1)
    state = {"url": url, "log": log, "proc": proc, "roots": set()}
    yield state
    proc.send_signal(signal.SIGTERM)  # as a service manager stops it (Ctrl+C takes the same path)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
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


def session_root(src: str) -> Path:
    """The server-side file behind an image URL (…/gradio_api/file=/tmp/…/x.png)."""
    return Path(unquote(src.split("file=", 1)[1]))


def test_revive_a_photo_then_download_what_predict_gives(browser, server, files, tmp_path):
    context, page, hosts = open_page(browser, server)
    page.set_input_files("#photos input[type=file]", [str(files["photo"]), str(files["broken"])])
    page.wait_for_selector(f"text={PHOTO}", timeout=30_000)
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
    summary = restore_paths(
        files["photo"], tmp_path / "predict", files["colorizer"], files["denoiser"],
        render_size=RENDER, device="cpu", progress=False,
    )  # fmt: skip
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
