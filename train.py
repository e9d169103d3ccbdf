"""Train a model: ``python train.py model=pix2pix data=samples color_space=lab`` (a thin shim over
:mod:`revive.training.cli`, which is also installed as ``revive-train``)."""

from revive.training.cli import main

if __name__ == "__main__":
    main()
