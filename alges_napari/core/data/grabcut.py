"""GrabCut regions for correction: a drag box, or one class of the prediction, gives a region.

OpenCV's GrabCut (``cv2.grabCut``) fits two colour models (Gaussian mixtures), one for the
object and one for its surroundings, and cuts the image along its edges with a graph cut; a few
rounds of refitting and cutting follow. Two ways to seed it:

- :func:`grabcut_box`: the user drags a box around an object; outside the box is surely not the
  object, inside it probably is. The result is the object inside the box.
- :func:`grabcut_refine`: one class of the current annotation or prediction is the guess;
  pixels of the class are probably it, pixels near it probably not, pixels far from it surely
  not. The result is the class's region with its edges moved to the image's edges.

Both work on a crop around the seed, shrunk so its longer side is at most ``max_side`` pixels
(GrabCut's time grows with the pixels it cuts: a 480 x 854 frame takes about a second, a
256-px crop a few tens of milliseconds), and bring the region back to full size by nearest
neighbour. Coordinates are napari's data coordinates of a 2-D frame: (row, col), pixel
centres on whole numbers.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
from scipy import ndimage

from alges_napari.core.errors import AlgesError

#: GrabCut rounds (each refits the colour models and cuts again); OpenCV's samples use 5, the
#: region hardly changes after 3.
ITERATIONS = 3
#: The longer side of the crop GrabCut works on, in pixels (larger crops are shrunk to it).
MAX_SIDE = 256
#: A box must be at least this many pixels high and wide after clipping to the frame: GrabCut's
#: object model fits 5 Gaussians to the pixels inside it.
MIN_BOX_SIDE = 3
#: Context around a box, as a share of its larger side (at least MIN_MARGIN pixels): the
#: pixels there teach GrabCut what the surroundings look like.
MARGIN = 0.25
MIN_MARGIN = 8
#: Refine: pixels up to BAND pixels from the class's region are probably not the class, pixels
#: further away surely not.
BAND = 24

Box = Sequence[Sequence[float]]


def as_bgr8(image: np.ndarray, tool: str = "GrabCut") -> np.ndarray:
    """``image`` as the 8-bit 3-channel array OpenCV's interactive tools need (grey repeated;
    floats in [0, 1] or [0, 255] scaled to 0..255); ``tool`` names the tool in the error."""
    image = np.asarray(image)
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=-1)
    elif not (image.ndim == 3 and image.shape[-1] in (3, 4)):
        raise AlgesError(f"{tool} needs an (H, W) or (H, W, 3) frame, got shape {image.shape}")
    image = image[..., :3]
    if image.dtype != np.uint8:
        values = image.astype(np.float64)
        if values.size and np.nanmax(values) <= 1.0:
            values = values * 255.0
        image = np.clip(np.nan_to_num(values), 0, 255).astype(np.uint8)
    # GrabCut only compares colours, so the channel order (RGB here, BGR in OpenCV) is moot
    return np.ascontiguousarray(image)


def clip_box(box: Box, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """The pixels a drag box covers on a frame of ``shape``: (row0, col0, row1, col1), ends excluded.

    Parameters
    ----------
    box : ((float, float), (float, float))
        Two opposite corners (row, col) in data coordinates, in any order (where the drag
        started and where it ended). A pixel is in the box when its centre is.
    shape : tuple
        The frame's shape; its first two entries are (H, W).

    Returns
    -------
    (int, int, int, int)
        The box clipped to the frame.

    Raises
    ------
    AlgesError
        The clipped box is smaller than :data:`MIN_BOX_SIDE` pixels either way (a click, a
        thin line, or a box outside the frame); the message names the box.
    """
    (r0, c0), (r1, c1) = (tuple(float(v) for v in corner[-2:]) for corner in box)
    h, w = int(shape[0]), int(shape[1])
    lo_r, hi_r = sorted((r0, r1))
    lo_c, hi_c = sorted((c0, c1))
    top, left = max(0, int(np.ceil(lo_r))), max(0, int(np.ceil(lo_c)))
    bottom, right = min(h, int(np.floor(hi_r)) + 1), min(w, int(np.floor(hi_c)) + 1)
    if bottom - top < MIN_BOX_SIDE or right - left < MIN_BOX_SIDE:
        raise AlgesError(
            f"GrabCut box from ({r0:g}, {c0:g}) to ({r1:g}, {c1:g}) covers "
            f"{max(0, bottom - top)} x {max(0, right - left)} pixels of the {h} x {w} frame; "
            f"drag a box at least {MIN_BOX_SIDE} x {MIN_BOX_SIDE} pixels over the object"
        )
    return top, left, bottom, right


def _run(image: np.ndarray, seeds: np.ndarray, sl: tuple[slice, slice], iterations: int,
         max_side: int) -> np.ndarray:  # fmt: skip
    """GrabCut on ``image[sl]`` from the GC_* ``seeds`` of that crop, shrunk to ``max_side``;
    the foreground as a bool mask of the whole frame."""
    crop = as_bgr8(image)[sl]
    h, w = seeds.shape
    scale = min(1.0, max_side / max(h, w))
    if scale < 1.0:
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        small = cv2.resize(crop, size, interpolation=cv2.INTER_AREA)
        mask = cv2.resize(seeds, size, interpolation=cv2.INTER_NEAREST)
    else:
        small, mask = crop, seeds.copy()
    fg_seed = np.isin(mask, (cv2.GC_FGD, cv2.GC_PR_FGD))
    bg_seed = np.isin(mask, (cv2.GC_BGD, cv2.GC_PR_BGD))
    if not bg_seed.any():
        # the seed covers the whole crop (a box over the whole frame): its rim must teach
        # GrabCut the surroundings, as nothing outside it can
        mask[[0, -1], :] = cv2.GC_PR_BGD
        mask[:, [0, -1]] = cv2.GC_PR_BGD
    if not fg_seed.any():  # shrinking lost a thin seed: nothing to grow
        return np.zeros(image.shape[:2], bool)
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.setRNGSeed(0)  # GrabCut's k-means start: the same region for the same input
    cv2.grabCut(small, mask, None, bgd, fgd, int(iterations), cv2.GC_INIT_WITH_MASK)
    fg = np.isin(mask, (cv2.GC_FGD, cv2.GC_PR_FGD)).astype(np.uint8)
    if scale < 1.0:
        fg = cv2.resize(fg, (w, h), interpolation=cv2.INTER_NEAREST)
    out = np.zeros(image.shape[:2], bool)
    # shrinking and growing back may move the edge by a pixel: never past the sure background
    out[sl] = fg.astype(bool) & (seeds != cv2.GC_BGD)
    return out


def grabcut_box(
    image: np.ndarray, box: Box, *, iterations: int = ITERATIONS, max_side: int = MAX_SIDE
) -> np.ndarray:
    """The object inside a drag box, by GrabCut (the box gesture of the correction tools).

    Pixels outside the box are surely not the object; pixels inside probably are. GrabCut runs
    on the box and a margin around it (:data:`MARGIN` of its larger side, at least
    :data:`MIN_MARGIN` pixels, clipped to the frame), shrunk to ``max_side``.

    Parameters
    ----------
    image : ndarray (H, W, 3) or (H, W)
        The frame (uint8, or floats in [0, 1] or [0, 255]).
    box : ((float, float), (float, float))
        Two opposite corners (row, col) in data coordinates, any order; clipped to the frame
        (:func:`clip_box`). Longer corners (a frame index first) keep their last two entries.
    iterations : int
        GrabCut rounds (:data:`ITERATIONS`).
    max_side : int
        The longest crop side GrabCut works on (:data:`MAX_SIDE`).

    Returns
    -------
    ndarray (H, W) bool
        The object's pixels; all inside the clipped box, possibly none (GrabCut found nothing
        that stands out from the surroundings).

    Raises
    ------
    AlgesError
        A box smaller than :data:`MIN_BOX_SIDE` pixels either way after clipping, or an image
        of another shape.
    """
    image = np.asarray(image)
    top, left, bottom, right = clip_box(box, image.shape)
    h, w = image.shape[:2]
    pad = max(MIN_MARGIN, int(np.ceil(MARGIN * max(bottom - top, right - left))))
    sl = (slice(max(0, top - pad), min(h, bottom + pad)),
          slice(max(0, left - pad), min(w, right + pad)))  # fmt: skip
    seeds = np.full((sl[0].stop - sl[0].start, sl[1].stop - sl[1].start), cv2.GC_BGD, np.uint8)
    seeds[top - sl[0].start : bottom - sl[0].start, left - sl[1].start : right - sl[1].start] = (
        cv2.GC_PR_FGD
    )
    return _run(image, seeds, sl, iterations, max_side)


def grabcut_refine(
    image: np.ndarray, labels: np.ndarray, cls: int, *, band: int = BAND,
    iterations: int = ITERATIONS, max_side: int = MAX_SIDE,
) -> np.ndarray:  # fmt: skip
    """The region of class ``cls`` of ``labels``, its edges moved to the image's by GrabCut.

    The seeds: pixels of the class are probably the class; pixels within ``band`` pixels of it
    (Euclidean distance) probably not; pixels further away surely not. GrabCut runs on the
    class's bounding box grown by ``band``, shrunk to ``max_side``. The region can grow into
    the band, never past it.

    Parameters
    ----------
    image : ndarray (H, W, 3) or (H, W)
        The frame.
    labels : ndarray (H, W) int
        The annotation (or prediction) whose class ``cls`` is refined.
    cls : int
        The class; it must have at least one pixel in ``labels``.
    band : int
        Width of the band around the class where GrabCut may move its edge (:data:`BAND`).
    iterations, max_side : int
        As in :func:`grabcut_box`.

    Returns
    -------
    ndarray (H, W) bool
        The refined region (possibly empty: nothing of the class stands out).

    Raises
    ------
    AlgesError
        ``labels`` not of the image's (H, W), ``band`` < 1, or class ``cls`` absent from it.
    """
    image, labels = np.asarray(image), np.asarray(labels)
    if labels.shape != image.shape[:2]:
        raise AlgesError(f"labels of shape {labels.shape} do not match the frame {image.shape[:2]}")
    if int(band) < 1:
        raise AlgesError(f"GrabCut refine band must be at least 1 pixel, got {band}")
    region = labels == cls
    if not region.any():
        raise AlgesError(f"class {cls} has no pixel in the annotation: nothing to refine")
    h, w = labels.shape
    rows, cols = np.nonzero(region.any(1))[0], np.nonzero(region.any(0))[0]
    sl = (slice(max(0, rows[0] - band), min(h, rows[-1] + 1 + band)),
          slice(max(0, cols[0] - band), min(w, cols[-1] + 1 + band)))  # fmt: skip
    inside = region[sl]
    near = ndimage.distance_transform_edt(~inside) <= band
    seeds = np.full(inside.shape, cv2.GC_BGD, np.uint8)
    seeds[near] = cv2.GC_PR_BGD
    seeds[inside] = cv2.GC_PR_FGD
    return _run(image, seeds, sl, iterations, max_side)
