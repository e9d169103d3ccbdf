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

from revive.app.guard import FileGuard
from revive.app.line import Line, LineFull
from revive.app.sessions import SessionClosed, SessionFolders, sweep_orphans
from revive.app.work import (
    Cancelled,
    LimitError,
    Limits,
    check_count,
    revive_steps,
    revive_uploads,
    unique_stems,
)
from revive.config import compose
from revive.restore import RestoreOptions, load_restorer, restore_paths
from tests.app_fixtures import (
    RENDER,
    save_corrupt,
    save_gray,
    save_jpeg_bomb,
    save_noise,
    save_png_bomb,
    save_truncated,
    save_weights,
)


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> tuple[Path, Path]:
    return save_weights(tmp_path_factory.mktemp("weights"))


@pytest.fixture(scope="module")
def restorer(weights):
    return load_restorer(options(weights))


def options(weights: tuple[Path, Path], **more) -> RestoreOptions:
    """The app's test networks (colorizer, denoiser) on the CPU at the tests' render size."""
    colorizer, denoiser = weights
    return RestoreOptions(
        colorizer=colorizer, denoiser=denoiser, device="cpu", render_size=RENDER, **more
    )


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
    summary = restore_paths(photo, tmp_path / "predict", options(weights), progress=False)
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
    plain = load_restorer(
        RestoreOptions(colorizer=weights[0], device="cpu", render_size=2 * RENDER)
    )
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
        restorer = load_restorer(
            RestoreOptions(
                colorizer=weights[0], denoiser=denoiser, device="cpu", render_size=RENDER
            )
        )
        page = build_page(restorer, folders, Limits(max_photos=2), concurrency=2, queue_size=5)
        assert (page.line.slots, page.line.size) == (2, 5)  # the page's own line, not Gradio's
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
    enlarging = load_restorer(options(weights, upscaler=tmp_path / "sr_x2.pth"))
    photo = save_gray(tmp_path / "in" / "wedding.png", height=60, width=44)
    (big,) = revive_uploads(enlarging, [(photo, "wedding.png")], tmp_path / "a", Limits()).revived
    assert big.size == (88, 120) and pixels(big.before).shape == (120, 88, 3)  # slider halves match
    summary = restore_paths(
        photo,
        tmp_path / "predict",
        options(weights, upscaler=tmp_path / "sr_x2.pth"),
        progress=False,
    )
    assert summary.ok
    expected = pixels(tmp_path / "predict" / "wedding_revived.png")
    np.testing.assert_array_equal(pixels(big.after), expected)
    plain = enlarging.variant(enlarge=False)
    (small,) = revive_uploads(plain, [(photo, "wedding.png")], tmp_path / "b", Limits()).revived
    assert small.size == (44, 60) and enlarging.upscaler is not None  # the shared one untouched
    capped = load_restorer(
        options(weights, upscaler=tmp_path / "sr_x2.pth", upscale_max_pixels=1000)
    )
    outcome = revive_uploads(capped, [(photo, "wedding.png")], tmp_path / "c", Limits())
    assert not outcome.revived and "upscale_max_pixels" in outcome.problems[0]


def test_the_app_loads_its_networks_with_predicts_options(weights, tmp_path):
    from spandrel.architectures.Compact import Compact

    sr = Compact(num_in_ch=1, num_out_ch=1, num_feat=8, num_conv=2, upscale=2)
    torch.save(sr.state_dict(), tmp_path / "sr.pth")
    cfg = compose(
        "app",
        [f"colorizer={weights[0]}", f"denoiser={weights[1]}", f"upscaler={tmp_path / 'sr.pth'}"]
        + ["device=cpu", f"render_size={RENDER}", "tile_size=64", "upscale_overlap=4"],
    )
    restorer = load_restorer(RestoreOptions.from_config(cfg))
    assert (restorer.render_size, restorer.tile_size) == (RENDER, 64)
    assert restorer.denoiser is not None and restorer.scale == 2
    assert restorer.upscaler.overlap == 4 and restorer.device.type == "cpu"


def test_every_bad_file_is_named_and_the_good_photos_still_come_back(restorer, tmp_path):
    """Issue 24, failure 1: bombs of any claimed size, a cut-off JPEG and a vanished upload
    each get one line in plain words, and the good photos of the same request are delivered."""
    photos = tmp_path / "in"
    uploads = [
        (save_png_bomb(photos / "attic.png"), "attic.png"),  # 900 MP, over PIL's own limit
        (save_gray(photos / "grandma.png"), "grandma.png"),
        (save_jpeg_bomb(photos / "claims.jpg"), "claims.jpg"),  # 4225 MP in 329 bytes
        (save_truncated(photos / "half.jpg"), "half.jpg"),
        (photos / "vanished.png", "vanished.png"),  # deleted before its turn came
        (save_gray(photos / "grandpa.png", seed=7), "grandpa.png"),
    ]
    assert uploads[0][0].stat().st_size < 200_000 and uploads[2][0].stat().st_size < 400
    outcome = revive_uploads(restorer, uploads, tmp_path / "session", Limits())
    assert [r.name for r in outcome.revived] == ["grandma.png", "grandpa.png"]
    assert outcome.archive is not None
    assert len(outcome.problems) == 4
    names = ["attic.png", "claims.jpg", "half.jpg", "vanished.png"]
    problems = dict(zip(names, outcome.problems, strict=True))
    for name, line in problems.items():
        assert line.startswith(f"{name} ")  # named as the family named it, in upload order
        for jargon in ("decompression", "Errno", "DOS", str(tmp_path), "Traceback"):
            assert jargon not in line, line
    assert "40 megapixel limit" in problems["attic.png"]
    assert "40 megapixel limit" in problems["claims.jpg"]
    assert "cut short" in problems["half.jpg"]
    assert "no longer on the server" in problems["vanished.png"]


