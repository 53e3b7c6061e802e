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


def test_ahead_follows_the_direction_of_the_step_within_the_budget(tmp_path) -> None:
    _write_video(tmp_path / "c.mp4", n=30)
    src = VideoSource(tmp_path / "c.mp4")
    one = 64 * 96 * 3
    try:
        fetch = NeighbourPrefetcher(src, radius=2, ahead=5, budget_bytes=100 * one)
        try:
            assert fetch.ahead == 5
            assert fetch.wanted(10, 1) == [11, 9, 12, 8, 13, 14, 15]
            assert fetch.wanted(10, -1) == [9, 11, 8, 12, 7, 6, 5]  # Previous: ahead is back
            assert fetch.wanted(10, 4) == [14, 6, 18, 2, 22, 26]  # 30 is past the end
            near, far = {11, 9, 12, 8}, {13, 14, 15}
            assert fetch.due(10, 1, near | far) == []
            assert fetch.due(10, 1, (near - {12}) | far) == [12]  # a near one: fetch now
            assert fetch.due(10, 1, near | {13, 14}) == []  # one of three ahead missing: wait
            assert fetch.due(10, 1, near | {13}) == [14, 15]  # two of three: fetch them
        finally:
            fetch.close()
        # The neighbours behind and the one on screen take their room first: 6 frames leave 3.
        small = NeighbourPrefetcher(src, radius=2, ahead=8, budget_bytes=6 * one)
        try:
            assert small.ahead == 3 and small.wanted(10, 1) == [11, 9, 12, 8, 13]
        finally:
            small.close()
    finally:
        src.close()


def _scrub_forward(path, ahead, stride, steps):
    """Frames decoded while show() steps forward one frame at a time, each step waiting for
    its near neighbours (a viewer reading them); and the frames got, by index."""
    src = VideoSource(path, stride=stride, cache_size=0)
    fetch = NeighbourPrefetcher(src, radius=2, ahead=ahead, budget_bytes=64 << 20)
    got = {}
    try:
        for i in range(steps):
            fetch.show(i, 1)
            near = [j for j in (i + 1, i + 2, i - 1, i - 2) if 0 <= j < len(src)]
            assert _wait_for(fetch, near)
            got.update({j: fetch.get(j) for j in near})
        return src.decode_counts["decoded"], got
    finally:
        fetch.close()
        src.close()


def test_scrubbing_forward_decodes_each_gop_about_once(tmp_path) -> None:
    # A keyframe every 40 frames, 1 frame in 5 kept: a GOP holds 8 pool frames. Asking for one
    # new neighbour per step decodes from its keyframe on every step; asking ahead does not.
    _write_video(tmp_path / "c.mp4", n=121, gop=40)
    frames, keyframes = _sequential(tmp_path / "c.mp4")
    assert keyframes == [0, 40, 80, 120]
    ahead, got = _scrub_forward(tmp_path / "c.mp4", ahead=8, stride=5, steps=20)
    near_only, got_near = _scrub_forward(tmp_path / "c.mp4", ahead=2, stride=5, steps=20)
    for j, frame in {**got, **got_near}.items():
        np.testing.assert_array_equal(frame, frames[5 * j])  # exact either way
    spanned = 5 * 21 + 1  # the steps reach pool frame 21: video frames 0..105
    assert ahead <= 1.5 * spanned
    assert near_only > 2 * ahead


def test_a_frame_read_on_demand_is_kept_within_the_budget(tmp_path) -> None:
    _write_video(tmp_path / "c.mp4", n=12)
    frames, _ = _sequential(tmp_path / "c.mp4")
    src = VideoSource(tmp_path / "c.mp4")
    one = frames[0].nbytes
    fetch = NeighbourPrefetcher(src, radius=1, ahead=1, budget_bytes=2 * one)
    try:
        fetch.keep(5, frames[5])
        np.testing.assert_array_equal(fetch.get(5), frames[5])
        fetch.keep(6, frames[6])
        fetch.keep(7, frames[7])  # over the budget: the least recently used goes
        assert fetch.get(5) is None
        np.testing.assert_array_equal(fetch.get(7), frames[7])
        assert fetch.held_bytes == 2 * one
    finally:
        fetch.close()
        src.close()
