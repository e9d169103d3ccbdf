"""Run folders named from their config, so that launching the same run twice resumes it.

Like facebookresearch/dora: ``outputs/train/runs/<name>/<signature>``, where the signature is the
command line's overrides (``color_space=rgb,model.lambda_l1=10``) minus the ones that do not
change the result (devices, workers, loggers, ...; see ``conf/hydra/default.yaml``). The same
command therefore lands in the same folder, and ``auto_resume`` continues from its ``last.ckpt``.

Hydra names the folder before the task function runs, so the ``${run_signature:...}`` resolver
must exist by then: :class:`RegisterResolvers` is a Hydra callback that registers it when Hydra
starts, and again wherever Hydra's context is unpickled (joblib workers, SLURM jobs).
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import OmegaConf

from revive.config import register_resolvers

DEFAULT_SIGNATURE = "base"
MAX_SIGNATURE = 96
_UNSAFE = re.compile(r"[^A-Za-z0-9._,=+\-\[\]]")


def run_signature(override_dirname: str | None, name: str | None = None) -> str:
    """A folder name for the overrides Hydra collected in ``hydra.job.override_dirname``.

    ``experiment=<name>`` is dropped (the name is already the parent folder). Characters that
    are unsafe in a path (``/``, spaces, quotes) become ``_``; a name changed that way, or longer
    than 96 characters, ends with a hash of the original so that distinct runs stay distinct.
    """
    items = [item for item in (override_dirname or "").split(",") if item]
    if name is not None:
        items = [item for item in items if item != f"experiment={name}"]
    text = ",".join(items)
    if not text:
        return DEFAULT_SIGNATURE
    safe = _UNSAFE.sub("_", text).lstrip(".")
    if safe == text and len(text) <= MAX_SIGNATURE:
        return text
    digest = hashlib.sha1(text.encode()).hexdigest()[:8]
    return f"{safe[: MAX_SIGNATURE - 9]}-{digest}"


def register_run_resolvers() -> None:
    """Register ``${run_signature:...}`` and revive's other resolvers (idempotent)."""
    register_resolvers()
    if not OmegaConf.has_resolver("run_signature"):
        OmegaConf.register_new_resolver("run_signature", run_signature)


class RegisterResolvers(Callback):
    """Hydra callback (``hydra.callbacks``) that makes the run-folder resolver available.

    Hydra instantiates callbacks before it resolves ``hydra.run.dir``; launchers that ship the
    job to another process (joblib, submitit) pickle the callbacks with it, and unpickling
    registers the resolvers there too.
    """

    def __init__(self) -> None:
        register_run_resolvers()

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        register_run_resolvers()
