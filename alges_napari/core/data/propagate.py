"""Carry an accepted label to the neighbouring frames of its clip with dense optical flow.

A label is warped backwards: for each pixel ``p`` of a target frame, dense optical flow (OpenCV's
DIS, or Farneback) says where ``p`` was in the previous frame of the chain, so the target takes
the class found there. Labels are class ids, never blended: the warp samples the nearest pixel,
so the source's 255 pixels (ignore, "not labelled") stay 255 wherever they go.

A pixel whose trace leaves the frame (content entering the view) takes by default the class at
the edge where it left (``outside="edge"``), or 255 (``outside="ignore"``). Edge is the
default because it measured better on the synthetic clips (``benchmarks/bench_propagation.py``):
an endoscope's black rim is fixed to the lens while the flow in its textureless black follows
the tissue around it, so most traces that "leave" are rim pixels that stayed rim.

Flows between consecutive frames are composed into one map from the target back to the source
frame (the map is interpolated linearly, it holds coordinates), and the label is sampled once
through it: one nearest-neighbour resampling per target, however far it lies, instead of one per
frame that would let rounding errors pile up.

Neighbours are frames of the same clip (:func:`clip_of`: the key's folder) in source order, so
propagation never crosses into another clip or video.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from alges_napari.core.data.classes import IGNORE_INDEX
from alges_napari.core.errors import AlgesError
from alges_napari.core.progress import SupportsIsSet, is_stopped

#: Flow methods :func:`dense_flow` knows.
FLOW_METHODS = ("dis", "farneback")
#: What a pixel whose trace left the frame becomes: the class at the edge, or 255.
OUTSIDE = ("edge", "ignore")


def clip_of(key: str) -> str:
    """The clip a frame key belongs to: its folder (``video01/video01_00080``, a video's stem).

    Keys without a folder (a flat folder of images) all belong to one clip, ``""``.
    """
    return key.rpartition("/")[0]


def clip_neighbours(keys: Sequence[str], index: int, k: int) -> tuple[list[int], list[int]]:
    """The up to ``k`` frames after and before ``keys[index]`` in its clip, nearest first.

    Parameters
    ----------
    keys : sequence of str
        Frame keys in source order.
    index : int
        The source frame.
    k : int
        How far to go each way (>= 0).

    Returns
    -------
    (list of int, list of int)
        Indices of the following frames, then of the preceding ones, each nearest first; a
        clip's first or last frame stops the run.
    """
    if not 0 <= index < len(keys):
        raise IndexError(f"frame {index} out of range for {len(keys)} frames")
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 0:
        raise AlgesError(f"the number of frames to propagate to must be >= 0, got {k!r}")
    clip = clip_of(keys[index])
    runs: list[list[int]] = []
    for step in (1, -1):
        run, i = [], index + step
        while len(run) < k and 0 <= i < len(keys) and clip_of(keys[i]) == clip:
            run.append(i)
            i += step
        runs.append(run)
    return runs[0], runs[1]


def _grey(frame: np.ndarray) -> np.ndarray:
    import cv2

    frame = np.ascontiguousarray(frame)
    if frame.ndim == 2:
        return frame.astype(np.uint8, copy=False)
    return cv2.cvtColor(frame[..., :3].astype(np.uint8, copy=False), cv2.COLOR_RGB2GRAY)


def flow_function(method: str = "dis") -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """A function ``flow(target, source)`` giving the backward flow of two RGB frames.

    ``flow(target, source)[y, x] = (dx, dy)`` says that pixel ``(x, y)`` of ``target`` shows
    what ``source`` shows at ``(x + dx, y + dy)``.

    Parameters
    ----------
    method : {"dis", "farneback"}
        OpenCV's DIS optical flow (medium preset) or Farneback's polynomial expansion.

    Returns
    -------
    callable
        Takes two uint8 (H, W, 3) frames (or grey (H, W)), returns float32 (H, W, 2). It keeps
        an OpenCV object: use one per thread.
    """
    import cv2

    if method == "dis":
        dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
        return lambda target, source: dis.calc(_grey(target), _grey(source), None)
    if method == "farneback":
        return lambda target, source: cv2.calcOpticalFlowFarneback(
            _grey(target), _grey(source), None, 0.5, 4, 21, 3, 7, 1.5, 0
        )
    raise AlgesError(f"unknown optical flow method {method!r}; one of {FLOW_METHODS}")


def dense_flow(target: np.ndarray, source: np.ndarray, method: str = "dis") -> np.ndarray:
    """Backward dense optical flow from ``target`` to ``source`` (see :func:`flow_function`).

    Returns
    -------
    ndarray float32 (H, W, 2)
    """
    return flow_function(method)(target, source)


def _grid(shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    h, w = shape
    return np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))


def warp_label(label: np.ndarray, flow: np.ndarray, outside: str = "edge") -> np.ndarray:
    """Warp a class-id mask backwards along ``flow``, nearest neighbour.

    Parameters
    ----------
    label : ndarray uint8 (H, W)
        Class ids of the source frame, 255 = ignore.
    flow : ndarray float32 (H, W, 2)
        Backward flow of the target frame (:func:`dense_flow` of target, source).
    outside : {"edge", "ignore"}
        What a pixel whose source lies outside the frame gets: the nearest edge pixel's class,
        or 255.

    Returns
    -------
    ndarray uint8 (H, W)
        The target frame's label: each pixel takes the source class at ``p + flow[p]``.
    """
    label = np.asarray(label)
    if label.ndim != 2 or flow.shape != (*label.shape, 2):
        raise AlgesError(f"flow of shape {flow.shape} does not fit a label of shape {label.shape}")
    gx, gy = _grid(label.shape)
    return _sample(label, gx + flow[..., 0], gy + flow[..., 1], _check_outside(outside))


def _check_outside(outside: str) -> str:
    if outside not in OUTSIDE:
        raise AlgesError(f"outside must be one of {OUTSIDE}, got {outside!r}")
    return outside


def _sample(
    label: np.ndarray, map_x: np.ndarray, map_y: np.ndarray, outside: str = "ignore"
) -> np.ndarray:
    import cv2

    border = cv2.BORDER_REPLICATE if outside == "edge" else cv2.BORDER_CONSTANT
    return cv2.remap(
        np.ascontiguousarray(label, dtype=np.uint8),
        map_x.astype(np.float32, copy=False),
        map_y.astype(np.float32, copy=False),
        cv2.INTER_NEAREST,
        borderMode=border,
        borderValue=IGNORE_INDEX,
    )


class FlowChain:
    """Where each pixel of the latest frame of a chain was in the chain's first frame.

    Start at the source frame; :meth:`step` adds the flow from the next frame back to the
    last one, :meth:`warp` samples the source label through the whole chain. A pixel whose
    trace left the frame at any step stays outside (:attr:`inside` is False there).
    """

    def __init__(self, shape: tuple[int, int]):
        self._gx, self._gy = _grid(shape)
        self.map_x, self.map_y = self._gx.copy(), self._gy.copy()
        self.inside = np.ones(shape, bool)

    def step(self, flow: np.ndarray) -> None:
        """Extend the chain by one frame whose backward flow to the last one is ``flow``."""
        import cv2

        h, w = self.inside.shape
        flow = np.asarray(flow, dtype=np.float32)
        x, y = self._gx + flow[..., 0], self._gy + flow[..., 1]
        # A trace is inside while it lands on a pixel (nearest) that was inside itself.
        landed = (x > -0.5) & (x < w - 0.5) & (y > -0.5) & (y < h - 0.5)
        before = _sample(self.inside.view(np.uint8), x, y) == 1
        # Linear: the maps hold coordinates. Replicated at the border so that the pixels next
        # to it keep their own coordinates; those that left are marked by ``inside``.
        self.map_x, self.map_y = (
            cv2.remap(m, x, y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            for m in (self.map_x, self.map_y)
        )
        self.inside = landed & before

    def warp(self, label: np.ndarray, outside: str = "edge") -> np.ndarray:
        """The source frame's ``label`` carried to the chain's latest frame.

        Where a trace left the frame: the class at the edge it left by (its coordinates were
        replicated from there), or 255 for ``outside="ignore"``.
        """
        out = _sample(label, self.map_x, self.map_y, _check_outside(outside))
        if outside == "ignore":
            out[~self.inside] = IGNORE_INDEX
        return out


def iter_warped(
    frames: Any,
    index: int,
    label: np.ndarray,
    targets: Sequence[int],
    method: str = "dis",
    stop: SupportsIsSet | None = None,
    outside: str = "edge",
) -> Iterator[tuple[int, int, np.ndarray]]:
    """Carry ``label`` of frame ``index`` along a run of consecutive frames, one at a time.

    Parameters
    ----------
    frames : FrameSource or sequence of ndarray
        ``frames[i]`` is frame i as uint8 (H, W, 3).
    index : int
        The labelled frame.
    label : ndarray uint8 (H, W)
        Its class ids, 255 = ignore.
    targets : sequence of int
        A run leaving ``index`` one frame at a time, nearest first (one list of
        :func:`clip_neighbours`).
    method : {"dis", "farneback"}
        The optical flow (:func:`flow_function`).
    stop : object with ``is_set()``, optional
        Checked before each frame: when set, the run ends.
    outside : {"edge", "ignore"}
        What pixels whose trace left the frame get (see :meth:`FlowChain.warp`).

    Yields
    ------
    (int, int, ndarray)
        Target index, its distance from ``index`` in frames of the run, its warped label.
    """
    label = np.asarray(label, dtype=np.uint8)
    _check_outside(outside)
    flow = flow_function(method)
    chain = FlowChain(label.shape)
    previous = np.asarray(frames[index])
    for distance, target in enumerate(targets, start=1):
        if is_stopped(stop):
            return
        frame = np.asarray(frames[target])
        if frame.shape[:2] != label.shape:
            raise AlgesError(
                f"frame {target} is {frame.shape[1]}x{frame.shape[0]}, the label "
                f"{label.shape[1]}x{label.shape[0]}"
            )
        chain.step(flow(frame, previous))
        previous = frame
        yield target, distance, chain.warp(label, outside)
