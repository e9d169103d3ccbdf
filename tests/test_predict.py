"""Reviving folders end to end: real files of odd sizes and every mode, bad files, no overwrite,
the Hydra config, the command line and its exit codes, and a 24 MP scan under a memory bound."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from revive.color import luminance
from revive.data.fakes import fake_photos, make_family
from revive.io import read_luminance, read_rgb
from revive.models.pix2pix import Pix2Pix
from revive.nets.dncnn import DnCNN
from revive.restore import RestoreOptions, SetupError, restore_config, restore_paths
from revive.restore.files import compare_size
from tests.conftest import REPO
from tests.tiny_runs import save_checkpoint

RENDER = 64  # the tiny colorizer's canvas: fast, and a multiple of its 2**6


@pytest.fixture(scope="module")
def colorizer(tmp_path_factory) -> Path:
    """A tiny LAB Pix2Pix checkpoint in train.py's format, with non-trivial BN statistics."""
    torch.manual_seed(0)
    model = Pix2Pix(generator={"ngf": 8, "num_downs": 6}, discriminator={"ndf": 8})
    with torch.no_grad():
        for m in model.generator.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.3, 0.3)
    path = tmp_path_factory.mktemp("ckpt") / "last.ckpt"
    return save_checkpoint(model, path)


def save_dncnn(path: Path, depth: int = 5, features: int = 8) -> Path:
    """A small DnCNN with BatchNorm, saved in our state-dict layout."""
    torch.manual_seed(1)
    net = DnCNN(channels=1, depth=depth, features=features, bn=True)
    with torch.no_grad():  # BN of unit scale: a residual far from zero, whatever the init
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
    torch.save(net.state_dict(), path)
    return path


@pytest.fixture(scope="module")
def denoiser(tmp_path_factory) -> Path:
    return save_dncnn(tmp_path_factory.mktemp("ckpt") / "dncnn.pth")


def save(array: np.ndarray, path: Path, mode: str | None = None, **kwargs) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    img = Image.fromarray(array)
    (img.convert(mode) if mode else img).save(path, **kwargs)
    return path


def photo(height: int, width: int, seed: int = 0) -> np.ndarray:
    return fake_photos(1, height, width, seed=seed)[0]


