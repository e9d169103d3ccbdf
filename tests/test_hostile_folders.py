"""Hostile folders for predict.py: link loops neither hang the walk nor multiply the work, and
no two inputs ever share an output name, even on a case-insensitive disk."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from revive.data.fakes import fake_photos
from revive.io import save_image, walk_images
from revive.models.pix2pix import Pix2Pix
from revive.restore import RestoreOptions, restore_paths
from revive.restore.files import REVIVED_SUFFIX, plan_jobs
from tests.tiny_runs import save_checkpoint

COLLIDING = ["a.jpg", "a.png", "a_jpg.png", "b.png", "b.PNG"]


def photos(root: Path, names: list[str]) -> list[Path]:
    paths = []
    for i, name in enumerate(names):
        path, tmp = root / name, root / f".tmp{i}.png"
        save_image(fake_photos(1, 16, 16, seed=i)[0], tmp)
        tmp.rename(path)  # the content is PNG whatever the extension
        paths.append(path)
    return paths


def two_loops(root: Path) -> Path:
    """``loop -> .`` and ``sub/up -> ..``: followed blindly, a walk that never ends."""
    photos(root, ["one.png"])
    (root / "sub").mkdir()
    photos(root / "sub", ["two.png"])
    os.symlink(".", root / "loop")
    os.symlink("..", root / "sub" / "up")
    return root


@pytest.mark.timeout(60)
@pytest.mark.parametrize("follow_links", [False, True])
def test_two_link_loops_end_and_list_each_file_once(tmp_path, follow_links):
    root = two_loops(tmp_path / "in")
    found, errors = walk_images(root, follow_links=follow_links)
    assert found == [root / "one.png", root / "sub" / "two.png"] and errors == []


@pytest.mark.parametrize("follow_links", [False, True])
def test_one_link_loop_does_not_multiply_the_work(tmp_path, follow_links):
    root = tmp_path / "in"
    photos(root, ["only.png"])
    os.symlink(".", root / "loop")
    found, _ = walk_images(root, follow_links=follow_links)
    assert found == [root / "only.png"]


def test_links_to_folders_are_followed_only_when_asked(tmp_path):
    outside = tmp_path / "elsewhere"
    photos(outside, ["far.png"])
    root = tmp_path / "in"
    photos(root, ["near.png"])
    os.symlink(outside, root / "link")
    os.symlink(outside, root / "link2")  # the same real folder twice: entered once
    assert walk_images(root)[0] == [root / "near.png"]
    assert walk_images(root, follow_links=True)[0] == [root / "link" / "far.png", root / "near.png"]


def test_hard_and_soft_links_to_one_file_give_one_job(tmp_path):
    root = tmp_path / "in"
    (original,) = photos(root, ["a.png"])
    os.link(original, root / "b.png")
    os.symlink("a.png", root / "c.png")
    os.symlink("missing.png", root / "broken.png")  # kept, so that its failure is reported
    assert walk_images(root)[0] == [root / "a.png", root / "broken.png"]


def test_output_names_never_collide_case_insensitively(tmp_path):
    root = tmp_path / "in"
    sources = [root / n for n in sorted([*COLLIDING, "A/x.jpg", "a/x.jpg", "c.jpg"])]
    jobs = plan_jobs(sources, root, tmp_path / "out")
    outputs = [p.as_posix().casefold() for job in jobs for p in job.outputs]
    assert len(set(outputs)) == len(outputs) == 2 * len(sources)
    names = {job.source.name: job.revived.name for job in jobs}
    assert names["c.jpg"] == f"c{REVIVED_SUFFIX}"  # a name without a rival stays plain
    assert names["a_jpg.png"] == f"a_jpg{REVIVED_SUFFIX}"  # a plain stem keeps its name
    assert names["a.png"] == f"a_png{REVIVED_SUFFIX}"


@pytest.fixture(scope="module")
def colorizer(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    model = Pix2Pix(generator={"ngf": 4, "num_downs": 5}, discriminator={"ndf": 4})
    path = tmp_path_factory.mktemp("ckpt") / "tiny.ckpt"
    return save_checkpoint(model, path)


def test_summary_counts_the_files_that_exist(tmp_path, colorizer):
    photos(tmp_path / "in", COLLIDING)
    out = tmp_path / "out"
    for overwrite in (False, True):
        summary = restore_paths(
            tmp_path / "in",
            out,
            RestoreOptions(colorizer=colorizer, render_size=32),
            overwrite=overwrite,
            progress=False,
        )
        assert len(summary.done) == len(COLLIDING) and summary.ok
        assert len(summary.written) == 2 * len(COLLIDING)
        assert sorted(summary.written) == sorted(p for p in out.rglob("*") if p.is_file())
