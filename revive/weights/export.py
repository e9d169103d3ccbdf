"""Export a trained network: safetensors (no pickle) or ONNX (no PyTorch), chosen by extension.

``revive-export weights=CKPT out=OUT.safetensors`` (``python -m revive.weights.export``) keeps only a colorizer's generator
weights and records the color space and the architecture in the file's metadata, so that
``predict.py`` rebuilds the network without the training checkpoint (a tenth of its size: no D,
no Adam). ``revive-export weights=CKPT out=OUT.onnx`` writes a colorizer or a DnCNN as an
ONNX graph for onnxruntime (:mod:`revive.weights.onnx_export`; ``predict.py backend=onnx``).
A bad checkpoint or an existing destination exits with status 2 and one line (``debug=true`` or
``HYDRA_FULL_ERROR=1``: the traceback). The options are ``conf/export.yaml``'s keys.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from omegaconf import DictConfig, OmegaConf
from safetensors.torch import save_file

from revive.config import hydra_command
from revive.errors import UserError, user_errors
from revive.io import atomic_path
from revive.weights.colorizer import EXPORT_FORMAT, build_colorizer, load_colorizer, read_colorizer


def export_colorizer(
    ckpt: str | os.PathLike,
    dest: str | os.PathLike,
    overwrite: bool = False,
    render_size: int | None = None,
    half: bool = False,
    notes: dict[str, str] | None = None,
) -> Path:
    """Write the generator of ``ckpt`` (any format ``load_colorizer`` reads) to ``dest``.

    ``render_size``: the scale it was trained at, recorded so that predict, eval and the page
    render at it by default. ``half``: floating-point weights stored as fp16 (half the file;
    loaders compute in fp32). ``notes``: more metadata (e.g. the training command).
    """
    dest = Path(dest)
    if dest.exists() and not overwrite:
        raise UserError(f"{dest} exists; pass overwrite=true to replace it")
    if render_size is not None and render_size < 1:
        raise UserError(f"render size must be positive, got {render_size}")
    cfg, state, space = read_colorizer(ckpt)
    build_colorizer(cfg, state, ckpt)  # refuse weights that do not fit their architecture
    state = {
        k: (v.half() if half and v.is_floating_point() else v).contiguous()
        for k, v in state.items()
    }
    metadata = {
        **(notes or {}),
        "format": EXPORT_FORMAT,
        "color_space": space.name,
        "generator": json.dumps(cfg),
    }
    if render_size is not None:
        metadata["render_size"] = json.dumps(render_size)
    with atomic_path(dest) as tmp:
        save_file(state, str(tmp), metadata=metadata)
    return dest


def export_onnx(ckpt: str | os.PathLike, dest: str | os.PathLike, overwrite: bool = False) -> Path:
    """Write the colorizer or the DnCNN stored in ``ckpt`` as ONNX (what it is: told by its keys)."""
    from revive.weights.dncnn import load_denoiser
    from revive.weights.onnx_export import export_colorizer_onnx, export_denoiser_onnx

    if Path(dest).exists() and not overwrite:
        raise UserError(f"{dest} exists; pass overwrite=true to replace it")
    try:
        net, space = load_colorizer(ckpt)
    except ValueError as not_colorizer:
        try:
            denoiser = load_denoiser(ckpt)
        except ValueError as not_denoiser:
            raise UserError(
                f"{ckpt} is neither a colorizer ({not_colorizer}) nor a DnCNN ({not_denoiser})"
            ) from None
        return export_denoiser_onnx(denoiser, dest, overwrite)
    return export_colorizer_onnx(net, space, dest, overwrite)


EXPORTERS = {".safetensors": export_colorizer, ".onnx": export_onnx}


PROGRAM = "revive-export"
# The options of the argparse command before it took key=value, and what replaced each.
RETIRED = {
    "--overwrite": "overwrite=true",
    "--render-size": "render_size=N",
    "--fp16": "fp16=true",
    "--debug": "debug=true",
}


@hydra_command("export", PROGRAM, RETIRED, positional=("weights", "out"))
def main(cfg: DictConfig) -> None:
    """``revive-export weights=CKPT out=FILE.safetensors|FILE.onnx`` (``conf/export.yaml``)."""
    with user_errors(PROGRAM, cfg.debug):
        for key in ("weights", "out"):
            if OmegaConf.is_missing(cfg, key):
                raise UserError(f"{key}= is missing: revive-export weights=CKPT out=FILE.onnx")
        exporter = EXPORTERS.get(Path(cfg.out).suffix.lower())
        if exporter is None:
            raise UserError(f"out={cfg.out}: the extension must be one of {', '.join(EXPORTERS)}")
        options = {"render_size": cfg.render_size, "half": bool(cfg.fp16)}
        if exporter is not export_colorizer and any(options.values()):
            raise UserError("render_size= and fp16=true are for .safetensors exports")
        extra = options if exporter is export_colorizer else {}
        print(exporter(cfg.weights, cfg.out, bool(cfg.overwrite), **extra))


if __name__ == "__main__":
    main()
