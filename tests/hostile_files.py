"""Valid tiny weights files of every format revive reads, hostile variants of them, and a probe
of how much memory a call takes: shared by the tests of bad files and the fuzz test."""

from __future__ import annotations

import json
import os
import threading
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
import torch
from safetensors.torch import save_file
from torch import nn

from revive.models.pix2pix import Pix2Pix
from revive.nets.dncnn import DnCNN
from revive.weights.colorizer import EXPORT_FORMAT
from tests.tiny_runs import checkpoint_of


class Planted:
    """A pickle that creates ``marker`` when it is loaded with ``weights_only=False``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class CsznDnCNN(nn.Module):
    """cszn's layout: a whole module holding ``dncnn``, an ``nn.Sequential``."""

    def __init__(self) -> None:
        super().__init__()
        self.dncnn = DnCNN(depth=3, features=4).model


def tiny_colorizer() -> Pix2Pix:
    torch.manual_seed(0)
    return Pix2Pix(generator={"ngf": 2, "num_downs": 5}, discriminator={"ndf": 2})


def colorizer_checkpoint() -> dict[str, Any]:
    """What train.py saves for a colorizer, without the optimizer states."""
    return checkpoint_of(tiny_colorizer())


def denoiser_checkpoint() -> dict[str, Any]:
    net = DnCNN(depth=3, features=4)
    state = {f"net.{k}": v for k, v in net.state_dict().items()}
    return {"state_dict": state, "hyper_parameters": {"net": {"depth": 3, "features": 4}}}


def write_export(path: Path, arch: dict | None = None, state: dict | None = None) -> Path:
    """A colorizer export as revive.weights.export writes it (arch and state overridable)."""
    net = tiny_colorizer().generator
    real = {"input_nc": 1, "output_nc": 2, "num_downs": 5, "ngf": 2, "norm": "batch"}
    tensors = {k: v.contiguous() for k, v in (state or net.state_dict()).items()}
    meta = {"format": EXPORT_FORMAT, "color_space": "lab", "generator": json.dumps(arch or real)}
    save_file(tensors, str(path), metadata=meta)
    return path


def valid_files(folder: Path) -> dict[str, tuple[Path, str]]:
    """One valid file of each format: name -> (path, 'colorizer' or 'denoiser')."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "colorizer.ckpt": (colorizer_checkpoint(), "colorizer"),
        "net_G.pth": (tiny_colorizer().generator.state_dict(), "colorizer"),
        "dncnn.ckpt": (denoiser_checkpoint(), "denoiser"),
        "kair.pth": (DnCNN(depth=3, features=4).state_dict(), "denoiser"),
        "cszn.pth": (CsznDnCNN(), "denoiser"),
    }
    out = {}
    for name, (obj, kind) in files.items():
        torch.save(obj, folder / name)
        out[name] = (folder / name, kind)
    torch.save(CsznDnCNN(), folder / "cszn_legacy.pth", _use_new_zipfile_serialization=False)
    out["cszn_legacy.pth"] = (folder / "cszn_legacy.pth", "denoiser")
    out["colorizer.safetensors"] = (write_export(folder / "colorizer.safetensors"), "colorizer")
    return out


def recompress(src: Path, dest: Path, entry_suffix: str, payload_bytes: int) -> Path:
    """``src`` with its entry ending in ``entry_suffix`` replaced by ``payload_bytes`` zeros,
    bzip2-compressed: a few hundred bytes on disk that a trusting reader unpacks in full."""
    with zipfile.ZipFile(src) as old, zipfile.ZipFile(dest, "w") as new:
        for info in old.infolist():
            if not info.filename.endswith(entry_suffix):
                new.writestr(info, old.read(info.filename))
                continue
            target = zipfile.ZipInfo(info.filename)
            target.compress_type = zipfile.ZIP_BZIP2
            with new.open(target, "w", force_zip64=True) as f:
                chunk = bytes(1 << 20)
                for _ in range(payload_bytes >> 20):
                    f.write(chunk)
    return dest


def peak_rss_growth(fn: Callable[[], Any], interval: float = 0.001) -> tuple[Any, int]:
    """``fn()``'s result (or the exception it raised) and the most the process's resident
    memory grew above its level at the start while it ran, sampled every ``interval`` s."""
    process = psutil.Process()
    start = process.memory_info().rss
    peak, done = start, threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, process.memory_info().rss)
            time.sleep(interval)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        result: Any = fn()
    except Exception as e:  # handed back for the caller to judge
        result = e
    finally:
        done.set()
        sampler.join()
    return result, max(peak, process.memory_info().rss) - start
