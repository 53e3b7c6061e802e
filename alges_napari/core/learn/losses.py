"""Segmentation losses: soft Dice and cross-entropy plus Dice, ignoring pixels labelled 255."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from alges_napari.core.data.classes import IGNORE_INDEX


def dice_loss(
    logits: torch.Tensor, target: torch.Tensor, ignore_index: int = IGNORE_INDEX
) -> torch.Tensor:
    """Soft multi-class Dice loss, 1 - mean Dice over the classes present in ``target``.

    Classes absent from the batch are left out: their Dice is undefined, and cross-entropy
    already pushes their probability down.
    """
    num_classes = logits.shape[1]
    valid = target != ignore_index
    probs = logits.float().softmax(1) * valid[:, None]
    onehot = F.one_hot(torch.where(valid, target, 0), num_classes).permute(0, 3, 1, 2)
    onehot = onehot.float() * valid[:, None]
    inter = (probs * onehot).sum((0, 2, 3))
    denom = probs.sum((0, 2, 3)) + onehot.sum((0, 2, 3))
    present = onehot.sum((0, 2, 3)) > 0
    if not bool(present.any()):
        return logits.sum() * 0.0  # nothing labelled in this batch; keep the graph alive
    dice = (2 * inter + 1.0) / (denom + 1.0)
    return 1.0 - dice[present].mean()


def segmentation_loss(
    logits: torch.Tensor,
    target: torch.Tensor,
    dice_weight: float = 1.0,
    ignore_index: int = IGNORE_INDEX,
) -> torch.Tensor:
    """Cross-entropy (mean over labelled pixels) plus ``dice_weight`` times :func:`dice_loss`."""
    if bool((target != ignore_index).any()):
        ce = F.cross_entropy(logits.float(), target, ignore_index=ignore_index)
    else:
        ce = logits.sum() * 0.0
    return ce + dice_weight * dice_loss(logits, target, ignore_index)