def make_inputs(root: Path) -> tuple[list[Path], list[Path]]:
    """Good files (odd sizes, every mode and format, family scans) and broken ones."""
    good = [
        save(photo(301, 517, 1), root / "wide.jpg", quality=92),
        save(photo(1, 1, 2), root / "dot.png", mode="L"),
        save(photo(300, 4000, 3), root / "panorama.png", mode="L"),
        save(photo(40, 50, 4), root / "modes" / "gray.png", mode="L"),
        save(photo(40, 50, 5), root / "modes" / "gray_alpha.png", mode="LA"),
        save(photo(40, 50, 6), root / "modes" / "rgb.bmp"),
        save(photo(40, 50, 7), root / "modes" / "rgba.png", mode="RGBA"),
        save(photo(40, 50, 8), root / "modes" / "palette.png", mode="P"),
        save(photo(40, 50, 9), root / "modes" / "cmyk.jpg", mode="CMYK"),
        save(photo(40, 50, 10), root / "modes" / "color.webp", quality=90),
        save(photo(40, 50, 11)[..., 0].astype(np.uint16) * 257, root / "modes" / "scan16.tif"),
    ]
    family = make_family(root / "family")
    good += sorted(p for p in family.rglob("*") if p.is_file())
    broken = [root / "zero.jpg", root / "corrupt.png", root / "modes" / "truncated.jpg"]
    broken[0].write_bytes(b"")
    broken[1].write_bytes(b"\x89PNG\r\n\x1a\n" + b"not really a png" * 10)
    whole = (root / "wide.jpg").read_bytes()
    broken[2].write_bytes(whole[: len(whole) // 2])
    return good, broken


def revived_path(out: Path, root: Path, src: Path, suffix: str = "_revived.png") -> Path:
    rel = src.relative_to(root)
    return out / rel.parent / f"{rel.stem}{suffix}"


def test_revives_a_folder_of_mixed_files(tmp_path, colorizer):
    root, out = tmp_path / "scans", tmp_path / "revived"
    good, broken = make_inputs(root)
    summary = restore_paths(
        root, out, RestoreOptions(colorizer=colorizer, render_size=RENDER), progress=False
    )

    assert sorted(summary.done) == sorted(good)
    assert sorted(path for path, _ in summary.failed) == sorted(broken)
    assert all(reason for _, reason in summary.failed)
    assert summary.skipped == [] and len(summary.written) == 2 * len(good)
    for src in good:
        gray = read_luminance(src)  # as displayed: EXIF orientation applied
        revived = read_rgb(revived_path(out, root, src))
        assert revived.shape[:2] == gray.shape, src
        assert np.abs(luminance(revived) - gray).max() <= 1 / 255, src
        half_width, height = compare_size(*gray.shape, 2048)
        compare = Image.open(revived_path(out, root, src, "_compare.jpg"))
        assert compare.size == (2 * half_width, height), src
    panorama = Image.open(revived_path(out, root, root / "panorama.png", "_compare.jpg"))
    assert panorama.size == (2048, 77)  # downscaled: before | after within 2048 px
    assert not list(out.rglob(".*"))  # no temporary files left behind


def test_sepia_keeps_its_tones_in_the_before_half(tmp_path, colorizer):
    root = make_family(tmp_path / "family")
    out = tmp_path / "out"
    restore_paths(
        root / "sepia.tif",
        out,
        RestoreOptions(colorizer=colorizer, render_size=RENDER),
        progress=False,
    )
    compare = read_rgb(out / "sepia_compare.jpg")
    before = compare[:, : compare.shape[1] // 2].astype(int)
    assert (before[..., 0] - before[..., 2]).mean() > 20  # still sepia (warm), as scanned


def test_existing_outputs_are_never_overwritten(tmp_path, colorizer):
    root, out = tmp_path / "in", tmp_path / "out"
    a, b = save(photo(30, 40, 1), root / "a.png"), save(photo(30, 40, 2), root / "b.png")
    mine = out / "b_revived.png"
    mine.parent.mkdir(parents=True)
    mine.write_bytes(b"the user's own file")

    first = restore_paths(
        root, out, RestoreOptions(colorizer=colorizer, render_size=RENDER), progress=False
    )
    assert first.done == [a, b] and mine.read_bytes() == b"the user's own file"
    assert sorted(first.written) == sorted([out / "a_revived.png", *out.glob("*_compare.jpg")])

    second = restore_paths(
        root, out, RestoreOptions(colorizer=colorizer, render_size=RENDER), progress=False
    )
    assert [path for path, _ in second.skipped] == [a, b] and second.written == []
    assert "overwrite=true" in second.skipped[0][1]

    third = restore_paths(
        root,
        out,
        RestoreOptions(colorizer=colorizer, render_size=RENDER),
        overwrite=True,
        progress=False,
    )
    assert third.done == [a, b] and len(third.written) == 4
    assert read_rgb(mine).shape == (30, 40, 3)


def test_decompression_bombs_are_refused_per_file(tmp_path, colorizer):
    root = tmp_path / "in"
    small = save(photo(20, 30), root / "small.png")
    big = save(photo(200, 300), root / "big.png")
    summary = restore_paths(
        root, tmp_path / "out", RestoreOptions(colorizer=colorizer, max_pixels=1000), progress=False
    )
    assert summary.done == [small]
    assert summary.failed[0][0] == big and "decompression-bomb" in summary.failed[0][1]
    assert Image.MAX_IMAGE_PIXELS > 1000  # the limit was restored


def test_output_inside_the_input_is_not_read_back(tmp_path, colorizer):
    root = tmp_path / "in"
    src = save(photo(20, 30), root / "a.png")
    for _ in range(2):
        summary = restore_paths(
            root,
            root / "revived",
            RestoreOptions(colorizer=colorizer, render_size=RENDER),
            progress=False,
        )
    assert [path for path, _ in summary.skipped] == [src] and summary.failed == []
    assert sorted(p.name for p in (root / "revived").iterdir()) == [
        "a_compare.jpg",
        "a_revived.png",
    ]


def test_same_names_in_other_formats_get_distinct_outputs(tmp_path, colorizer):
    root = tmp_path / "in"
    save(photo(20, 30, 1), root / "a.jpg")
    save(photo(20, 30, 2), root / "a.png")
    summary = restore_paths(
        root,
        tmp_path / "out",
        RestoreOptions(colorizer=colorizer, render_size=RENDER),
        progress=False,
    )
    assert len(summary.done) == 2
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert names == [
        "a_jpg_compare.jpg",
        "a_jpg_revived.png",
        "a_png_compare.jpg",
        "a_png_revived.png",
    ]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: (d / "missing", d / "out"), "does not exist"),
        (lambda d: (d / "in", d / "in"), "is the input folder"),
        (lambda d: (d / "in", d / "in" / "a.png"), "is a file"),
    ],
)
def test_bad_paths_stop_before_any_work(tmp_path, colorizer, make, message):
    save(photo(20, 30), tmp_path / "in" / "a.png")
    source, out = make(tmp_path)
    with pytest.raises(SetupError, match=message):
        restore_paths(source, out, RestoreOptions(colorizer=colorizer), progress=False)
    assert sorted(p.name for p in (tmp_path / "in").iterdir()) == ["a.png"]


