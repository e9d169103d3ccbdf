"""The extras: pyproject's split, require()'s one line, and user_errors finding it when wrapped."""

from __future__ import annotations

import pytest
from hydra.errors import InstantiationException
from packaging.utils import canonicalize_name

from revive.errors import UserError, user_errors
from revive.extras import EXTRAS, MissingExtra, require
from tests.core_venv import closure, project_requirements

# What each extra must bring (the packages whose import the feature needs).
EXTRA_PACKAGES = {
    "app": {"gradio"},
    "export": {"onnx", "onnxscript", "onnxruntime"},
    "sr": {"spandrel"},
    "encoders": {"timm", "segmentation-models-pytorch"},
}


def test_every_extra_in_pyproject_has_a_message_and_brings_its_packages():
    for extra, packages in EXTRA_PACKAGES.items():
        assert extra in EXTRAS
        names = {canonicalize_name(r.name) for r in project_requirements([extra])}
        assert packages <= names, extra
    core = {canonicalize_name(r.name) for r in project_requirements()}
    optional = set().union(*EXTRA_PACKAGES.values()) | {"torchvision"}
    assert not core & optional  # the core lists none of them


def test_the_core_closure_pulls_in_no_extra_and_no_torchvision():
    """Not listed directly is not enough: no core dependency may drag one in either."""
    pulled = set(closure(project_requirements()))
    assert "torch" in pulled and "lightning" in pulled
    leaked = pulled & (set().union(*EXTRA_PACKAGES.values()) | {"torchvision"})
    assert not leaked, f"core dependencies pull in {leaked}"


def test_require_imports_what_is_there_and_names_the_extra_when_not():
    assert require("sr", "json").dumps(1) == "1"
    with pytest.raises(MissingExtra) as missing:
        require("app", "revive_no_such_package.sub")
    assert str(missing.value) == (
        "the web page needs revive_no_such_package, which is not installed: "
        "pip install 'revive[app]'"
    )
    assert isinstance(missing.value, UserError)
    with pytest.raises(KeyError, match="unknown extra"):
        require("gui", "json")


def test_a_module_that_breaks_on_import_is_not_reported_as_missing(tmp_path, monkeypatch):
    (tmp_path / "revive_broken_pkg.py").write_text("raise RuntimeError('a real bug')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(RuntimeError, match="a real bug"):
        require("sr", "revive_broken_pkg")


def test_user_errors_prints_a_missing_extra_wrapped_by_hydra_as_one_line(capsys, monkeypatch):
    monkeypatch.delenv("HYDRA_FULL_ERROR", raising=False)
    with pytest.raises(SystemExit) as done, user_errors("revive-train"):
        try:
            require("encoders", "revive_no_such_package")
        except MissingExtra as e:  # what hydra.utils.instantiate does with a constructor's error
            raise InstantiationException("Error in call to target 'x':\n" + repr(e)) from e
    assert done.value.code == 2
    err = capsys.readouterr().err
    assert err == (
        "revive-train: error: the pretrained encoders (timm, segmentation-models-pytorch) needs "
        "revive_no_such_package, which is not installed: pip install 'revive[encoders]'\n"
    )


def test_user_errors_lets_other_errors_through_with_their_traceback():
    with pytest.raises(InstantiationException), user_errors("revive-train"):
        try:
            raise KeyError("bug")
        except KeyError as e:
            raise InstantiationException("wrapped") from e
