"""Export a trained colorizer's generator as safetensors: no pickle, loadable anywhere.

``python -m revive.weights.export CKPT OUT.safetensors`` keeps only the generator weights and
records the color space and the architecture in the file's metadata, so that ``predict.py``
rebuilds the network without the training checkpoint (a tenth of its size: no D, no Adam).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from safetensors.torch import save_file

from revive.io import atomic_path
from revive.weights.pix2pix import EXPORT_FORMAT, build_colorizer, read_colorizer
from revive.weights.safe import load_state_strict


def export_colorizer(
    ckpt: str | os.PathLike, dest: str | os.PathLike, overwrite: bool = False
) -> Path:
    """Write the generator of ``ckpt`` (any format ``load_colorizer`` reads) to ``dest``."""
    dest = Path(dest)
    if dest.exists() and not overwrite:
        raise FileExistsError(f"{dest} exists; pass --overwrite to replace it")
    cfg, state, space = read_colorizer(ckpt)
    load_state_strict(build_colorizer(cfg), state, ckpt)  # refuse weights that do not fit
    state = {k: v.contiguous() for k, v in state.items()}
    metadata = {"format": EXPORT_FORMAT, "color_space": space.name, "generator": json.dumps(cfg)}
    with atomic_path(dest) as tmp:
        save_file(state, str(tmp), metadata=metadata)
    return dest


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "ckpt", help="checkpoint from train.py, or an official *_net_G.pth / *_net_G_A.pth"
    )
    parser.add_argument("dest", help="output .safetensors file")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing file")
    args = parser.parse_args(argv)
    print(export_colorizer(args.ckpt, args.dest, args.overwrite))


if __name__ == "__main__":
    main()