def test_missing_checkpoint_stops_before_any_work(tmp_path, colorizer):
    save(photo(20, 30), tmp_path / "in" / "a.png")
    with pytest.raises(SetupError, match="denoiser=.*not found"):
        restore_paths(
            tmp_path / "in",
            tmp_path / "out",
            RestoreOptions(colorizer=colorizer, denoiser=tmp_path / "nope.pth"),
        )
    assert not (tmp_path / "out").exists()


def test_denoiser_output_is_the_new_luminance(tmp_path, colorizer, denoiser):
    from revive.restore import load_restorer

    src = save(photo(70, 90, 3), tmp_path / "in" / "noisy.png", mode="L")
    summary = restore_paths(
        src,
        tmp_path / "out",
        RestoreOptions(colorizer=colorizer, denoiser=denoiser, render_size=RENDER, tile_size=32),
        progress=False,
    )
    assert summary.done == [src]
    revived = read_rgb(tmp_path / "out" / "noisy_revived.png")
    restorer = load_restorer(RestoreOptions(colorizer=colorizer, denoiser=denoiser, device="cpu"))
    expected = restorer.denoise(torch.from_numpy(read_luminance(src))).numpy()
    assert np.abs(luminance(revived) - expected).max() <= 1 / 255
    assert np.abs(luminance(revived) - read_luminance(src)).max() > 5 / 255  # it did change


def test_predict_config_reaches_revive_paths(make_cfg, tmp_path, colorizer):
    src = save(photo(20, 30), tmp_path / "in" / "a.png")
    overrides = [f"input={src}", f"output={tmp_path / 'out'}", f"colorizer={colorizer}"]
    cfg = make_cfg("predict", [*overrides, f"render_size={RENDER}", "device=cpu"])
    assert cfg.denoiser is None and cfg.overwrite is False and cfg.max_pixels is None
    summary = restore_config(cfg)
    assert summary.done == [src] and (tmp_path / "out" / "a_revived.png").is_file()


def run_predict(*overrides: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(REPO / "predict.py"), *overrides, "hydra.run.dir=logs"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.slow
def test_command_line_exit_codes(tmp_path, colorizer):
    save(photo(20, 30), tmp_path / "in" / "good.png")
    (tmp_path / "in" / "bad.jpg").write_bytes(b"")
    args = ["input=in", "output=out", f"colorizer={colorizer}", f"render_size={RENDER}"]

    partial = run_predict(*args, cwd=tmp_path)
    assert partial.returncode == 1, partial.stderr
    assert (tmp_path / "out" / "good_revived.png").is_file()
    log = partial.stdout + partial.stderr
    assert "revived 1, skipped 0, failed 1" in log and "bad.jpg" in log

    missing = run_predict("input=in", "output=out2", "colorizer=nope.ckpt", cwd=tmp_path)
    assert missing.returncode == 2
    log = missing.stdout + missing.stderr
    assert "colorizer=nope.ckpt: checkpoint not found" in log
    assert "Traceback" not in log and not (tmp_path / "out2").exists()


# Peak RSS of the child itself: /proc's VmHWM starts afresh at exec, whereas ru_maxrss can carry
# the RSS of the (large) pytest process that forked it.
SCAN_24MP = """
import json, re, resource, sys, time
from pathlib import Path
from revive.restore import RestoreOptions, restore_paths
start = time.perf_counter()
options = RestoreOptions(colorizer=sys.argv[3], denoiser=sys.argv[4], device="cpu")
summary = restore_paths(sys.argv[1], sys.argv[2], options, progress=False)
seconds = time.perf_counter() - start
status = Path("/proc/self/status")
if status.exists():
    peak_mib = int(re.search(r"VmHWM:\\s+(\\d+) kB", status.read_text()).group(1)) / 1024
else:
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "ok": summary.ok, "done": len(summary.done),
                  "peak_rss_mib": peak_mib}))
"""


@pytest.mark.slow
def test_24mp_scan_on_cpu_stays_under_2gb(tmp_path, colorizer):
    """The whole pipeline, denoising tiles included (a thin DnCNN keeps the test fast: the
    tile buffers, not the width, are what a bigger image adds)."""
    denoiser = save_dncnn(tmp_path / "dncnn.pth", depth=3, features=4)
    scan = save(photo(4000, 6000, 12), tmp_path / "scan.jpg", quality=90)  # 24 MP, RGB
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            SCAN_24MP,
            str(scan),
            str(tmp_path / "out"),
            str(colorizer),
            str(denoiser),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    print(f"24 MP scan: {report}")
    assert report["ok"] and report["done"] == 1
    assert report["peak_rss_mib"] < 2048
    with Image.open(tmp_path / "out" / "scan_revived.png") as img:
        assert img.size == (6000, 4000)
