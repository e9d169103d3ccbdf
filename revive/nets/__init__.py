"""Plain ``nn.Module`` networks, free of Lightning and Hydra."""

from revive.nets.init import init_weights
from revive.nets.patchgan import PatchDiscriminator
from revive.nets.unet import UnetGenerator

__all__ = ["PatchDiscriminator", "UnetGenerator", "init_weights"]
