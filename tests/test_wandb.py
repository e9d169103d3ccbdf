"""wandb offline: the run folder holds the flat config, the metrics, the image panels, the group
and the tags, read back from wandb's own ``.wandb`` record file."""

from __future__ import annotations

import json
import struct
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from wandb.proto import wandb_internal_pb2 as pb

from revive.training.loggers import folder_run_id, run_tags, wandb_logger, wandb_mode
from revive.training.run import train
from tests.conftest import compose_config
from tests.tiny_runs import image_folder, pix2pix_args

BLOCK = 32 * 1024  # the .wandb file is a LevelDB-style log: 32 KiB blocks of framed records
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def wandb_records(path: Path) -> Iterator[pb.Record]:
    """Decode a ``run-<id>.wandb`` file: a 7-byte header (":W&B", magic, version), then records
    framed as (crc32 u32, length u16, type u8) that never cross a block boundary."""
    data = path.read_bytes()
    assert data[:4] == b":W&B", f"{path} is not a wandb record file"
    pos, pending = 7, b""
    while pos + 7 <= len(data):
        if BLOCK - pos % BLOCK < 7:  # block trailer: padding
            pos += BLOCK - pos % BLOCK
            continue
        _, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        if pos + 7 + length > len(data):  # a record still being written
            break
        chunk, pos = data[pos + 7 : pos + 7 + length], pos + 7 + length
        if kind == FULL:
            yield pb.Record.FromString(chunk)
        elif kind == FIRST:
            pending = chunk
        elif kind == MIDDLE:
            pending += chunk
        elif kind == LAST:
            yield pb.Record.FromString(pending + chunk)
        else:  # zero fill at the end of the file
            break


def finished_run_records(offline: Path, timeout: float = 60.0) -> list[pb.Record]:
    """The records of a finished offline run. wandb's writer process may still be flushing the
    file when ``finish()`` returns, so wait for the run's exit record."""
    (path,) = offline.glob("run-*.wandb")
    deadline = time.monotonic() + timeout
    while True:
        records = list(wandb_records(path))
        if any(r.HasField("exit") for r in records) or time.monotonic() > deadline:
            return records
        time.sleep(0.2)


def test_tags_name_the_model_data_space_and_lambda():
    assert run_tags(["pix2pix", "celeba", "lab"], {"lambda_l1": 10.0, "sigma": None}) == [
        "pix2pix",
        "celeba",
        "lab",
        "lambda_l1=10.0",
    ]
    assert run_tags(["dncnn", "denoise", "dncnn"], {"sigma": 25}) == [
        "dncnn",
        "denoise",
        "sigma=25",
    ]


def test_mode_is_offline_without_credentials(monkeypatch):
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    assert wandb_mode() == "offline"
    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)
    assert wandb_mode() == "online"
    monkeypatch.setenv("WANDB_MODE", "disabled")
    assert wandb_mode() == "disabled"


def test_relaunched_run_keeps_its_wandb_run(tmp_path):
    first = wandb_logger(save_dir=str(tmp_path / "a"), mode="disabled")
    again = wandb_logger(save_dir=str(tmp_path / "a"), mode="disabled")
    other = wandb_logger(save_dir=str(tmp_path / "b"), mode="disabled")
    assert first._wandb_init["id"] == again._wandb_init["id"] != other._wandb_init["id"]
    assert first._wandb_init["name"] == "a" and first._wandb_init["resume"] == "allow"


@pytest.mark.slow
def test_offline_run_holds_config_metrics_panels_group_and_tags(make_cfg, tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    root = image_folder(tmp_path / "imgs", n_train=2, n_val=2)
    cfg = make_cfg(
        "train",
        [*pix2pix_args(root), "logger=[csv,wandb]", "name=lab_vs_rgb", "model.lambda_l1=10"],
    )
    metrics = train(cfg)
    run_dir = tmp_path / "run"
    (offline,) = (run_dir / "wandb").glob("offline-run-*")
    records = finished_run_records(offline)
    kinds = {r.WhichOneof("record_type") for r in records}
    assert {"run", "config", "history", "exit"} <= kinds

    (run,) = [r.run for r in records if r.WhichOneof("record_type") == "run"]
    assert run.run_group == "lab_vs_rgb"  # the sweep's name
    assert set(run.tags) == {"pix2pix", "folder", "lab", "lambda_l1=10"}
    assert run.run_id == folder_run_id(run_dir)

    config = {
        u.key: json.loads(u.value_json)
        for r in records
        if r.WhichOneof("record_type") == "config"
        for u in r.config.update
    }
    assert config["model.lambda_l1"] == 10.0 and config["color_space.name"] == "lab"  # flat
    assert config["data.root"] == str(root)

    history = [
        {
            item.key or "/".join(item.nested_key): json.loads(item.value_json)
            for item in r.history.item
        }
        for r in records
        if r.WhichOneof("record_type") == "history"
    ]
    psnr = [row["val/psnr"] for row in history if "val/psnr" in row]
    assert psnr and psnr[-1] == pytest.approx(metrics["val/psnr"])
    assert any("train/g_l1" in row for row in history)

    panels = [row for row in history if "val/panels/filenames" in row]
    assert panels
    (filename,) = panels[-1]["val/panels/filenames"]
    with Image.open(offline / "files" / filename) as picture:
        assert picture.size == (panels[-1]["val/panels/width"], panels[-1]["val/panels/height"])
        assert picture.width >= 3 * 64  # gray | prediction | truth

    # the next run of a sequential sweep (same process) gets its own wandb run
    second = compose_config(
        "train",
        [*pix2pix_args(root), "logger=[csv,wandb]", "name=lab_vs_rgb", "color_space=rgb"],
        tmp_path / "run2",
    )
    train(second)
    (offline2,) = (tmp_path / "run2" / "wandb").glob("offline-run-*")
    (run2,) = [r.run for r in finished_run_records(offline2) if r.HasField("run")]
    assert run2.run_id == folder_run_id(tmp_path / "run2") != run.run_id
    assert "rgb" in run2.tags and run2.run_group == "lab_vs_rgb"
