"""The image pool of Shrivastava et al. (2017), as CycleGAN keeps it: the discriminators see a
mix of the newest fakes and up to ``size`` older ones, which damps the two players' oscillation."""

from __future__ import annotations

import random

import torch


class ImagePool:
    """Until full, each fake is stored and returned. Then each is, with probability 1/2, returned
    as is, or swapped with a random stored fake, which is returned in its place."""

    def __init__(self, size: int = 50, seed: int | None = None) -> None:
        self.size = size
        self.images: list[torch.Tensor] = []
        self.rng = random.Random(seed)

    def query(self, images: torch.Tensor) -> torch.Tensor:
        if self.size == 0:
            return images
        out = []
        for image in images.detach():
            if len(self.images) < self.size:
                self.images.append(image)
                out.append(image)
            elif self.rng.random() < 0.5:
                index = self.rng.randrange(self.size)
                out.append(self.images[index])
                self.images[index] = image
            else:
                out.append(image)
        return torch.stack(out)
