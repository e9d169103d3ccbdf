"""Shared fixtures: Hydra configs composed through the compose API, writing into tmp_path."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
import torch
from omegaconf import DictConfig, open_dict

from revive.config import compose

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"

os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")


def compose_config(
    config_name: str, overrides: Sequence[str], output_dir: Path, fast: bool = True
) -> DictConfig:
    """Compose ``config_name`` with ``overrides`` as Hydra would, outputs under ``output_dir``.

    ``fast`` adds the CPU/no-worker settings every test wants unless it says otherwise.
    """
    cfg = compose(config_name, overrides)
    with open_dict(cfg):
        cfg.paths.output_dir = str(output_dir)
        if fast and "trainer" in cfg:
            cfg.trainer.accelerator = "cpu"
            cfg.trainer.devices = 1
            if "data" in cfg and "num_workers" in cfg.data:
                cfg.data.num_workers = 0
                cfg.data.persistent_workers = False
    return cfg


@pytest.fixture
def make_cfg(tmp_path: Path) -> Callable[..., DictConfig]:
    """``make_cfg("train", ["model=pix2pix", ...])`` -> a composed config writing to tmp_path."""

    def _make(config_name: str = "train", overrides: Sequence[str] = (), **kwargs) -> DictConfig:
        return compose_config(config_name, overrides, tmp_path / "run", **kwargs)

    return _make


class Command:
    """``command(main, "key=value", ...)``: a Hydra command's ``main`` run in this process as its
    console script runs it with those arguments (the root logger that Hydra sets up is put
    back afterwards). ``command.error(main, program, ...)``: the one line it stops with."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
        self.monkeypatch, self.capsys = monkeypatch, capsys

    def __call__(self, main: Callable[[], object], *args: str) -> object:
        root = logging.getLogger()
        handlers, level = root.handlers[:], root.level
        self.monkeypatch.setattr(sys, "argv", ["revive", *args])
        try:
            return main()
        finally:
            root.handlers[:] = handlers
            root.setLevel(level)

    def error(self, main: Callable[[], object], program: str, *args: str) -> str:
        """Exit status 2 and one line ``<program>: error: ...`` on stderr: that line."""
        self.capsys.readouterr()
        with pytest.raises(SystemExit) as exit_info:
            self(main, *args)
        err = self.capsys.readouterr().err
        assert exit_info.value.code == 2 and err.startswith(f"{program}: error: "), err
        assert len(err.strip().splitlines()) == 1, err
        return err.strip()


@pytest.fixture
def command(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> Command:
    return Command(monkeypatch, capsys)


# An fp32 network computed two ways (BatchNorm folded, oneDNN's blocked layout, other tile
# shapes) rounds differently, and differently again on each instruction set (AVX2 and AVX-512
# kernels block their sums differently). Measured on both: at most 2.5e-6 of the output's
# magnitude (about 20 ulps after 8 layers of 288-term sums). FP32_REL leaves 8x headroom and still
# catches any real mistake (a wrong fold or a seam errs by 1e-3 and more).
FP32_REL = 2e-5


def assert_fp32_close(actual: torch.Tensor, expected: torch.Tensor, rel: float = FP32_REL) -> None:
    """``actual`` equals ``expected`` up to fp32 rounding, relative to ``expected``'s magnitude."""
    scale = expected.abs().max().item()
    error = (actual - expected).abs().max().item()
    assert error <= rel * scale, f"max error {error:.3g} > {rel:g} x magnitude {scale:.3g}"


def require_shared(*parts: str) -> Path:
    """Path under ../shared/data, skipping (with the reason) when the reference data is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"reference data {path} is not available")
    return path
