"""Plain ``nn.Module`` networks, free of Lightning and Hydra.

``pretrained_unet.PretrainedUnet`` is imported from its module (it pulls in smp and timm).
"""

from revive.nets.init import init_weights
from revive.nets.patchgan import PatchDiscriminator, PixelDiscriminator
from revive.nets.resnet import ResnetGenerator
from revive.nets.unet import UnetGenerator

__all__ = [
    "PatchDiscriminator",
    "PixelDiscriminator",
    "ResnetGenerator",
    "UnetGenerator",
    "init_weights",
]
