"""Intelligent scissors (core/data/scissors.py) on constructed frames: a textured red disc on a
textured green frame, and plain rectangles whose outlines are known exactly."""

from __future__ import annotations

import numpy as np
import pytest

from alges_napari.core.data.scissors import (
    MIN_ANCHORS,
    LiveWire,
    fill_outline,
    scissors_region,
    trace,
)
from alges_napari.core.errors import AlgesError
from tests.core.data.disc_frames import disc_frame


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / (a | b).sum())


def test_fill_outline_fills_a_square_and_keeps_its_outline() -> None:
    outline = np.array([(2, 3), (2, 8), (6, 8), (6, 3)])
    # a closed polygon of corner points is filled with its edges: rows 2..6, cols 3..8
    expected = np.zeros((10, 12), bool)
    expected[2:7, 3:9] = True
    assert np.array_equal(fill_outline((10, 12), outline), expected)


def test_a_leg_runs_from_the_anchor_to_the_target_in_8_connected_steps() -> None:
    image, _ = disc_frame()
    wire = LiveWire(image)
    assert wire.shape == (200, 300) and wire.anchor is None
    assert wire.set_anchor((60.4, 139.6)) == (60, 140)  # rounded to the pixel
    path = wire.path_to((100, 180))
    assert path.dtype == np.int64 and path.shape[1] == 2
    assert tuple(path[0]) == (60, 140) and tuple(path[-1]) == (100, 180)
    steps = np.abs(np.diff(path, axis=0))
    assert steps.max() == 1 and (steps.sum(1) > 0).all()  # no jump, no repeated pixel


def test_the_legs_between_anchors_on_a_disc_follow_its_edge() -> None:
    image, disc = disc_frame()  # radius 40 at (100, 140)
    # four clicks a few pixels off the edge, as a hand places them
    anchors = [(62, 141), (99, 178), (137, 139), (101, 103)]
    outline = trace(image, anchors)
    radius = np.hypot(outline[:, 0] - 100, outline[:, 1] - 140)
    # the outline hugs the edge between the clicks (a straight chord would cut 12 px inside)
    assert np.median(np.abs(radius - 40)) <= 1.5 and radius.min() >= 34
    for a in anchors:  # every anchor once, in the order clicked
        assert int(np.count_nonzero((outline == a).all(1))) == 1
    firsts = [int(np.nonzero((outline == a).all(1))[0][0]) for a in anchors]
    assert firsts == sorted(firsts) and firsts[0] == 0
    region = scissors_region(image, anchors)
    assert region.shape == disc.shape and _iou(region, disc) > 0.93
    # the polygon through the same four clicks misses the disc's round sides
    polygon = fill_outline(disc.shape, np.array(anchors))
    assert _iou(polygon, disc) < 0.7


def test_a_live_wire_is_reused_and_gives_what_a_fresh_one_gives() -> None:
    image, _ = disc_frame()
    anchors = [(62, 141), (99, 178), (137, 139), (101, 103)]
    wire = LiveWire(image)
    once = scissors_region(wire, anchors)
    assert np.array_equal(scissors_region(wire, anchors), once)
    assert np.array_equal(scissors_region(image, anchors), once)
    # floats in [0, 1] are the same frame as its uint8
    assert np.array_equal(scissors_region(image / 255.0, anchors), once)


def test_anchors_outside_the_frame_are_clipped_to_it() -> None:
    image = np.zeros((40, 50, 3), np.uint8)
    image[10:30, 15:35] = 220
    outline = trace(image, [(-5, -5), (-5, 60), (50, 60), (50, -5)])
    for corner in [(0, 0), (0, 49), (39, 49), (39, 0)]:  # each anchor, clipped to a corner
        assert (outline == corner).all(1).any()
    assert outline.min() == 0 and outline[:, 0].max() == 39 and outline[:, 1].max() == 49


@pytest.mark.parametrize("anchors", [[], [(5, 5)], [(5, 5), (9, 9)]])
def test_fewer_than_three_anchors_is_an_error_naming_the_count(anchors) -> None:
    image, _ = disc_frame(40, 50, (20, 25), 8)
    with pytest.raises(AlgesError, match=f"at least {MIN_ANCHORS} anchors.*got {len(anchors)}"):
        scissors_region(image, anchors)


def test_a_point_that_is_not_finite_and_a_path_before_an_anchor_are_errors() -> None:
    image, _ = disc_frame(40, 50, (20, 25), 8)
    wire = LiveWire(image)
    with pytest.raises(AlgesError, match="click an anchor"):
        wire.path_to((3, 3))
    with pytest.raises(AlgesError, match=r"anchor \(nan, 3\)"):
        wire.set_anchor((float("nan"), 3))
    with pytest.raises(AlgesError, match="Intelligent scissors needs an"):
        LiveWire(np.zeros((4, 5, 2)))
