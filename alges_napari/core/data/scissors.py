"""Intelligent scissors: click anchors along an object's outline, the path between them snaps
to the image's edges, and the closed outline is filled.

OpenCV's :class:`cv2.segmentation.IntelligentScissorsMB` (Mortensen and Barrett's "live wire")
turns the frame into a cost per pixel step (low along strong edges, with the gradient's
direction and magnitude) once, then, for a source point, finds the cheapest path from it to
every pixel (a Dijkstra map over the whole frame). The path to any target is then read off
the map at once, so the path from the last anchor to the cursor can follow the mouse.

- :class:`LiveWire` holds one frame's features and the map of the last anchor: what the
  napari tool needs (one map per click, a path per mouse move).
- :func:`trace` is the closed outline through a list of anchors (one map per anchor), and
  :func:`scissors_region` the pixels it encloses, outline included: what the tool paints when
  the outline is closed, and what ``benchmarks/bench_correction.py`` models.

The edge features and weights are OpenCV's documented usage example's (Canny 32/100, gradient
magnitude limit 200, weights 0.43 / 0.43 / 0.14), fixed once and not tuned on any result.
Coordinates are napari's data coordinates of a 2-D frame: (row, col), pixel centres on whole
numbers; OpenCV's points are (x, y) = (col, row), converted here and nowhere else.

A map over a 480 x 854 frame takes about 0.1 s on this project's 2-core CPU, the features
about 20 ms, a path read off a map well under a millisecond.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from alges_napari.core.data.grabcut import as_bgr8
from alges_napari.core.errors import AlgesError

#: OpenCV's usage example's settings (``imgproc_segmentation.cpp``): the cost of a step is
#: 0.43 x (not an edge) + 0.43 x (against the gradient's direction) + 0.14 x (weak gradient).
WEIGHTS = (0.43, 0.43, 0.14)
GRADIENT_LIMIT = 200.0
CANNY = (32.0, 100.0)
#: An outline needs at least this many anchors to enclose anything.
MIN_ANCHORS = 3

Point = Sequence[float]


def _pixel(point: Point, shape: tuple[int, ...]) -> tuple[int, int]:
    """``point``'s (row, col) (its last two entries) rounded to a pixel and clipped to the frame."""
    row, col = (float(v) for v in np.asarray(point, float)[-2:])
    if not (np.isfinite(row) and np.isfinite(col)):
        raise AlgesError(f"scissors anchor ({row:g}, {col:g}) is not a point on the frame")
    h, w = int(shape[0]), int(shape[1])
    return int(np.clip(round(row), 0, h - 1)), int(np.clip(round(col), 0, w - 1))


class LiveWire:
    """The intelligent scissors of one frame: its features, and the paths from one anchor.

    Parameters
    ----------
    image : ndarray (H, W, 3) or (H, W)
        The frame (uint8, or floats in [0, 1] or [0, 255]).

    Attributes
    ----------
    shape : (int, int)
        The frame's (H, W).
    anchor : (int, int) or None
        The pixel whose map is built (:meth:`set_anchor`), or None before the first.
    """

    def __init__(self, image: np.ndarray):
        frame = as_bgr8(image, "Intelligent scissors")
        self.shape = frame.shape[:2]
        if min(self.shape) < 2:
            raise AlgesError(f"scissors need a frame of at least 2 x 2 pixels, got {self.shape}")
        tool = cv2.segmentation.IntelligentScissorsMB()
        tool.setWeights(*WEIGHTS)
        tool.setGradientMagnitudeMaxLimit(GRADIENT_LIMIT)
        tool.setEdgeFeatureCannyParameters(*CANNY)
        tool.applyImage(frame)
        self._tool = tool
        self.anchor: tuple[int, int] | None = None

    def set_anchor(self, point: Point) -> tuple[int, int]:
        """Build the map of cheapest paths from ``point`` (clipped to the frame); its pixel."""
        self.anchor = _pixel(point, self.shape)
        self._tool.buildMap((self.anchor[1], self.anchor[0]))
        return self.anchor

    def path_to(self, point: Point) -> np.ndarray:
        """The cheapest path from the anchor to ``point``: (N, 2) int (row, col), both ends in.

        Raises
        ------
        AlgesError
            No anchor set yet.
        """
        if self.anchor is None:
            raise AlgesError("scissors: click an anchor on the outline first")
        row, col = _pixel(point, self.shape)
        contour = self._tool.getContour((col, row)).reshape(-1, 2)
        return np.ascontiguousarray(contour[:, ::-1], dtype=np.int64)


def trace(image: np.ndarray | LiveWire, anchors: Sequence[Point]) -> np.ndarray:
    """The closed outline through ``anchors`` in order, each leg snapped to the image's edges.

    Parameters
    ----------
    image : ndarray or LiveWire
        The frame, or its :class:`LiveWire` (its features are reused; its anchor moves).
    anchors : sequence of (row, col)
        At least :data:`MIN_ANCHORS` points, in the order clicked; the last leg returns to the
        first anchor.

    Returns
    -------
    ndarray (N, 2) int
        The outline's pixels (row, col) in order, each anchor once.

    Raises
    ------
    AlgesError
        Fewer than :data:`MIN_ANCHORS` anchors, or an anchor that is not a finite point.
    """
    if len(anchors) < MIN_ANCHORS:
        raise AlgesError(
            f"scissors need at least {MIN_ANCHORS} anchors to enclose a region, got {len(anchors)}"
        )
    wire = image if isinstance(image, LiveWire) else LiveWire(image)
    legs = []
    for a, b in zip(anchors, [*anchors[1:], anchors[0]], strict=True):
        wire.set_anchor(a)
        legs.append(wire.path_to(b)[:-1])  # b starts the next leg
    return np.concatenate(legs)


def fill_outline(shape: tuple[int, ...], outline: np.ndarray) -> np.ndarray:
    """The pixels a closed ``outline`` ((N, 2) row, col) encloses on a frame of ``shape``, the
    outline's own pixels included (``cv2.fillPoly``: a self-crossing outline, a figure eight,
    fills both of its loops)."""
    h, w = int(shape[0]), int(shape[1])
    mask = np.zeros((h, w), np.uint8)
    points = np.asarray(outline, np.int32)[:, ::-1].reshape(-1, 1, 2)
    cv2.fillPoly(mask, [points], 1)
    cv2.polylines(mask, [points], True, 1)
    return mask.astype(bool)


def scissors_region(image: np.ndarray | LiveWire, anchors: Sequence[Point]) -> np.ndarray:
    """The region the scissors outline through ``anchors`` encloses: what the tool paints.

    Parameters
    ----------
    image : ndarray or LiveWire
        The frame, or its :class:`LiveWire`.
    anchors : sequence of (row, col)
        As in :func:`trace`.

    Returns
    -------
    ndarray (H, W) bool
        The enclosed pixels, outline included.
    """
    wire = image if isinstance(image, LiveWire) else LiveWire(image)
    return fill_outline(wire.shape, trace(wire, anchors))
