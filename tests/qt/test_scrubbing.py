"""Scrubbing a video in the viewer: the frames around the one on screen are decoded ahead, in
the background, so the next step of the slider is served from memory (issue 26, item 3)."""

from __future__ import annotations

import time

import numpy as np

from alges_napari._qt.layers import ProjectLayers
from alges_napari.core.data.classes import CHOLECSEG8K
from alges_napari.core.data.frames import open_frames
from tests.core.data.test_video_stream import _sequential, _write_video


def test_stepping_the_slider_reads_prefetched_frames(make_napari_viewer, tmp_path) -> None:
    _write_video(tmp_path / "c.mp4", n=47, gop=10)
    truth, _ = _sequential(tmp_path / "c.mp4")
    viewer = make_napari_viewer()
    frames = open_frames(str(tmp_path / "c.mp4"), stride=3)  # frames 0, 3, 6, ... of the file
    layers = ProjectLayers(viewer, frames, CHOLECSEG8K, name="clip")
    fetch = layers.prefetcher
    assert fetch is not None  # a video gets one; a folder reads fast enough without
    try:
        layers.go_to(4)
        np.testing.assert_array_equal(np.asarray(layers.frames.data[4]), truth[12])
        end = time.monotonic() + 20
        while time.monotonic() < end and any(fetch.get(j) is None for j in (5, 3, 6, 2)):
            time.sleep(0.02)
        for j in (5, 3, 6, 2):  # one and two steps either side, exact
            np.testing.assert_array_equal(fetch.get(j), truth[3 * j])
        reads = []
        random_access = frames._read
        frames._read = lambda i: reads.append(i) or random_access(i)  # the on-demand path
        layers.go_to(5)  # the next step: served from memory, no read on demand
        np.testing.assert_array_equal(np.asarray(layers.frames.data[5]), truth[15])
        assert reads == []
        np.testing.assert_array_equal(np.asarray(layers.frames.data[40 // 3]), truth[39])
        assert reads == [13]  # a jump far away is read on demand, exactly
        layers.go_to(14)
        np.testing.assert_array_equal(np.asarray(layers.frames.data[13]), truth[39])
        assert reads == [13]  # and kept: the step back to it reads nothing
    finally:
        layers.remove()
    assert fetch.held_bytes == 0  # closed with the layers
