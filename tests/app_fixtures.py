"""Tiny random-weight networks and photos for the web page's tests (fast on a CPU)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from revive.data.fakes import fake_photos
from revive.nets import UnetGenerator
from revive.nets.dncnn import DnCNN

RENDER = 128  # the page's smallest "detail" for a 2^6 U-Net, and predict.py's render_size here


def save_weights(folder: Path) -> tuple[Path, Path]:
    """An official-layout LAB colorizer (ngf 8, 6 levels, BN statistics away from 0/1) and a
    5-layer gray DnCNN with BatchNorm."""
    torch.manual_seed(0)
    net = UnetGenerator(1, 2, num_downs=6, ngf=8)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.3, 0.3)
    folder.mkdir(parents=True, exist_ok=True)
    colorizer, denoiser = folder / "latest_net_G.pth", folder / "dncnn.pth"
    torch.save(net.state_dict(), colorizer)
    torch.save(DnCNN(channels=1, depth=5, features=8).state_dict(), denoiser)
    return colorizer, denoiser


def save_gray(path: Path, height: int = 150, width: int = 110, seed: int = 3) -> Path:
    """A smooth gray photo of an odd size."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(fake_photos(1, height, width, seed=seed)[0][..., 1]).save(path)
    return path


def save_corrupt(path: Path) -> Path:
    """A file named like a JPEG that holds no image."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg" + bytes(64))
    return path


def save_noise(path: Path, megabytes: float) -> Path:
    """A PNG of random pixels (incompressible) of about ``megabytes``."""
    side = int((megabytes * 1e6 / 3) ** 0.5) + 8
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (side, side, 3), dtype=np.uint8)).save(path)
    return path


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    import struct
    import zlib

    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


def save_png_bomb(path: Path, side: int = 30000) -> Path:
    """A valid 1-bit PNG of ``side`` x ``side`` white pixels: about 107 KB for 30000 (900 MP)."""
    import struct
    import zlib

    path.parent.mkdir(parents=True, exist_ok=True)
    row = b"\x00" + b"\xff" * ((side + 7) // 8)
    packer = zlib.compressobj(9)
    block = row * 256
    data = b"".join(packer.compress(block) for _ in range(side // 256))
    data += packer.compress(row * (side % 256)) + packer.flush()
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header)
    path.write_bytes(png + _png_chunk(b"IDAT", data) + _png_chunk(b"IEND", b""))
    return path


def save_jpeg_bomb(path: Path, side: int = 65000) -> Path:
    """A few hundred bytes of JPEG markers whose frame header claims ``side`` x ``side``."""
    import struct

    path.parent.mkdir(parents=True, exist_ok=True)
    dqt = b"\xff\xdb" + struct.pack(">H", 67) + b"\x00" + bytes([1] * 64)
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, side, side, 1) + b"\x01\x11\x00"
    dht = b"\xff\xc4" + struct.pack(">H", 31) + b"\x00" + bytes([0, 1] + [0] * 14) + bytes(12)
    sos = b"\xff\xda" + struct.pack(">HB", 8, 1) + b"\x01\x00\x00\x3f\x00"
    path.write_bytes(b"\xff\xd8" + dqt + sof + dht + sos + bytes(200) + b"\xff\xd9")
    return path


def save_truncated(path: Path) -> Path:
    """A real JPEG photo cut off after its first third (a scan interrupted mid-copy)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    full = path.with_name(".full_" + path.name)
    Image.fromarray(fake_photos(1, 150, 110, seed=4)[0]).save(full, "JPEG", quality=90)
    data = full.read_bytes()
    full.unlink()
    path.write_bytes(data[: len(data) // 3])
    return path


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app(root: Path, args: list[str], start_s: float = 180) -> dict:
    """``python -m revive.app`` with tiny networks on a free port, heartbeats every 2 s (so a
    closed page is noticed quickly); returns its URL, log, process and temporary root."""
    import os
    import subprocess
    import sys
    import time
    import urllib.request

    from tests.conftest import REPO

    colorizer, denoiser = save_weights(root / "weights")
    port, log = free_port(), root / "server.log"
    cmd = [
        sys.executable, "-m", "revive.app", f"colorizer={colorizer}", f"denoiser={denoiser}",
        f"render_size={RENDER}", "device=cpu", f"app.port={port}",
        f"hydra.run.dir={root / 'hydra'}", *args,
    ]  # fmt: skip
    env = {**os.environ, "GRADIO_HEARTBEAT_INTERVAL": "2", "TMPDIR": str(root)}
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + start_s
    while True:
        try:
            urllib.request.urlopen(url, timeout=5)
            break
        except OSError as e:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"the app did not start:\n{log.read_text()[-3000:]}") from e
            time.sleep(1)
    (app_root,) = root.glob("revive-app-*")
    return {"url": url, "log": log, "proc": proc, "root": app_root, "colorizer": colorizer,
            "denoiser": denoiser}  # fmt: skip


def stop_app(server: dict) -> None:
    """SIGTERM, as a service manager stops it; its temporary folder must be gone after."""
    import signal
    import subprocess

    proc = server["proc"]
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    assert not server["root"].exists(), f"{server['root']} was left behind"
