"""Dice and IoU: exact numbers on hand-made masks and agreement with a naive loop."""

from __future__ import annotations

import math

import numpy as np
import pytest

from alges_napari.core.errors import MaskError
from alges_napari.core.learn.metrics import (
    SegmentationMeter,
    confusion_matrix,
    dice_per_image,
    iou_per_image,
)

PRED = np.array([[0, 0, 1], [1, 2, 2]], dtype=np.uint8)
TARGET = np.array([[0, 1, 1], [1, 2, 0]], dtype=np.uint8)
# Per class: |P| = 2, 2, 2; |T| = 2, 3, 1; |P∩T| = 1, 2, 1 (counted by hand).


def naive_counts(pred: np.ndarray, target: np.ndarray, c: int, ignore: int = 255):
    """Per-class intersection, predicted and target sizes with explicit loops over pixels."""
    inter, p, t = [0] * c, [0] * c, [0] * c
    for pv, tv in zip(pred.ravel().tolist(), target.ravel().tolist(), strict=True):
        if tv == ignore:
            continue
        p[pv] += 1
        t[tv] += 1
        inter[pv] += pv == tv
    return inter, p, t


def naive_dice(pred: np.ndarray, target: np.ndarray, c: int, smooth: float = 1.0) -> list[float]:
    inter, p, t = naive_counts(pred, target, c)
    return [(2 * i + smooth) / (a + b + smooth) for i, a, b in zip(inter, p, t, strict=True)]


def test_dice_and_iou_per_image_exact_numbers() -> None:
    np.testing.assert_allclose(dice_per_image(PRED, TARGET, 3), [3 / 5, 5 / 6, 3 / 4])
    np.testing.assert_allclose(iou_per_image(PRED, TARGET, 3), [2 / 4, 3 / 4, 2 / 3])
    np.testing.assert_allclose(dice_per_image(PRED, TARGET, 3, smooth=0), [2 / 4, 4 / 5, 2 / 3])
    np.testing.assert_array_equal(
        confusion_matrix(PRED, TARGET, 3), [[1, 0, 1], [1, 2, 0], [0, 0, 1]]
    )


def test_absent_class_scores_one_when_smoothed_nan_at_dataset_level() -> None:
    per_image = dice_per_image(PRED, TARGET, 4)
    assert per_image[3] == 1.0  # (0 + 1) / (0 + 0 + 1): the paper's smoothing
    assert math.isnan(dice_per_image(PRED, TARGET, 4, smooth=0)[3])
    meter = SegmentationMeter(4)
    meter.update(PRED, TARGET)
    np.testing.assert_allclose(meter.dice(), [2 / 4, 4 / 5, 2 / 3, np.nan])
    np.testing.assert_allclose(meter.iou(), [1 / 3, 2 / 3, 1 / 2, np.nan])
    assert meter.mean_dice() == pytest.approx((2 / 4 + 4 / 5 + 2 / 3) / 3)
    assert math.isnan(meter.mean_dice(classes=[3]))  # no defined class to average


def test_ignore_index_pixels_count_for_nothing() -> None:
    target = TARGET.copy()
    target[1, 2] = 255  # pred says 2 there, target said 0: the error disappears
    # class 0: P=2, T=1, I=1; class 1 unchanged; class 2: P=1, T=1, I=1.
    np.testing.assert_allclose(dice_per_image(PRED, target, 3), [3 / 4, 5 / 6, 3 / 3])
    keep = np.ones(PRED.shape, bool)
    keep[1, 2] = False
    np.testing.assert_allclose(
        dice_per_image(PRED, target, 3), dice_per_image(PRED[keep], TARGET[keep], 3)
    )
    custom = np.where(target == 255, 7, target)
    np.testing.assert_allclose(
        dice_per_image(PRED, custom, 3, ignore_index=7), dice_per_image(PRED, target, 3)
    )


def test_dataset_level_differs_from_per_image_mean() -> None:
    # Image A: 100 pixels of class 1, all right. Image B: one pixel of class 1, missed.
    pred_a, target_a = np.ones((10, 10), np.uint8), np.ones((10, 10), np.uint8)
    pred_b, target_b = np.zeros((10, 10), np.uint8), np.zeros((10, 10), np.uint8)
    target_b[0, 0] = 1
    meter = SegmentationMeter(2)
    meter.update(pred_a, target_a)
    meter.update(pred_b, target_b)
    per_image = meter.per_image_dice()
    np.testing.assert_allclose(per_image[:, 1], [201 / 201, 1 / 2])
    assert per_image[:, 1].mean() == pytest.approx(0.75)
    assert meter.dice()[1] == pytest.approx(200 / 201)  # pixels pooled over the set first
    # Class 0: absent from A (1 by smoothing), 2*99+1 / (100+99+1) on B.
    np.testing.assert_allclose(per_image[:, 0], [1.0, 199 / 200])
    assert meter.mean_per_image_dice() == pytest.approx((0.75 + (1 + 199 / 200) / 2) / 2)
    assert meter.n_images == 2