def test_a_bomb_between_the_page_limit_and_pils_is_measured(restorer, tmp_path):
    """Between max_megapixels and PIL's limit the message gives the size, as before."""
    bomb = save_png_bomb(tmp_path / "big.png", side=12000)  # 144 MP: PIL only warns
    outcome = revive_uploads(restorer, [(bomb, "big.png")], tmp_path / "s", Limits())
    assert outcome.problems == [
        "big.png is 12000x12000 (144 megapixels), over the 40 megapixel limit per photo."
    ]


def test_results_come_one_by_one_and_stop_when_the_page_closes(restorer, tmp_path):
    """Issue 24, failure 3 without a browser: each photo is yielded as it is done, and once
    the session is closed nothing more is written, not even the folder again."""
    folders = SessionFolders(tmp_path / "sessions", keep_minutes=1)
    assert folders.issue_token("alice") is not None
    photos = [(save_gray(tmp_path / f"p{i}.png", seed=i), f"p{i}.png") for i in range(3)]
    steps = revive_steps(
        restorer, photos, folders.path("alice"), Limits(), writing=lambda: folders.writing("alice")
    )
    seen = []
    for _ in range(2):
        done, _total, outcome = next(steps)
        seen.append((done, len(outcome.revived)))
    assert seen == [(0, 0), (1, 1)]  # photo 1 is delivered before photo 2 starts
    folder = folders.path("alice")
    assert (folder.stat().st_mode & 0o777) == 0o700
    assert all((f.stat().st_mode & 0o777) == 0o600 for f in folder.rglob("*.png"))
    folders.close("alice")  # the page is closed while photo 2 is under way
    with pytest.raises(Cancelled):
        next(steps)
    assert not folder.exists()  # photo 2 was not written, and no folder came back
    with pytest.raises(SessionClosed):
        folders.folder("alice")
    assert folders.issue_token("alice") is None


def test_a_sessions_uploads_are_its_own_copies(tmp_path):
    """Issue 24, failure 2 without a browser: two sessions that upload the same bytes get one
    Gradio file; each copies it, and one closing leaves the other's copy (and the shared
    file) alone. Only when the last session goes is the shared file handed back to delete."""
    folders = SessionFolders(tmp_path / "gradio" / "sessions", keep_minutes=1)
    shared = tmp_path / "gradio" / "abc123" / "wedding.jpg"
    shared.parent.mkdir(parents=True)
    shared.write_bytes(b"the same photo")
    a, b = folders.keep_upload("a", shared), folders.keep_upload("b", shared)
    assert a != b and a.read_bytes() == b.read_bytes() == b"the same photo"
    assert (a.stat().st_mode & 0o777) == 0o600
    assert folders.close("a") == [] and shared.exists() and b.exists()
    assert folders.own_upload("b", shared) == b and folders.own_upload("a", shared) is None
    assert folders.close("b") == [shared]


def test_orphan_uploads_go_within_keep_minutes(tmp_path):
    """Issue 24, failure 7 without a server: Gradio's files older than the age go, sessions'
    folders are left to their own rules, empty hash folders go too."""
    root = tmp_path / "gradio"
    folders = SessionFolders(root / "sessions", keep_minutes=1)
    mine = folders.folder("alice")
    old, new = root / "h1" / "old.png", root / "h2" / "new.png"
    for path in (old, new):
        path.parent.mkdir(parents=True)
        path.write_bytes(b"x")
    stamp = time.time() - 61
    os.utime(old, (stamp, stamp))
    assert sweep_orphans(root, folders, max_age=60) == 1
    assert not old.parent.exists() and new.exists() and mine.exists()


def test_the_waiting_line_gives_places_and_a_limit():
    line = Line(slots=1, size=2)
    first, second, third = line.join(), line.join(), line.join()
    assert [line.place(t) for t in (first, second, third)] == [0, 1, 2]
    with pytest.raises(LineFull):
        line.join()
    assert line.wait(second, timeout=0.01) == 1  # nothing moved: still one ahead
    line.leave(first)
    assert line.place(second) == 0 and line.place(third) == 1


def test_the_file_guard_serves_a_result_only_with_its_sessions_cookie(tmp_path):
    """Issue 24, failure 5 without a server, under the spellings a visitor would try."""
    root = tmp_path / "app"
    folders = SessionFolders(root / "gradio" / "sessions", keep_minutes=1)
    cookie = folders.issue_token("alice")
    name, _, token = cookie.partition("=")
    result = folders.folder("alice") / "request_000" / "a_revived.png"
    upload = folders.path("alice") / "uploads" / "000.png"
    guard = FileGuard(None, folders, root)
    assert guard.allows(str(result), {name: token})
    assert not guard.allows(str(result), {})  # no session at all
    assert not guard.allows(str(result), {name: "guess"})
    other = folders.issue_token("bob")
    assert not guard.allows(str(result), dict([other.split("=", 1)]))  # another session
    assert not guard.allows(str(upload), {name: token})  # uploads: never, not even to alice
    sneaky = str(result.parent / ".." / ".." / folders.folder_id("alice") / "request_000" / "x")
    assert not guard.allows(sneaky.replace("alice", ""), {})
    assert not guard.allows(str(root / "gradio" / "abc" / "photo.png"), {name: token})
    assert guard.allows("/etc/passwd", {})  # outside: left to Gradio, which refuses it
