"""Property-based fuzzing of every file revive reads: valid checkpoints, safetensors and images,
mutated (truncation, bit flips, huge sizes, wrong types). Each entry point must answer with a
result or one UserError (ImageReadError for photos) within bounded time and memory: never
another exception, a hang, or code execution.

``REVIVE_FUZZ_EXAMPLES`` (default 200 per entry point, derandomized so that CI is repeatable)
raises the budget, and then draws new random cases on every run.
"""

from __future__ import annotations

import io
import json
import os
import struct
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from revive.errors import UserError
from revive.io import ImageReadError, open_image, pixel_limit, preview_rgb, read_luminance
from revive.training.checkpoints import read_checkpoint
from revive.weights.colorizer import load_colorizer
from revive.weights.dncnn import load_denoiser
from tests.hostile_files import (
    Planted,
    colorizer_checkpoint,
    denoiser_checkpoint,
    peak_rss_growth,
    valid_files,
    write_export,
)

EXAMPLES = int(os.environ.get("REVIVE_FUZZ_EXAMPLES", "200"))
FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize="REVIVE_FUZZ_EXAMPLES" not in os.environ,
    database=None,
    deadline=None,  # time is bounded below, generously: the machine is shared
    suppress_health_check=list(HealthCheck),
)
MAX_SECONDS = 20.0
MAX_GROWTH = 300 << 20
# PIL's limit as predict.py's max_pixels sets it: decoding may take up to 4 bytes a pixel.
IMAGE_PIXELS = 4_000_000

HUGE = [2**63 - 1, 2**40, 2**32 - 1, 2**31, -1, -(2**63)]
CASE = 0


def fresh_path(folder: Path, suffix: str) -> Path:
    global CASE
    CASE += 1
    return folder / f"case{CASE}{suffix}"


