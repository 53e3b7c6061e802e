"""Correction effort of a simulated surgeon: what must change to turn a prediction into the label.

A surgeon corrects the model's prediction rather than painting from scratch (the widget opens a
frame with its prediction), so a frame where the model is badly wrong costs more than one where it
is nearly right. Two measures per frame, both against the ground truth at the experiment's
resolution, pixels whose truth is 255 (ignore) left out:

- ``corrected_px``: pixels whose predicted class differs from the truth;
- ``corrected_regions``: connected regions (8-connected) of such pixels that share one true class
  -- roughly one brush stroke or fill each.

With no prediction (the initial frames, before any model) every labelled pixel is painted and
every connected region of one class is a stroke.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from scipy import ndimage

from alges_napari.core.data.classes import IGNORE_INDEX

_EIGHT = np.ones((3, 3), dtype=bool)


def correction_effort(truth: np.ndarray, prediction: np.ndarray | None) -> tuple[int, int]:
    """(corrected pixels, corrected regions) to turn ``prediction`` into ``truth``.

    Parameters
    ----------
    truth : ndarray (H, W) uint8
        Ground-truth class indices; 255 is ignored.
    prediction : ndarray (H, W) or None
        The model's predicted classes at pick time; None means nothing was predicted.

    Returns
    -------
    (int, int)
    """
    truth = np.asarray(truth)
    valid = truth != IGNORE_INDEX
    wrong = valid if prediction is None else valid & (np.asarray(prediction) != truth)
    regions = 0
    for cls in np.unique(truth[wrong]):
        _, count = ndimage.label(wrong & (truth == cls), structure=_EIGHT)
        regions += int(count)
    return int(wrong.sum()), regions


def total_effort(pairs: Iterable[tuple[np.ndarray, np.ndarray | None]]) -> tuple[int, int]:
    """Sum of :func:`correction_effort` over (truth, prediction) pairs."""
    px = regions = 0
    for truth, prediction in pairs:
        p, r = correction_effort(truth, prediction)
        px, regions = px + p, regions + r
    return px, regions
