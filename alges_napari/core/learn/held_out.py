"""Watching training on held-out frames: their loss, and early stopping on it.

The loop (:func:`alges_napari.core.learn.train.iter_train`) evaluates the held-out frames after
an epoch when asked to; :class:`EarlyStopping` keeps the best evaluation's weights and says when
the loss has stopped improving for ``patience`` evaluations in a row.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from alges_napari.core.learn.config import TrainConfig
from alges_napari.core.learn.losses import segmentation_loss
from alges_napari.core.learn.samples import TrainSamples


class EarlyStopping:
    """Held-out loss bookkeeping: the best loss, its step and weights, evaluations since.

    Parameters
    ----------
    patience : int
        Evaluations in a row without improvement after which :meth:`exhausted` is True
        (0: never).
    """

    def __init__(self, patience: int):
        self.patience = patience
        self.best = math.inf
        self.best_step: int | None = None
        self.since_best = 0
        self._state: dict[str, torch.Tensor] | None = None

    def update(self, loss: float, step: int, model: nn.Module | None = None) -> bool:
        """Record the held-out ``loss`` at ``step``; True (and the weights kept) if it is the best."""
        if loss < self.best:
            self.best, self.best_step, self.since_best = loss, step, 0
            if model is not None:
                self._state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            return True
        self.since_best += 1
        return False

    def exhausted(self) -> bool:
        """True once ``patience`` evaluations in a row have not improved."""
        return self.patience > 0 and self.since_best >= self.patience

    def restore(self, model: nn.Module) -> None:
        """Put the best evaluation's weights back into ``model`` (no-op before any)."""
        if self._state is not None:
            model.load_state_dict(self._state)


@torch.no_grad()
def held_out_loss(
    model: nn.Module,
    samples: TrainSamples,
    config: TrainConfig,
    device: torch.device,
    mean: torch.Tensor,
    std: torch.Tensor,
) -> float:
    """Mean loss of ``model`` over ``samples`` in eval mode, no augmentation (pixel-weighted
    by batch, as the training loss is); the model is put back in training mode."""
    model.eval()
    total, weight = 0.0, 0
    try:
        for pos in range(0, len(samples), config.batch_size):
            idx = torch.arange(pos, min(pos + config.batch_size, len(samples)))
            images = (samples.images[idx].to(device).float() / 255.0 - mean) / std
            masks = samples.masks[idx].to(device).long()
            logits = model(images)
            loss = segmentation_loss(logits, masks, dice_weight=config.dice_weight)
            total, weight = total + float(loss) * len(idx), weight + len(idx)
    finally:
        model.train()
    return total / max(weight, 1)
