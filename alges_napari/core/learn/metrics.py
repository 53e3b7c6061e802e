"""Per-class Dice and IoU for label masks, per image and over a data set.

Two definitions, because the literature uses both and they differ:

- **per image, smoothed** (:func:`dice_per_image`, :func:`iou_per_image`): the ALGES paper's
  ``(2|P∩T| + s) / (|P| + |T| + s)`` with ``s = 1``, computed for every class of one image. A
  class absent from both prediction and target scores exactly 1, and a class with a handful of
  pixels is pulled towards 1: means over images therefore flatter small, rare classes.
- **data-set level** (:class:`SegmentationMeter`): intersections and sizes summed over all
  images first, then ``2I / (P + T)`` with no smoothing. A class absent from every prediction
  and target has no defined score: it is NaN, and :meth:`SegmentationMeter.mean_dice` skips it.

Pixels whose *target* equals ``ignore_index`` (255: CholecSeg8k's watershed boundaries) count
for nothing. Everything is one ``np.bincount`` over ``target * C + pred`` (a confusion matrix),
never a loop over classes.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from alges_napari.core.data.classes import IGNORE_INDEX
from alges_napari.core.errors import MaskError


def _check_pair(
    pred: np.ndarray, target: np.ndarray, num_classes: int, ignore_index: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate a pair; return (kept-pixel mask, kept predictions, kept targets as int64)."""
    p, t = np.asarray(pred), np.asarray(target)
    if p.shape != t.shape:
        raise MaskError(f"prediction shape {p.shape} differs from target shape {t.shape}")
    for name, a in (("prediction", p), ("target", t)):
        if a.dtype.kind not in "biu":
            raise MaskError(f"{name}: expected an integer label mask, got dtype {a.dtype}")
    if int(num_classes) < 1:
        raise MaskError(f"num_classes must be >= 1, got {num_classes}")
    keep = t != ignore_index
    p, t = p[keep].astype(np.int64), t[keep].astype(np.int64)
    for name, a in (("prediction", p), ("target", t)):
        if a.size and (a.min() < 0 or a.max() >= num_classes):
            bad = a[(a < 0) | (a >= num_classes)][0]
            raise MaskError(
                f"{name}: value {bad} outside classes 0..{num_classes - 1} "
                f"(and ignore index {ignore_index} for the target)"
            )
    return keep, p, t


def confusion_matrix(
    pred: np.ndarray, target: np.ndarray, num_classes: int, ignore_index: int = IGNORE_INDEX
) -> np.ndarray:
    """Pixel counts (C, C): row = target class, column = predicted class; ignored pixels dropped.

    Raises
    ------
    MaskError
        Shapes differ, non-integer masks, or values outside ``0..num_classes-1`` (the target
        may also hold ``ignore_index``).
    """
    _, p, t = _check_pair(pred, target, num_classes, ignore_index)
    c = int(num_classes)
    return np.bincount(t * c + p, minlength=c * c).reshape(c, c)


