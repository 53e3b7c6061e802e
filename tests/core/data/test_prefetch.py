"""The neighbour prefetcher: the frames around the one on screen, exact, within a budget."""

from __future__ import annotations

import time

import numpy as np

from alges_napari.core.data.frames.prefetch import NeighbourPrefetcher
from alges_napari.core.data.frames.video import VideoSource
from tests.core.data.test_video_stream import _sequential, _write_video


def _wait_for(fetch, keys, timeout=20.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if all(fetch.get(k) is not None for k in keys):
            return True
        time.sleep(0.02)
    return False


def test_neighbours_at_a_stride_are_exact_and_bounded(tmp_path) -> None:
    _write_video(tmp_path / "c.mp4")
    frames, _ = _sequential(tmp_path / "c.mp4")
    src = VideoSource(tmp_path / "c.mp4")
    one = frames[0].nbytes
    fetch = NeighbourPrefetcher(src, radius=2, budget_bytes=5 * one)
    try:
        assert fetch.wanted(10, 3) == [13, 7, 16, 4]
        assert fetch.wanted(1, 3) == [4, 7]  # nothing outside the source
        fetch.show(10, step=3)
        assert _wait_for(fetch, [13, 7, 16, 4])
        for j in (13, 7, 16, 4):
            np.testing.assert_array_equal(fetch.get(j), frames[j])
        fetch.show(30, step=5)  # scrubbing on: the budget drops the oldest
        assert _wait_for(fetch, [35, 25, 40, 20])
        for j in (35, 25, 40, 20):
            np.testing.assert_array_equal(fetch.get(j), frames[j])
        assert fetch.held_bytes <= 5 * one
        assert sum(fetch.get(j) is not None for j in (13, 7, 16, 4)) <= 1
    finally:
        fetch.close()
        src.close()