def test_meter_matches_naive_loop_on_random_masks() -> None:
    rng = np.random.default_rng(0)
    c, n = 13, 6
    preds = rng.integers(0, c, size=(n, 9, 11)).astype(np.uint8)
    targets = np.where(rng.random((n, 9, 11)) < 0.3, preds, rng.integers(0, c, (n, 9, 11)))
    targets = np.where(rng.random((n, 9, 11)) < 0.1, 255, targets).astype(np.uint8)
    targets = np.where(targets == 12, 11, targets)  # class 12 absent everywhere
    preds = np.where(preds == 12, 11, preds)
    batched, single = SegmentationMeter(c), SegmentationMeter(c)
    batched.update(preds[:2], targets[:2])
    batched.update(preds[2:], targets[2:])
    totals = np.zeros((3, c))
    for i in range(n):
        single.update(preds[i], targets[i])
        counts = naive_counts(preds[i], targets[i], c)
        totals += np.array(counts)
        np.testing.assert_allclose(
            dice_per_image(preds[i], targets[i], c), naive_dice(preds[i], targets[i], c)
        )
        inter, p, t = counts
        iou = [(a + 1) / (b + d - a + 1) for a, b, d in zip(inter, p, t, strict=True)]
        np.testing.assert_allclose(iou_per_image(preds[i], targets[i], c), iou)
    inter, p, t = totals
    with np.errstate(invalid="ignore"):
        want_dice, want_iou = 2 * inter / (p + t), inter / (p + t - inter)
    for meter in (batched, single):
        np.testing.assert_allclose(meter.dice(), want_dice)
        np.testing.assert_allclose(meter.iou(), want_iou)
        np.testing.assert_allclose(
            meter.per_image_dice(), [naive_dice(preds[i], targets[i], c) for i in range(n)]
        )
    scored = (0, 1, 2, 3, 4, 5, 9, 10)
    assert batched.mean_dice(scored) == pytest.approx(float(np.mean(want_dice[list(scored)])))
    assert batched.mean_dice() == pytest.approx(float(np.nanmean(want_dice)))
    assert math.isnan(batched.dice()[12])


def test_bad_input_raises_mask_error() -> None:
    with pytest.raises(MaskError, match="shape"):
        dice_per_image(PRED, TARGET[:1], 3)
    with pytest.raises(MaskError, match="prediction: value 5 outside classes 0..2"):
        dice_per_image(np.full_like(PRED, 5), TARGET, 3)
    with pytest.raises(MaskError, match="prediction: value 255"):
        dice_per_image(np.full_like(PRED, 255), TARGET, 3)  # 255 means "ignore" only in targets
    with pytest.raises(MaskError, match="integer label mask"):
        dice_per_image(PRED.astype(float), TARGET, 3)
    meter = SegmentationMeter(3)
    with pytest.raises(MaskError, match=r"\(H, W\) or \(N, H, W\)"):
        meter.update(PRED[None, None], TARGET[None, None])
    with pytest.raises(MaskError, match="outside 0..2"):
        meter.mean_dice(classes=[3])
    with pytest.raises(MaskError, match="num_classes"):
        SegmentationMeter(0)


def test_empty_meter_and_reset() -> None:
    meter = SegmentationMeter(3)
    assert np.isnan(meter.dice()).all() and math.isnan(meter.mean_dice())
    assert meter.per_image_dice().shape == (0, 3) and math.isnan(meter.mean_per_image_dice())
    meter.update(PRED, TARGET)
    meter.reset()
    assert meter.n_images == 0 and meter.confusion().sum() == 0


def test_a_class_in_the_targets_never_predicted_scores_zero_not_nan() -> None:
    # Class 1 is in the targets (2 pixels of image A) and never predicted; class 3 is in no
    # prediction and no target. C = 4.
    target_a = np.array([[1, 1, 2], [0, 0, 0]], np.uint8)
    pred_a = np.array([[0, 0, 2], [0, 0, 0]], np.uint8)
    target_b = np.array([[0, 0, 0], [2, 2, 255]], np.uint8)
    pred_b = np.array([[0, 0, 0], [2, 0, 1]], np.uint8)  # a 1 only where the target is ignored
    meter = SegmentationMeter(4)
    meter.update(pred_a, target_a)
    meter.update(pred_b, target_b)
    # Pooled: class 0 P=9 T=6 I=6; class 1 P=0 T=2 I=0; class 2 P=2 T=3 I=2; class 3 nothing.
    dice = meter.dice()
    assert dice[1] == 0.0  # missed entirely: the worst score, not "undefined"
    assert math.isnan(dice[3])  # absent from both: no score
    np.testing.assert_allclose(dice, [12 / 15, 0.0, 4 / 5, np.nan])
    assert meter.iou()[1] == 0.0 and math.isnan(meter.iou()[3])
    # The 0 pulls the mean down; the NaN is left out of it.
    assert meter.mean_dice() == pytest.approx((12 / 15 + 0.0 + 4 / 5) / 3)
    assert meter.mean_dice(classes=[1, 3]) == 0.0

    # Per image, unsmoothed: 0 where the class is in the target, NaN where it is in neither.
    a0 = dice_per_image(pred_a, target_a, 4, smooth=0)
    assert a0[1] == 0.0 and math.isnan(a0[3])
    b0 = dice_per_image(pred_b, target_b, 4, smooth=0)
    assert math.isnan(b0[1]) and math.isnan(b0[3])  # B's only 1 is on an ignored pixel
    # Smoothed (the paper's): (0 + 1) / (0 + 2 + 1) for the missed class, 1 for the absent one.
    a1 = dice_per_image(pred_a, target_a, 4)
    assert a1[1] == pytest.approx(1 / 3) and a1[3] == 1.0
    np.testing.assert_allclose(meter.per_image_dice()[:, 1], [1 / 3, 1.0])
