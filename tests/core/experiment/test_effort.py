"""Correction effort against hand-made masks."""

from __future__ import annotations

import numpy as np

from alges_napari.core.experiment.effort import correction_effort, total_effort


def test_corrected_pixels_and_regions_of_a_hand_made_case() -> None:
    truth = np.array(
        [
            [0, 0, 1, 1, 255],
            [0, 0, 1, 1, 255],
            [2, 2, 2, 2, 2],
            [2, 2, 2, 2, 2],
        ],
        dtype=np.uint8,
    )
    pred = truth.copy()
    pred[0, 0] = 1  # one wrong pixel of class 0
    pred[0:2, 2:4] = 0  # the whole class-1 block wrong: one region of 4 pixels
    pred[3, 0] = 5  # two separate wrong pixels of class 2 ...
    pred[3, 4] = 5  # ... far apart: two regions
    pred[:2, 4] = 7  # ignored pixels never count
    assert correction_effort(truth, pred) == (1 + 4 + 2, 1 + 1 + 2)
    assert correction_effort(truth, truth) == (0, 0)


def test_diagonal_neighbours_are_one_region_and_no_prediction_paints_everything() -> None:
    truth = np.zeros((3, 3), np.uint8)
    pred = np.eye(3, dtype=np.uint8)  # the wrong pixels touch diagonally: one stroke
    assert correction_effort(truth, pred) == (3, 1)
    truth = np.array([[0, 1], [255, 1]], np.uint8)
    assert correction_effort(truth, None) == (3, 2)  # 3 labelled pixels, one region per class
    assert total_effort([(truth, None), (truth, truth)]) == (3, 2)