@st.composite
def mutated(draw, data: bytes) -> bytes:
    """``data`` with one to four mutations: truncation, bit flips, huge integers, insertions."""
    out = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["truncate", "flip", "huge", "insert", "zero"]))
        at = draw(st.integers(0, max(len(out) - 1, 0)))
        if kind == "truncate":
            del out[at:]
        elif kind == "flip" and out:
            out[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "huge":
            value = draw(st.sampled_from(HUGE))
            out[at : at + 8] = struct.pack("<q", value)
        elif kind == "insert":
            out[at:at] = draw(st.binary(min_size=1, max_size=16))
        else:
            out[at : at + draw(st.integers(1, 64))] = bytes(64)
    return bytes(out)


def assert_answers(call, allowed: type[Exception] = UserError) -> Any:
    """``call()`` returns, or raises ``allowed``, in bounded time and memory."""
    began = time.perf_counter()
    result, grown = peak_rss_growth(call)
    elapsed = time.perf_counter() - began
    if isinstance(result, Exception) and not isinstance(result, allowed):
        raise AssertionError(f"{type(result).__name__} instead of {allowed.__name__}") from result
    if isinstance(result, UserError):
        assert "\n" not in str(result)
    assert elapsed < MAX_SECONDS, f"{elapsed:.1f} s"
    assert grown < MAX_GROWTH, f"{grown >> 20} MB"
    return result


def every_loader(path: Path) -> None:
    for load in (load_colorizer, load_denoiser, read_checkpoint):
        assert_answers(lambda load=load: load(path))


@pytest.fixture(scope="module")
def originals(tmp_path_factory) -> dict[str, bytes]:
    files = valid_files(tmp_path_factory.mktemp("valid"))
    return {name: path.read_bytes() for name, (path, _) in files.items()}


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


@pytest.mark.slow
@FUZZ
@given(data=st.data())
def test_mutated_weights_files(originals, folder, data):
    name = data.draw(st.sampled_from(sorted(originals)))
    blob = data.draw(mutated(originals[name]))
    path = fresh_path(folder, Path(name).suffix)
    path.write_bytes(blob)
    every_loader(path)
    path.unlink()


HOSTILE_VALUES = [
    None,
    5,
    -1,
    2**62,
    float("nan"),
    "x",
    [1, 2],
    {},
    {"num_downs": 20},
    {"ngf": 10**6},
    torch.zeros(0),
    torch.zeros(3),
    torch.zeros(1).expand(10**7),
    torch.zeros(2, 2, dtype=torch.complex64),
    torch.zeros(4, 1, 3, 3, dtype=torch.int8),
]


def nodes(tree: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path of keys into nested dicts, the root included."""
    out = [prefix]
    if isinstance(tree, dict):
        for key, value in tree.items():
            out += nodes(value, (*prefix, key))
    return out


def replaced(tree: Any, path: tuple, value: Any) -> Any:
    if not path:
        return value
    copy = dict(tree)
    copy[path[0]] = replaced(tree[path[0]], path[1:], value)
    return copy


@pytest.mark.slow
@FUZZ
@given(data=st.data())
def test_checkpoints_with_wrong_types(folder, data):
    """Values replaced by wrong types, absurd sizes, or a pickle that would run a command."""
    marker = folder / "code_ran"
    original = data.draw(
        st.sampled_from([colorizer_checkpoint, denoiser_checkpoint]).map(lambda f: f())
    )
    for _ in range(data.draw(st.integers(1, 3))):
        where = data.draw(st.sampled_from(nodes(original)))
        value = data.draw(st.sampled_from([*HOSTILE_VALUES, Planted(marker)]))
        original = replaced(original, where, value)
    path = fresh_path(folder, ".ckpt")
    torch.save(original, path)
    every_loader(path)
    assert not marker.exists()
    path.unlink()


@pytest.mark.slow
@FUZZ
@given(
    arch=st.dictionaries(
        st.sampled_from(["input_nc", "output_nc", "num_downs", "ngf", "norm", "dropout", "x"]),
        st.one_of(st.integers(-3, 2**40), st.sampled_from(["batch", "none", "?"]), st.floats()),
    ),
    space=st.sampled_from(["lab", "rgb", "hsv", ""]),
)
def test_safetensors_metadata(folder, arch, space):
    path = write_export(fresh_path(folder, ".safetensors"), arch)
    data = path.read_bytes()
    (size,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + size])
    header["__metadata__"]["color_space"] = space
    text = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(text)) + text + data[8 + size :])
    result = assert_answers(lambda: load_colorizer(path))
    assert isinstance(result, UserError | tuple)
    path.unlink()


def image_bytes(fmt: str, mode: str) -> bytes:
    rng = np.random.default_rng(0)
    img = Image.fromarray(rng.integers(0, 255, (24, 32, 3), dtype=np.uint8)).convert(mode)
    buffer = io.BytesIO()
    img.save(buffer, format=fmt)
    return buffer.getvalue()


IMAGES = {
    f"{mode}.{ext}": image_bytes(fmt, mode)
    for fmt, ext, modes in [
        ("PNG", "png", ["RGB", "L", "RGBA", "P", "I;16"]),
        ("JPEG", "jpg", ["RGB", "L", "CMYK"]),
        ("TIFF", "tif", ["RGB", "I;16", "F"]),
        ("BMP", "bmp", ["RGB"]),
        ("WEBP", "webp", ["RGB"]),
    ]
    for mode in modes
}


def read_like_predict(path: Path) -> None:
    """What predict.py does with a photo before the networks: luminance and the 'before' half."""
    read_luminance(path)
    img = open_image(path)
    try:
        preview_rgb(img, (8, 8))
    except (OSError, ValueError) as e:  # predict.py's _read turns these into ImageReadError
        raise ImageReadError(str(e)) from e


@pytest.mark.slow
@FUZZ
@given(data=st.data())
def test_mutated_images(folder, data):
    name = data.draw(st.sampled_from(sorted(IMAGES)))
    path = fresh_path(folder, Path(name).suffix)
    path.write_bytes(data.draw(mutated(IMAGES[name])))
    with pixel_limit(IMAGE_PIXELS):
        assert_answers(lambda: read_like_predict(path), allowed=ImageReadError)
    path.unlink()
