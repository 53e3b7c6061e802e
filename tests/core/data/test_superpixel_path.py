"""The pixels and superpixels a drag crosses, against a brute-force test of every pixel square."""

from __future__ import annotations

import numpy as np

from alges_napari.core.data.superpixels import pixels_on_segment, superpixels_along


def _brute_force(start, end, h: int, w: int) -> set[tuple[int, int]]:
    """Pixels (r, c) of an h x w grid whose square [r-.5, r+.5] x [c-.5, c+.5] the segment
    crosses over a positive length (Liang-Barsky clipping of the segment to each square), plus
    the pixels holding its two end points."""
    a, b = np.asarray(start, float), np.asarray(end, float)
    d = b - a
    hit = set()
    for r in range(h):
        for c in range(w):
            lo_t, hi_t = 0.0, 1.0
            for axis, centre in ((0, r), (1, c)):
                lo, hi = centre - 0.5, centre + 0.5
                if d[axis] == 0:
                    if not lo <= a[axis] <= hi:
                        lo_t, hi_t = 1.0, 0.0
                    continue
                t0, t1 = sorted(((lo - a[axis]) / d[axis], (hi - a[axis]) / d[axis]))
                lo_t, hi_t = max(lo_t, t0), min(hi_t, t1)
            if hi_t - lo_t > 1e-12:
                hit.add((r, c))
    for p in (a, b):
        r, c = (int(np.floor(v + 0.5)) for v in p)
        if 0 <= r < h and 0 <= c < w:
            hit.add((r, c))
    return hit


def test_pixels_on_a_segment_are_those_it_crosses() -> None:
    rng = np.random.default_rng(0)
    h, w = 12, 15
    for _ in range(60):
        start, end = rng.uniform(-0.49, [h - 0.51, w - 0.51], (2, 2))
        got = [tuple(p) for p in pixels_on_segment(start, end).tolist()]
        assert len(got) == len(set(got))  # each pixel once
        assert set(got) == _brute_force(start, end, h, w)
        # consecutive pixels touch (4-neighbours, or diagonal through an exact corner)
        steps = np.abs(np.diff(np.asarray(got), axis=0)).sum(axis=1)
        assert np.all(steps >= 1)


def test_a_click_is_the_pixel_under_it_and_a_line_along_a_row_is_that_row() -> None:
    assert pixels_on_segment((2.4, 3.6), (2.4, 3.6)).tolist() == [[2, 4]]
    assert pixels_on_segment((1.0, 0.0), (1.0, 4.0)).tolist() == [[1, c] for c in range(5)]


def test_superpixels_along_a_polyline_match_the_brute_force() -> None:
    rng = np.random.default_rng(1)
    h, w = 20, 24
    labels = rng.integers(0, 50, (h, w))  # every pixel matters
    for _ in range(20):
        points = rng.uniform([-3, -3], [h + 3, w + 3], (4, 2))  # may leave the frame
        expect = set()
        for p, q in zip(points[:-1], points[1:], strict=True):
            expect |= {labels[r, c] for r, c in _brute_force(p, q, h, w)}
        for p in points[:1]:
            r, c = (int(np.floor(v + 0.5)) for v in p)
            if 0 <= r < h and 0 <= c < w:
                expect.add(labels[r, c])
        got = superpixels_along(labels, points)
        assert got.tolist() == sorted(expect)
    assert superpixels_along(labels, np.zeros((0, 2))).size == 0
    assert superpixels_along(labels, [(-5.0, -5.0), (-5.0, 40.0)]).size == 0  # outside
