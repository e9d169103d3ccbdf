"""The web page's work without a browser: limits, bad files, per-session folders, the same
pipeline as predict.py, the per-request options, and the config."""

from __future__ import annotations

import os
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from revive.app.sessions import SessionFolders
from revive.app.work import LimitError, Limits, check_count, revive_uploads, unique_stems
from revive.config import compose
from revive.restore import load_restorer, restore_paths
from tests.app_fixtures import RENDER, save_corrupt, save_gray, save_noise, save_weights


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> tuple[Path, Path]:
    return save_weights(tmp_path_factory.mktemp("weights"))


@pytest.fixture(scope="module")
def restorer(weights):
    return load_restorer(*weights, device="cpu", render_size=RENDER)


def pixels(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path))


def test_a_request_revives_like_predict_and_reports_bad_files_alone(restorer, weights, tmp_path):
    photo = save_gray(tmp_path / "in" / "grandma 1952.png")
    broken = save_corrupt(tmp_path / "in" / "broken.jpg")
    steps = []
    outcome = revive_uploads(
        restorer,
        [(broken, "broken.jpg"), (photo, "grandma 1952.png")],
        tmp_path / "session",
        Limits(),
        progress=lambda done, total, what: steps.append((done, total)),
    )
    assert steps == [(0, 2), (1, 2), (2, 2)]
    assert len(outcome.problems) == 1 and outcome.problems[0].startswith("broken.jpg ")
    assert str(tmp_path) not in outcome.problems[0]  # names the photo, not a server path
    (done,) = outcome.revived
    assert done.name == "grandma 1952.png" and done.after.name == "grandma 1952_revived.png"
    assert done.size == (110, 150) and pixels(done.before).shape == (150, 110, 3)
    # predict.py on the same photo with the same networks and options: the same pixels
    summary = restore_paths(
        photo, tmp_path / "predict", *weights, render_size=RENDER, device="cpu", progress=False
    )
    assert summary.ok
    expected = pixels(tmp_path / "predict" / "grandma 1952_revived.png")
    np.testing.assert_array_equal(pixels(done.after), expected)
    with zipfile.ZipFile(outcome.archive) as archive:
        assert archive.namelist() == ["grandma 1952_revived.png"]
        assert archive.read("grandma 1952_revived.png") == done.after.read_bytes()


def test_limits_refuse_with_a_message_each(restorer, tmp_path):
    limits = Limits(max_upload_mb=0.5, max_megapixels=0.01, max_photos=2)
    with pytest.raises(LimitError, match="Add one or more photos"):
        check_count(0, limits)
    with pytest.raises(LimitError, match="3 photos is more than the 2"):
        check_count(3, limits)
    heavy = save_noise(tmp_path / "heavy.png", megabytes=0.8)  # over 0.5 MB
    large = save_gray(tmp_path / "large.png", 120, 100)  # 12,000 px > 10,000
    small = save_gray(tmp_path / "small.png", 90, 70)
    outcome = revive_uploads(
        restorer, [(large, "large.png"), (small, "small.png")], tmp_path / "s", limits
    )
    assert [r.name for r in outcome.revived] == ["small.png"]
    assert outcome.problems == [
        "large.png is 100x120 (0.012 megapixels), over the 0.01 megapixel limit per photo."
    ]
    outcome = revive_uploads(restorer, [(heavy, "heavy.png")], tmp_path / "s", limits)
    assert not outcome.revived and outcome.archive is None
    assert (
        outcome.problems[0].startswith("heavy.png is 0.")
        and "over the 0.5 MB limit" in (outcome.problems[0])
    )


def test_options_of_a_request_do_not_touch_the_loaded_restorer(restorer, weights, tmp_path):
    plain = load_restorer(weights[0], device="cpu", render_size=2 * RENDER)
    variant = restorer.variant(render_size=2 * RENDER, denoise=False)
    assert restorer.render_size == RENDER and restorer.denoiser is not None
    gray = torch.rand(90, 70)
    np.testing.assert_array_equal(variant.restore(gray), plain.restore(gray))


def test_each_session_has_its_own_folder_deleted_on_leave_or_age(tmp_path):
    folders = SessionFolders(tmp_path / "sessions", keep_minutes=1)
    a, b = folders.folder("alice"), folders.folder("bob")
    assert a != b and a.parent == b.parent == tmp_path / "sessions"
    assert folders.folder("../../etc").parent == tmp_path / "sessions"  # ids never become paths
    assert (a.stat().st_mode & 0o777) == 0o700
    (a / "photo.png").write_bytes(b"x")
    assert folders.drop("alice") and not a.exists() and b.exists()
    old = time.time() - 120  # two minutes unused, with keep_minutes=1
    os.utime(b, (old, old))
    fresh = folders.folder("carol")
    assert folders.sweep() == 1  # bob only: carol's and the "../../etc" folder are fresh
    assert not b.exists() and fresh.exists()


def test_unique_stems_keep_every_download_apart():
    assert unique_stems(["a.jpg", "a.png", "b.tif", "a.jpg"]) == ["a", "a (2)", "b", "a (3)"]


