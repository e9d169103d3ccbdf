"""The guide's runnable code blocks work as written, on data revive ships or makes.

A block is runnable when the line before its fence is ``<!-- runnable -->`` (invisible on the
site). Each runs with bash, as a reader would paste it, in a fresh folder holding links to the
checkout's scripts (train.py, predict.py, eval.py, conf/, revive/) and to this venv as
``.venv``, so that whatever it writes (outputs/) lands there and not in the checkout.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

GUIDE = REPO / "docs" / "guide"
MARK = "<!-- runnable -->"
FENCE = re.compile(r"^```(\w*)\s*$")


def runnable_blocks(page: Path) -> list[tuple[int, str]]:
    """(line number, text) of every code block of ``page`` marked runnable."""
    lines = page.read_text().splitlines()
    blocks: list[tuple[int, str]] = []
    i = 0
    while i < len(lines):
        if lines[i].strip() == MARK and i + 1 < len(lines) and FENCE.match(lines[i + 1]):
            end = next(j for j in range(i + 2, len(lines)) if lines[j].strip() == "```")
            blocks.append((i + 2, "\n".join(lines[i + 2 : end])))
            i = end
        i += 1
    return blocks


BLOCKS = [
    pytest.param(text, id=f"{page.stem}:{line}")
    for page in sorted(GUIDE.glob("*.md"))
    for line, text in runnable_blocks(page)
]


def test_the_guide_marks_runnable_blocks_and_each_mark_is_on_a_fence():
    assert len(BLOCKS) >= 4  # the marks must not vanish in an edit
    for page in GUIDE.glob("*.md"):
        lines = page.read_text().splitlines()
        for i, line in enumerate(lines):
            if line.strip() == MARK:
                assert i + 1 < len(lines) and FENCE.match(lines[i + 1]), f"{page.name}:{i + 1}"


@pytest.mark.slow
@pytest.mark.parametrize("block", BLOCKS)
def test_a_runnable_guide_block_works_as_written(block, tmp_path):
    for name in ("train.py", "predict.py", "eval.py", "conf", "revive"):
        (tmp_path / name).symlink_to(REPO / name)
    (tmp_path / ".venv").symlink_to(Path(sys.prefix))
    env = {**os.environ, "WANDB_MODE": "offline", "PYTHONPATH": str(REPO)}
    env.pop("HYDRA_FULL_ERROR", None)
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", block],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, f"{block}\n--- stderr:\n{done.stderr[-3000:]}"
    assert (tmp_path / "outputs").is_dir()  # it wrote its results here, not into the checkout
