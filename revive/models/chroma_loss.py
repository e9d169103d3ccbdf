"""The class-rebalanced cross-entropy of Zhang et al. (ECCV 2016) over quantized a*b* bins.

Most pixels of photos are near gray (sky, walls, skin), so a plain cross-entropy learns to
paint everything beige. Each pixel's loss is weighted by ``w(q*)``, its nearest bin's weight,
with ``w ∝ 1 / ((1 - mix) * p̃ + mix / Q)``: ``p̃`` the bin frequencies of the training photos
smoothed by a Gaussian of ``sigma`` a*b* units, ``mix`` the share of a uniform prior (0.5 in
the paper), normalized so that the expected weight under ``p̃`` is 1. The targets are soft: the
``neighbours`` nearest bins of the true color, weighted by a Gaussian of ``sigma``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def soft_encode(ab: torch.Tensor, centers: torch.Tensor, neighbours: int = 5, sigma: float = 5.0):
    """a*b* [N, 2] -> (soft targets [N, Q] over the ``neighbours`` nearest bins, nearest bin [N])."""
    dist2 = torch.cdist(ab.float(), centers.float()).square()
    near2, near = dist2.topk(neighbours, dim=1, largest=False)
    weights = torch.softmax(-near2 / (2 * sigma**2), dim=1)
    target = torch.zeros_like(dist2).scatter_(1, near, weights)
    return target, near[:, 0]


def bin_histogram(ab: torch.Tensor, centers: torch.Tensor) -> torch.Tensor:
    """Counts [Q] of a*b* [N, 2] by nearest bin."""
    nearest = torch.cdist(ab.float(), centers.float()).argmin(1)
    return torch.bincount(nearest, minlength=centers.shape[0]).float()


def rebalance_weights(
    counts: torch.Tensor, centers: torch.Tensor, mix: float = 0.5, sigma: float = 5.0
) -> torch.Tensor:
    """Per-bin weights [Q] from bin counts [Q] (the formula in the module docstring)."""
    p = counts.double() / counts.sum().clamp(min=1)
    kernel = torch.exp(-torch.cdist(centers.double(), centers.double()).square() / (2 * sigma**2))
    smooth = kernel @ p
    smooth = smooth / smooth.sum()
    weights = 1.0 / ((1 - mix) * smooth + mix / counts.numel())
    return (weights / (smooth * weights).sum()).float()


class RebalancedChromaLoss(nn.Module):
    """Weighted soft cross-entropy between bin logits and true a*b*/110.

    ``counts`` (a buffer, saved in checkpoints) holds the training photos' bin histogram; until
    :meth:`set_counts` fills it, the weights are uniform.
    """

    def __init__(self, centers: torch.Tensor, mix: float = 0.5, sigma: float = 5.0) -> None:
        super().__init__()
        if not 0 <= mix <= 1:
            raise ValueError(f"rebalancing mix must be in [0, 1], got {mix}")
        self.register_buffer("centers", centers.clone().float())
        self.register_buffer("counts", torch.zeros(centers.shape[0]))
        self.register_buffer("weights", torch.ones(centers.shape[0]))
        self.mix, self.sigma = mix, sigma

    @property
    def has_counts(self) -> bool:
        return bool(self.counts.sum() > 0)

    def set_counts(self, counts: torch.Tensor) -> None:
        self.counts.copy_(counts)
        self.weights.copy_(rebalance_weights(self.counts, self.centers, self.mix, self.sigma))

    def forward(self, logits: torch.Tensor, target_ab: torch.Tensor) -> torch.Tensor:
        """``logits`` [B, Q, H, W], ``target_ab`` [B, 2, H, W] as a*b*/110."""
        q = logits.shape[1]
        flat_logits = logits.permute(0, 2, 3, 1).reshape(-1, q).float()
        ab = target_ab.permute(0, 2, 3, 1).reshape(-1, 2).float() * 110.0
        with torch.no_grad():
            soft, nearest = soft_encode(ab, self.centers, sigma=self.sigma)
            pixel_weight = self.weights[nearest]
        ce = -(soft * F.log_softmax(flat_logits, dim=1)).sum(1)
        return (ce * pixel_weight).mean()