def _counts(cm: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(intersection, predicted size, target size) per class from confusion matrices (..., C, C)."""
    inter = np.diagonal(cm, axis1=-2, axis2=-1)
    return inter, cm.sum(axis=-2), cm.sum(axis=-1)


def dice_per_image(
    pred: np.ndarray,
    target: np.ndarray,
    num_classes: int,
    ignore_index: int = IGNORE_INDEX,
    smooth: float = 1.0,
) -> np.ndarray:
    """Smoothed Dice of each class on one image: ``(2|P∩T| + smooth) / (|P| + |T| + smooth)``.

    Parameters
    ----------
    pred, target : ndarray of int, same shape
        Predicted and true class indices; target pixels equal to ``ignore_index`` are skipped.
    num_classes : int
        C; classes are ``0..C-1``.
    ignore_index : int
        Target value meaning "no label".
    smooth : float
        The paper uses 1. With 0, classes absent from both masks give NaN.

    Returns
    -------
    ndarray (C,) of float64
    """
    inter, p, t = _counts(confusion_matrix(pred, target, num_classes, ignore_index))
    with np.errstate(invalid="ignore", divide="ignore"):
        return (2.0 * inter + smooth) / (p + t + smooth)


def iou_per_image(
    pred: np.ndarray,
    target: np.ndarray,
    num_classes: int,
    ignore_index: int = IGNORE_INDEX,
    smooth: float = 1.0,
) -> np.ndarray:
    """Smoothed IoU of each class on one image: ``(|P∩T| + smooth) / (|P∪T| + smooth)``.

    Parameters and return value as :func:`dice_per_image`.
    """
    inter, p, t = _counts(confusion_matrix(pred, target, num_classes, ignore_index))
    with np.errstate(invalid="ignore", divide="ignore"):
        return (inter + smooth) / (p + t - inter + smooth)


class SegmentationMeter:
    """Accumulate Dice and IoU over a data set, image by image.

    Parameters
    ----------
    num_classes : int
        C; classes are ``0..C-1``.
    ignore_index : int
        Target value meaning "no label" (255).

    Examples
    --------
    >>> meter = SegmentationMeter(3)
    >>> meter.update(np.array([[0, 1]]), np.array([[0, 2]]))
    >>> meter.dice()
    array([1., 0., 0.])
    """

    def __init__(self, num_classes: int, ignore_index: int = IGNORE_INDEX) -> None:
        if int(num_classes) < 1:
            raise MaskError(f"SegmentationMeter: num_classes must be >= 1, got {num_classes}")
        self.num_classes = int(num_classes)
        self.ignore_index = int(ignore_index)
        self.reset()

    def reset(self) -> None:
        """Forget every image seen so far."""
        c = self.num_classes
        self._cm = np.zeros((c, c), dtype=np.int64)
        self._per_image: list[np.ndarray] = []  # one (C, C) confusion matrix per image

    @property
    def n_images(self) -> int:
        """Number of images accumulated."""
        return len(self._per_image)

    def update(self, pred: np.ndarray, target: np.ndarray) -> None:
        """Add one image (H, W) or a batch (N, H, W) of predictions and their targets."""
        p, t = np.asarray(pred), np.asarray(target)
        if p.ndim == 2 and t.ndim == 2:
            p, t = p[None], t[None]
        if p.ndim != 3 or p.shape != t.shape:
            raise MaskError(
                f"SegmentationMeter.update: expected (H, W) or (N, H, W) masks of one shape, "
                f"got {p.shape} and {t.shape}"
            )
        keep, pf, tf = _check_pair(p, t, self.num_classes, self.ignore_index)
        c, n = self.num_classes, p.shape[0]
        image = np.broadcast_to(np.arange(n)[:, None, None], p.shape)[keep]
        cms = np.bincount((image * c + tf) * c + pf, minlength=n * c * c).reshape(n, c, c)
        self._cm += cms.sum(axis=0)
        self._per_image.extend(cms)

    def confusion(self) -> np.ndarray:
        """Summed pixel counts (C, C): row = target class, column = predicted class."""
        return self._cm.copy()

    def dice(self) -> np.ndarray:
        """Data-set Dice per class ``2I / (P + T)``; NaN for classes never predicted nor present."""
        inter, p, t = _counts(self._cm)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(p + t > 0, 2.0 * inter / (p + t), np.nan)

    def iou(self) -> np.ndarray:
        """Data-set IoU per class ``I / (P + T - I)``; NaN where the union is empty."""
        inter, p, t = _counts(self._cm)
        union = p + t - inter
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(union > 0, inter / union, np.nan)

    def mean_dice(self, classes: Sequence[int] | None = None) -> float:
        """Mean of :meth:`dice` over ``classes`` (all by default), skipping NaN classes.

        For CholecSeg8k the paper scores classes ``(0, 1, 2, 3, 4, 5, 9, 10)``. Returns NaN when
        every chosen class is NaN (e.g. before any update).
        """
        return _nanmean(self.dice(), classes, self.num_classes)

    def per_image_dice(self, smooth: float = 1.0) -> np.ndarray:
        """Smoothed Dice (the paper's definition) of every image and class, shape (N, C)."""
        if not self._per_image:
            return np.zeros((0, self.num_classes))
        inter, p, t = _counts(np.stack(self._per_image))
        with np.errstate(invalid="ignore", divide="ignore"):
            return (2.0 * inter + smooth) / (p + t + smooth)

    def mean_per_image_dice(self, classes: Sequence[int] | None = None) -> float:
        """Mean over images and ``classes`` of :meth:`per_image_dice` (NaN with no images)."""
        per = self.per_image_dice()
        if per.shape[0] == 0:
            return float("nan")
        return _nanmean(per.mean(axis=0), classes, self.num_classes)


def _nanmean(values: np.ndarray, classes: Sequence[int] | None, num_classes: int) -> float:
    idx = np.arange(num_classes) if classes is None else np.asarray(list(classes), dtype=np.int64)
    if idx.size and (idx.min() < 0 or idx.max() >= num_classes):
        raise MaskError(f"classes {list(idx)} outside 0..{num_classes - 1}")
    chosen = values[idx]
    finite = chosen[np.isfinite(chosen)]
    return float(finite.mean()) if finite.size else float("nan")
