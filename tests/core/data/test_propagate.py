"""Label propagation by dense optical flow: exact on a known translation, clip-bound, 255 kept."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from alges_napari.core.data.propagate import (
    FlowChain,
    clip_neighbours,
    clip_of,
    dense_flow,
    iter_warped,
    warp_label,
)
from alges_napari.core.errors import AlgesError
from alges_napari.core.progress import StopFlag

H, W = 96, 128
STEP = (2, 3)  # (dy, dx): the scene moves this much down and right per frame


def _scene() -> tuple[np.ndarray, np.ndarray]:
    """A large textured RGB canvas and a label map on it (classes 1-3, a 255 strip)."""
    rng = np.random.default_rng(3)
    grey = ndimage.gaussian_filter(rng.random((H + 40, W + 40)), 1.5)
    grey = (grey - grey.min()) / (grey.max() - grey.min())
    canvas = np.repeat((grey * 255).astype(np.uint8)[..., None], 3, axis=2)
    label = np.ones((H + 40, W + 40), np.uint8)
    label[30:70, 40:110] = 2
    label[80:110, 20:60] = 3
    label[50:56, :] = 255  # not labelled: must stay 255 wherever it goes
    return canvas, label


def _view(array: np.ndarray, t: int) -> np.ndarray:
    """Frame ``t``: the canvas window that makes the scene move by ``t * STEP``."""
    dy, dx = STEP[0] * t, STEP[1] * t
    return array[20 - dy : 20 - dy + H, 20 - dx : 20 - dx + W]


def _entering(label0: np.ndarray, t: int, outside: str) -> np.ndarray:
    """Frame ``t``'s expected label: frame 0's label shifted by ``t * STEP``; what enters from
    outside frame 0 (top rows, left columns) takes frame 0's edge class, or 255."""
    ys = np.clip(np.arange(H) - STEP[0] * t, 0, H - 1)
    xs = np.clip(np.arange(W) - STEP[1] * t, 0, W - 1)
    expected = label0[np.ix_(ys, xs)].copy()
    if outside == "ignore":
        expected[: STEP[0] * t] = 255
        expected[:, : STEP[1] * t] = 255
    return expected


@pytest.mark.parametrize("outside", ["edge", "ignore"])
@pytest.mark.parametrize("method", ["dis", "farneback"])
def test_a_known_translation_carries_the_label_to_the_shifted_label(method, outside) -> None:
    canvas, label = _scene()
    frames = [_view(canvas, t) for t in range(4)]
    label0 = _view(label, 0)
    warped = list(iter_warped(frames, 0, label0, [1, 2, 3], method=method, outside=outside))
    assert [(t, d) for t, d, _ in warped] == [(1, 1), (2, 2), (3, 3)]
    for t, _, out in warped:
        # Inside the view both agree with the truly shifted label (255 strip included).
        inner = (slice(STEP[0] * t, None), slice(STEP[1] * t, None))
        np.testing.assert_array_equal(_entering(label0, t, outside)[inner], _view(label, t)[inner])
        wrong = np.count_nonzero(out != _entering(label0, t, outside))
        assert wrong <= 0.002 * out.size, (method, outside, t, wrong)
        assert out.dtype == np.uint8 and set(np.unique(out)) <= {1, 2, 3, 255}


def test_dense_flow_measures_the_translation() -> None:
    canvas, _ = _scene()
    flow = dense_flow(_view(canvas, 1), _view(canvas, 0))
    inner = flow[10:-10, 10:-10]
    # Backward flow: frame 1 at p shows what frame 0 shows at p - STEP.
    np.testing.assert_allclose(np.median(inner, axis=(0, 1)), [-STEP[1], -STEP[0]], atol=0.05)


def test_warp_label_samples_the_nearest_pixel_and_leaves_the_outside_ignored() -> None:
    label = np.arange(12, dtype=np.uint8).reshape(3, 4)
    flow = np.zeros((3, 4, 2), np.float32)
    np.testing.assert_array_equal(warp_label(label, flow), label)
    flow[..., 0] = 1.4  # one pixel to the right, rounded
    out = warp_label(label, flow, outside="ignore")
    np.testing.assert_array_equal(out[:, :3], label[:, 1:])
    assert (out[:, 3] == 255).all()
    out = warp_label(label, flow)  # edge: what enters takes the class at the edge
    np.testing.assert_array_equal(out[:, :3], label[:, 1:])
    np.testing.assert_array_equal(out[:, 3], label[:, 3])
    with pytest.raises(AlgesError, match="does not fit"):
        warp_label(label, np.zeros((2, 4, 2), np.float32))


def test_a_trace_that_left_the_frame_stays_outside() -> None:
    chain = FlowChain((2, 5))
    zero = np.zeros((2, 5, 2), np.float32)
    chain.step(zero + [3, 0])  # each pixel came from 3 to the right: columns 2-4 from outside
    chain.step(zero + [-1, 0])  # then from 1 to the left: columns 3-4 from those outside ones
    label = np.array([[0, 10, 20, 30, 40]] * 2, np.uint8)
    np.testing.assert_array_equal(chain.warp(label, "ignore"), [[255, 30, 40, 255, 255]] * 2)
    # At the edge: the class where the trace left (column 4 of frame 0 for the right side).
    np.testing.assert_array_equal(chain.warp(label), [[30, 30, 40, 40, 40]] * 2)
    with pytest.raises(AlgesError, match="outside"):
        chain.warp(label, "wrap")


def test_neighbours_stay_in_the_clip_nearest_first() -> None:
    keys = [f"video01/video01_00080/frame_{80 + i}_endo" for i in range(4)]
    keys += [f"video02/video02_00160/frame_{160 + i}_endo" for i in range(3)]
    assert clip_of(keys[0]) == "video01/video01_00080" and clip_of("img7") == ""
    assert clip_neighbours(keys, 1, 5) == ([2, 3], [0])
    assert clip_neighbours(keys, 4, 1) == ([5], [])
    assert clip_neighbours(keys, 6, 2) == ([], [5, 4])
    assert clip_neighbours(keys, 2, 0) == ([], [])
    with pytest.raises(AlgesError, match=">= 0"):
        clip_neighbours(keys, 2, -1)
    with pytest.raises(IndexError):
        clip_neighbours(keys, 7, 1)


def test_a_stopped_run_warps_nothing_more() -> None:
    canvas, label = _scene()
    frames = [_view(canvas, t) for t in range(3)]
    stop = StopFlag()
    run = iter_warped(frames, 0, _view(label, 0), [1, 2], stop=stop)
    assert next(run)[0] == 1
    stop.request()
    assert list(run) == []
    with pytest.raises(AlgesError, match="unknown optical flow"):
        next(iter_warped(frames, 0, _view(label, 0), [1], method="magic"))