def test_app_config_binds_locally_with_limits():
    cfg = compose("app", ["colorizer=x.pth"])
    assert cfg.app.host == "127.0.0.1" and cfg.app.port == 7860
    assert cfg.app.concurrency >= 1 and cfg.app.keep_minutes > 0
    assert min(cfg.app.max_upload_mb, cfg.app.max_megapixels, cfg.app.max_photos) > 0
    assert cfg.backend == "torch" and cfg.denoiser is None


@pytest.mark.slow
def test_the_app_refuses_a_bad_colorizer_with_one_line_and_exit_2(tmp_path):
    import subprocess
    import sys

    from tests.conftest import REPO

    done = subprocess.run(
        [sys.executable, "-m", "revive.app", f"colorizer={tmp_path / 'missing.pth'}",
         f"hydra.run.dir={tmp_path / 'log'}", "app.port=9"],
        capture_output=True, text=True, cwd=REPO, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2
    errors = [line for line in done.stderr.splitlines() if line.startswith("revive.app: error:")]
    assert len(errors) == 1 and "missing.pth" in errors[0] and "not found" in errors[0]
    assert "Traceback" not in done.stderr


@pytest.mark.slow  # importing Gradio takes seconds
def test_the_page_queues_requests_and_shares_nothing(weights, tmp_path):
    """The revive event runs at most ``concurrency`` at once behind a bounded queue; the page
    holds no examples or gallery, one slider per allowed photo, and offers "remove grain" only
    with a denoiser and "enlarge" only with an upscaler."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    from revive.app.page import build_page

    folders = SessionFolders(tmp_path / "sessions", keep_minutes=1)
    for denoiser in (None, weights[1]):
        restorer = load_restorer(weights[0], denoiser, device="cpu", render_size=RENDER)
        page = build_page(restorer, folders, Limits(max_photos=2), concurrency=2, queue_size=5)
        limits = {fn.name: fn.concurrency_limit for fn in page.fns.values()}
        assert limits["revive"] == 2 and page._queue.max_size == 5
        components = page.get_config_file()["components"]
        kinds = [c["type"] for c in components]
        assert kinds.count("imageslider") == 2
        assert not {"dataset", "gallery", "examples"} & set(kinds)
        grain, enlarge = [c for c in components if c["type"] == "checkbox"]
        assert grain["props"]["label"] == "remove grain"
        assert grain["props"]["visible"] is (denoiser is not None)
        assert enlarge["props"]["label"].startswith("enlarge")
        assert enlarge["props"]["visible"] is False  # no upscaler given


def test_enlarge_uses_predicts_upscaler_and_can_be_switched_off(weights, tmp_path):
    from spandrel.architectures.Compact import Compact

    torch.manual_seed(0)
    sr = Compact(num_in_ch=1, num_out_ch=1, num_feat=8, num_conv=2, upscale=2)
    torch.save(sr.state_dict(), tmp_path / "sr_x2.pth")
    enlarging = load_restorer(
        *weights, device="cpu", render_size=RENDER, upscaler=tmp_path / "sr_x2.pth"
    )
    photo = save_gray(tmp_path / "in" / "wedding.png", height=60, width=44)
    (big,) = revive_uploads(enlarging, [(photo, "wedding.png")], tmp_path / "a", Limits()).revived
    assert big.size == (88, 120) and pixels(big.before).shape == (120, 88, 3)  # slider halves match
    summary = restore_paths(
        photo, tmp_path / "predict", *weights, render_size=RENDER, device="cpu", progress=False,
        upscaler=tmp_path / "sr_x2.pth",
    )  # fmt: skip
    assert summary.ok
    expected = pixels(tmp_path / "predict" / "wedding_revived.png")
    np.testing.assert_array_equal(pixels(big.after), expected)
    plain = enlarging.variant(enlarge=False)
    (small,) = revive_uploads(plain, [(photo, "wedding.png")], tmp_path / "b", Limits()).revived
    assert small.size == (44, 60) and enlarging.upscaler is not None  # the shared one untouched
    capped = load_restorer(
        *weights, device="cpu", upscaler=tmp_path / "sr_x2.pth", upscale_max_pixels=1000
    )
    outcome = revive_uploads(capped, [(photo, "wedding.png")], tmp_path / "c", Limits())
    assert not outcome.revived and "upscale_max_pixels" in outcome.problems[0]


def test_the_app_loads_its_networks_with_predicts_options(weights, tmp_path):
    from spandrel.architectures.Compact import Compact

    from revive.restore.restorer import restorer_from_config

    sr = Compact(num_in_ch=1, num_out_ch=1, num_feat=8, num_conv=2, upscale=2)
    torch.save(sr.state_dict(), tmp_path / "sr.pth")
    cfg = compose(
        "app",
        [f"colorizer={weights[0]}", f"denoiser={weights[1]}", f"upscaler={tmp_path / 'sr.pth'}"]
        + ["device=cpu", f"render_size={RENDER}", "tile_size=64", "upscale_overlap=4"],
    )
    restorer = restorer_from_config(cfg)
    assert (restorer.render_size, restorer.tile_size) == (RENDER, 64)
    assert restorer.denoiser is not None and restorer.scale == 2
    assert restorer.upscaler.overlap == 4 and restorer.device.type == "cpu"
