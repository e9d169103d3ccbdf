"""Learning-rate schedules, as plain functions so that scheduler state stays picklable."""

from __future__ import annotations


def linear_decay(n_epochs: int, n_epochs_decay: int):
    """The official pix2pix 'linear' policy: constant for ``n_epochs``, then linear towards zero
    over ``n_epochs_decay`` (epochs counted from 0; ``epoch_count`` = 1 as upstream)."""

    def factor(epoch: int) -> float:
        return 1.0 - max(0, epoch + 1 - n_epochs) / float(n_epochs_decay + 1)

    return factor
