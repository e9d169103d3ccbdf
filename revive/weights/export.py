"""Export a trained network: safetensors (no pickle) or ONNX (no PyTorch), chosen by extension.

``python -m revive.weights.export CKPT OUT.safetensors`` keeps only a colorizer's generator
weights and records the color space and the architecture in the file's metadata, so that
``predict.py`` rebuilds the network without the training checkpoint (a tenth of its size: no D,
no Adam). ``python -m revive.weights.export CKPT OUT.onnx`` writes a colorizer or a DnCNN as an
ONNX graph for onnxruntime (:mod:`revive.weights.onnx_export`; ``predict.py backend=onnx``).
A bad checkpoint or an existing destination exits with status 2 and one line (``--debug`` or
``HYDRA_FULL_ERROR=1``: the traceback).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from safetensors.torch import save_file

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
        raise UserError(f"{dest} exists; pass --overwrite to replace it")
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
        raise UserError(f"{dest} exists; pass --overwrite to replace it")
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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m revive.weights.export",
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples (the colorizer that ships with revive, from a checkout):\n"
        "  revive-export revive/weights/shipped/colorizer.safetensors colorizer.onnx\n"
        "  revive-export outputs/demo/*/checkpoints/last.ckpt demo.safetensors --fp16  # after make demo\n"
        "(revive-export is python -m revive.weights.export; .onnx needs revive[export])",
    )
    parser.add_argument(
        "ckpt", help="checkpoint from train.py, an official *_net_G.pth / *_net_G_A.pth, or DnCNN"
    )
    parser.add_argument("dest", help="output file: .safetensors (colorizers) or .onnx (any)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing file")
    parser.add_argument(
        "--render-size",
        type=int,
        help="safetensors: record the render size the colorizer was trained at (its crop size)",
    )
    parser.add_argument(
        "--fp16", action="store_true", help="safetensors: store the weights in half precision"
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks of bad input")
    args = parser.parse_args(argv)
    exporter = EXPORTERS.get(Path(args.dest).suffix.lower())
    if exporter is None:
        parser.error(f"{args.dest}: the extension must be one of {', '.join(EXPORTERS)}")
    options = {"render_size": args.render_size, "half": args.fp16}
    if exporter is not export_colorizer and any(options.values()):
        parser.error("--render-size and --fp16 are for .safetensors exports")
    with user_errors("revive.weights.export", args.debug):
        extra = options if exporter is export_colorizer else {}
        print(exporter(args.ckpt, args.dest, args.overwrite, **extra))


if __name__ == "__main__":
    main()
