"""A mistyped config option or key on a command line is answered with one line that names the
closest real name, and exit status 2, instead of Hydra's report (issue #23)."""

from __future__ import annotations

import pytest
from hydra.errors import ConfigCompositionException

from revive.config import compose
from revive.data import inspect
from revive.errors import UserError
from tests.conftest import REPO
from tests.test_hostile_cli import run  # the same subprocess runner, one-line errors


@pytest.mark.parametrize(
    ("script", "override", "line"),
    [
        (
            "train.py",
            "model=pix2px",
            "model=pix2px: no such option; did you mean model=pix2pix? (choices: cyclegan, dncnn,",
        ),
        ("train.py", "model.lamda_l1=10", "no such key; did you mean model.lambda_l1=10?"),
        ("eval.py", "modl=dncnn", "modl=dncnn: no such key; did you mean model=dncnn?"),
        ("predict.py", "colorizr=x", "colorizr=x: no such key; did you mean colorizer=x?"),
    ],
    ids=["group", "nested-key", "top-key", "restore-option"],
)
def test_a_typo_is_one_line_with_the_closest_name(tmp_path, script, override, line):
    proc = run([str(REPO / script), override], tmp_path)
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()], proc.stderr
    assert proc.stderr.startswith(f"{script}: error: ") and line in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr and not list(tmp_path.iterdir())


def test_a_typo_under_cfg_job_too(tmp_path):
    proc = run([str(REPO / "train.py"), "data=celba", "--cfg", "job"], tmp_path)
    assert proc.returncode == 2 and "did you mean data=celeba?" in proc.stderr, proc.stderr


def test_a_correct_command_is_unaffected(tmp_path):
    proc = run(
        [str(REPO / "train.py"), "model=dncnn", "trainer.max_epochs=3", "--cfg", "job"], tmp_path
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "max_epochs: 3" in proc.stdout and "DnCNN" in proc.stdout
    assert "error" not in proc.stderr


def test_hydra_full_error_keeps_hydras_report(tmp_path):
    proc = run([str(REPO / "train.py"), "model=pix2px"], tmp_path, HYDRA_FULL_ERROR="1")
    assert proc.returncode == 1 and "Traceback" in proc.stderr
    assert "did you mean" not in proc.stderr


def test_compose_raises_a_user_error_for_the_user_s_typo_only():
    with pytest.raises(UserError, match=r"data=celba: .* did you mean data=celeba\?"):
        compose("train", ["data=celba"])
    with pytest.raises(ConfigCompositionException) as other:  # a sweep outside -m: Hydra's
        compose("train", ["model=pix2pix,dncnn"])
    assert not isinstance(other.value, UserError)


def test_the_inspector_answers_a_typo_in_one_line(command):
    assert "did you mean data=celeba?" in command.error(
        inspect.main, "revive-inspect", "data=celba"
    )
