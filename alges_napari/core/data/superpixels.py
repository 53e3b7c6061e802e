"""Superpixels of one frame, for edge-aware painting: a click paints the region under the cursor.

A superpixel is a small connected region of similar colour (scikit-image's SLIC on the frame in
CIELAB), so its border follows the image's edges: painting whole superpixels puts a boundary
between two organs where the image has one, instead of where the hand went.

Two coarseness settings fix the mean superpixel area, not the count, so a setting means the
same thing on any frame size: ``"fine"`` about 16 x 16 pixels, ``"coarse"`` about 32 x 32.
:class:`SuperpixelCache` keeps the last frames' superpixels per (frame key, coarseness), since
SLIC takes a fraction of a second on a 480 x 854 frame and a user returns to frames. It keeps
each map's boundaries too (:func:`superpixel_boundaries`, what the widget overlays while the
mode is on), computed with the map in the same background thread: they take tens of
milliseconds on a 480 x 854 frame, too long for the GUI thread at every frame change.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable

import numpy as np
from skimage.segmentation import find_boundaries, slic

from alges_napari.core.errors import AlgesError

#: Mean superpixel area in pixels per coarseness setting.
AREAS = {"fine": 16 * 16, "coarse": 32 * 32}
#: SLIC's colour/space trade-off (scikit-image's default for CIELAB): lower follows colour more.
COMPACTNESS = 10.0
#: ``find_boundaries`` mode of the overlay: a pixel is a boundary pixel when one of its four
#: neighbours lies in another superpixel (so a border between two superpixels is 2 px wide;
#: the one-pixel "subpixel" mode takes seconds per frame).
BOUNDARY_MODE = "thick"


def check_coarseness(coarseness: str) -> str:
    """``coarseness`` if it is a known setting (a key of :data:`AREAS`), else AlgesError."""
    if coarseness not in AREAS:
        raise AlgesError(f"superpixel coarseness {coarseness!r} is not one of {sorted(AREAS)}")
    return coarseness


def compute_superpixels(image: np.ndarray, coarseness: str = "fine") -> np.ndarray:
    """SLIC superpixels of one frame.

    Parameters
    ----------
    image : ndarray (H, W, 3) or (H, W)
        The frame, RGB (any dtype scikit-image accepts) or grey.
    coarseness : {"fine", "coarse"}
        Mean superpixel area (see :data:`AREAS`).

    Returns
    -------
    ndarray (H, W) int32
        Superpixel ids 0..n-1; every superpixel is one connected region.

    Raises
    ------
    AlgesError
        An image that is not (H, W) or (H, W, 3), or an unknown ``coarseness``.
    """
    image = np.asarray(image)
    area = AREAS[check_coarseness(coarseness)]
    if image.ndim == 3 and image.shape[-1] == 3:
        channel_axis: int | None = -1
    elif image.ndim == 2:
        channel_axis = None
    else:
        raise AlgesError(f"superpixels need an (H, W) or (H, W, 3) frame, got shape {image.shape}")
    n_segments = max(1, round(image.shape[0] * image.shape[1] / area))
    labels = slic(
        image,
        n_segments=n_segments,
        compactness=COMPACTNESS,
        start_label=0,
        channel_axis=channel_axis,
        convert2lab=channel_axis is not None,
        enforce_connectivity=True,
    )
    return labels.astype(np.int32, copy=False)


def region_at(labels: np.ndarray, row: int, col: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(rows, cols)`` of the superpixel holding pixel ``(row, col)``.

    Raises
    ------
    AlgesError
        ``(row, col)`` lies outside ``labels``.
    """
    h, w = labels.shape
    if not (0 <= row < h and 0 <= col < w):
        raise AlgesError(f"pixel ({row}, {col}) is outside the {h} x {w} frame")
    rows, cols = np.nonzero(labels == labels[row, col])
    return rows, cols


def pixels_on_segment(start: tuple[float, float], end: tuple[float, float]) -> np.ndarray:
    """Every pixel the straight segment from ``start`` to ``end`` passes through.

    Pixel ``(r, c)`` is the square ``[r - 0.5, r + 0.5) x [c - 0.5, c + 0.5)`` (napari's data
    coordinates: pixel centres on whole numbers), so a drag between two mouse events far apart
    still meets every pixel on its way, also those it only clips at a corner (the segment's
    "supercover"). Exact: the segment is cut where it crosses a pixel edge, and the middle of
    each piece names the pixel that piece lies in.

    Parameters
    ----------
    start, end : (float, float)
        (row, col) in data coordinates; equal points give the one pixel holding them.

    Returns
    -------
    ndarray (n, 2) int64
        (row, col) of the pixels crossed, in order from ``start``, each once; they may lie
        outside any frame (negative or beyond its size): the caller clips.
    """
    a = np.asarray(start, float)
    d = np.asarray(end, float) - a
    cuts = [np.array([0.0, 1.0])]
    for axis in (0, 1):
        if d[axis] != 0.0:
            lo, hi = sorted((a[axis], a[axis] + d[axis]))
            # pixel edges lie at k + 0.5 for whole k
            edges = np.arange(np.ceil(lo - 0.5), np.floor(hi - 0.5) + 1) + 0.5
            cuts.append((edges - a[axis]) / d[axis])
    t = np.unique(np.clip(np.concatenate(cuts), 0.0, 1.0))
    mids = np.concatenate([[0.0], (t[:-1] + t[1:]) / 2, [1.0]]) if t.size > 1 else t
    cells = np.floor(a + mids[:, None] * d + 0.5).astype(np.int64)
    keep = np.ones(len(cells), bool)
    keep[1:] = np.any(cells[1:] != cells[:-1], axis=1)
    return cells[keep]


