"""``make demo``: revive gray photographs with the shipped colorizer, then show a short training
run of a small colorizer on the bundled photos, which revives the same photos for comparison.

Everything runs offline on the CPU: the shipped colorizer ships inside revive, the training
photos and the gray test photos inside scikit-image. Results land under ``outputs/demo/<time>/``.
"""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

import skimage.data
from omegaconf import open_dict

from revive.color import luma_uint8
from revive.config import compose
from revive.errors import user_errors
from revive.io import save_image


def write_gray_inputs(folder: Path) -> None:
    """The photos to revive: scikit-image's gray ``camera`` and a gray copy of the held-out ``coffee``."""
    save_image(skimage.data.camera(), folder / "camera.png")
    save_image(luma_uint8(skimage.data.coffee()), folder / "coffee_gray.png")


def main(overrides: list[str]) -> Path:
    run_dir = Path("outputs/demo") / time.strftime("%Y-%m-%d_%H-%M-%S")
    cfg = compose("train", ["experiment=demo", *overrides])
    with open_dict(cfg):
        cfg.paths.output_dir = str(run_dir.resolve())

    from revive.restore import RestoreOptions, restore_paths
    from revive.training.run import train

    inputs = run_dir / "gray_inputs"
    write_gray_inputs(inputs)
    print(f"[demo] reviving {inputs} with the shipped colorizer -> {run_dir / 'revived'}")
    summary = restore_paths(inputs, run_dir / "revived", RestoreOptions())

    print(f"[demo] a short training run on the bundled photos -> {run_dir}")
    metrics = train(cfg)
    ckpts = sorted((run_dir / "checkpoints").glob("best*.ckpt")) or [
        run_dir / "checkpoints" / "last.ckpt"
    ]
    ckpt = ckpts[-1]
    trained = restore_paths(inputs, run_dir / "revived_by_demo_run", RestoreOptions(colorizer=ckpt))
    panels = sorted((run_dir / "panels").glob("epoch_*.png"))
    samples = run_dir / "samples.png"
    if panels:
        shutil.copyfile(panels[-1], samples)

    print("\n[demo] done")
    print(f"  validation PSNR     {metrics.get('val/psnr', float('nan')):.2f} dB")
    print(f"  checkpoint          {ckpt}")
    print(f"  sample grid         {samples}  (gray | colorized | truth, held-out photos)")
    for path in sorted((run_dir / "revived").glob("*_compare.jpg")):
        print(f"  shipped colorizer   {path}")
    for path in sorted((run_dir / "revived_by_demo_run").glob("*_compare.jpg")):
        print(f"  demo run            {path}")
    failed = summary.failed + trained.failed
    if failed:
        print(f"  failed files        {failed}", file=sys.stderr)
        raise SystemExit(1)
    return run_dir


if __name__ == "__main__":
    with user_errors("python -m revive.demo"):  # e.g. a mistyped override
        main(sys.argv[1:])
