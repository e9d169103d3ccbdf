"""revive: bring old family photographs back to life (DnCNN denoising + Pix2Pix colorization)."""

__version__ = "0.1.0"
