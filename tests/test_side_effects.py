"""Importing revive changes nothing process-wide: the umask, the warnings filters, the
multiprocessing start method and the allocator are the entry points' to set (issue: "ordinary
calls have process-wide side effects")."""

from __future__ import annotations

import subprocess
import sys

import pytest

# Third-party packages install their own filters when imported; they are imported first, so
# that only what revive's modules add is compared.
PROBE = """
import importlib, multiprocessing, os, pkgutil, sys, warnings
for name in THIRD_PARTY:
    try:
        importlib.import_module(name)
    except ImportError:
        pass
os.umask(0o077)
import revive
filters = list(warnings.filters)
for info in pkgutil.walk_packages(revive.__path__, "revive."):
    if info.name.endswith("__main__"):
        continue  # a command, not a library module
    importlib.import_module(info.name)
changed = []
if os.umask(0o077) != 0o077:
    changed.append("umask")
if warnings.filters != filters:
    changed.append("warnings filters: " + repr(warnings.filters[: len(warnings.filters) - len(filters)]))
if multiprocessing.get_start_method(allow_none=True) is not None:
    changed.append("start method")
print("CHANGED", changed)
"""


THIRD_PARTY = [
    "numpy",
    "scipy.special",
    "scipy.ndimage",
    "pandas",
    "torch",
    "torchvision",
    "lightning",
    "lightning.pytorch",
    "kornia",
    "hydra",
    "omegaconf",
    "PIL",
    "skimage",
    "cv2",
    "sympy",
    "timm",
    "segmentation_models_pytorch",
    "spandrel",
    "gradio",
    "onnx",
    "onnxruntime",
    "onnxscript",
    "safetensors",
    "albumentations",
    "wandb",
    "matplotlib",
    "rich",
]


@pytest.mark.slow  # imports every module and its dependencies: ~30 s
def test_importing_every_module_changes_nothing_process_wide():
    code = f"THIRD_PARTY = {THIRD_PARTY!r}\n" + PROBE
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=900
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "CHANGED []"