def superpixels_along(labels: np.ndarray, points: np.ndarray | list) -> np.ndarray:
    """Ids of every superpixel the polyline through ``points`` crosses (a gap-free drag).

    Parameters
    ----------
    labels : ndarray (H, W) int
        Superpixel ids (:func:`compute_superpixels`).
    points : sequence of (row, col)
        Mouse positions of a gesture in data coordinates, in order; one point is a click. The
        straight segment between consecutive points counts whole (:func:`pixels_on_segment`),
        so a fast drag, whose mouse events lie far apart, misses no superpixel on its way.
        Parts outside the frame paint nothing.

    Returns
    -------
    ndarray int
        The sorted, distinct superpixel ids crossed (empty when the path misses the frame).
    """
    labels = np.asarray(labels)
    pts = np.asarray(points, float).reshape(-1, 2)
    if len(pts) == 0:
        return np.zeros(0, labels.dtype)
    pieces = [pixels_on_segment(pts[0], pts[0])]
    pieces += [pixels_on_segment(p, q) for p, q in zip(pts[:-1], pts[1:], strict=True)]
    cells = np.concatenate(pieces)
    h, w = labels.shape
    inside = (cells[:, 0] >= 0) & (cells[:, 0] < h) & (cells[:, 1] >= 0) & (cells[:, 1] < w)
    cells = cells[inside]
    return np.unique(labels[cells[:, 0], cells[:, 1]])


def superpixel_boundaries(labels: np.ndarray) -> np.ndarray:
    """Where one superpixel meets another: scikit-image's ``find_boundaries``.

    Parameters
    ----------
    labels : ndarray (H, W) int
        Superpixel ids (:func:`compute_superpixels`).

    Returns
    -------
    ndarray (H, W) bool
        True on the pixels that have a 4-neighbour in another superpixel
        (:data:`BOUNDARY_MODE`).
    """
    return find_boundaries(np.asarray(labels), connectivity=1, mode=BOUNDARY_MODE)


class SuperpixelCache:
    """Superpixels of the last ``size`` (frame key, coarseness) pairs, safe across threads.

    A worker thread computes and :meth:`put` s; the GUI thread :meth:`get` s the superpixels
    and their :meth:`boundaries`, which are kept with them.

    Parameters
    ----------
    size : int
        How many superpixel maps to keep (least recently used ones go first).
    """

    def __init__(self, size: int = 16):
        self.size = int(size)
        self._items: OrderedDict[tuple[Hashable, str], tuple[np.ndarray, np.ndarray]] = (
            OrderedDict()
        )
        self._lock = threading.Lock()

    def get(self, key: Hashable, coarseness: str) -> np.ndarray | None:
        """The cached superpixels of frame ``key`` at ``coarseness``, or None."""
        item = self._item(key, coarseness)
        return None if item is None else item[0]

    def boundaries(self, key: Hashable, coarseness: str) -> np.ndarray | None:
        """The boundaries of the cached superpixels of ``key`` at ``coarseness``, or None."""
        item = self._item(key, coarseness)
        return None if item is None else item[1]

    def _item(self, key: Hashable, coarseness: str) -> tuple[np.ndarray, np.ndarray] | None:
        with self._lock:
            item = self._items.get((key, coarseness))
            if item is not None:
                self._items.move_to_end((key, coarseness))
            return item

    def put(self, key: Hashable, coarseness: str, labels: np.ndarray) -> None:
        """Keep ``labels`` for frame ``key`` at ``coarseness``, with their boundaries.

        The boundaries (:func:`superpixel_boundaries`) are computed here, in the caller's
        thread: the widget's worker, not the GUI thread.
        """
        boundaries = superpixel_boundaries(labels)
        with self._lock:
            self._items[(key, coarseness)] = (labels, boundaries)
            self._items.move_to_end((key, coarseness))
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def compute(self, key: Hashable, image: np.ndarray, coarseness: str) -> np.ndarray:
        """The superpixels of ``image`` (frame ``key``), from the cache or computed and kept."""
        labels = self.get(key, coarseness)
        if labels is None:
            labels = compute_superpixels(image, coarseness)
            self.put(key, coarseness, labels)
        return labels

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)
