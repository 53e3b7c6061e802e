"""GrabCut regions (core/data/grabcut.py) on constructed frames: a red disc on a green texture."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from alges_napari.core.data.grabcut import (
    BAND,
    MIN_BOX_SIDE,
    clip_box,
    grabcut_box,
    grabcut_refine,
)
from alges_napari.core.errors import AlgesError
from tests.core.data.disc_frames import disc_frame


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / (a | b).sum())


def test_clip_box_takes_the_pixels_whose_centres_lie_in_the_box_in_either_corner_order() -> None:
    # rows 2.4..10.5 hold the centres 3..10, cols 3.6..7 the centres 4..7
    assert clip_box(((2.4, 3.6), (10.5, 7.0)), (20, 30)) == (3, 4, 11, 8)
    assert clip_box(((10.5, 7.0), (2.4, 3.6)), (20, 30)) == (3, 4, 11, 8)
    assert clip_box(((10.5, 3.6), (2.4, 7.0)), (20, 30, 3)) == (3, 4, 11, 8)
    # a frame index in front (napari's 3-D data coordinates) is dropped
    assert clip_box(((4, 2.4, 3.6), (4, 10.5, 7.0)), (20, 30)) == (3, 4, 11, 8)
    # clipped to the frame
    assert clip_box(((-5, -7.5), (25, 40)), (20, 30)) == (0, 0, 20, 30)


@pytest.mark.parametrize(
    ("box", "covers"),
    [
        (((5, 5), (5, 5)), "1 x 1"),  # a click
        (((5, 5), (6.4, 40)), "2 x 35"),  # a thin line, clipped at col 39
        (((-30, -30), (-2, -2)), "0 x 0"),  # outside the frame
        (((18.6, 10), (40, 20)), "1 x 11"),  # clipped to one row
    ],
)
def test_a_degenerate_box_is_an_error_naming_the_box(box, covers) -> None:
    image, _ = disc_frame(20, 40, (10, 20), 5)
    with pytest.raises(AlgesError) as err:
        grabcut_box(image, box)
    (r0, c0), (r1, c1) = box
    message = str(err.value)
    assert f"GrabCut box from ({r0:g}, {c0:g}) to ({r1:g}, {c1:g})" in message
    assert f"covers {covers} pixels of the 20 x 40 frame" in message
    assert f"{MIN_BOX_SIDE} x {MIN_BOX_SIDE}" in message


def test_a_box_around_the_disc_recovers_it_and_nothing_outside_the_box() -> None:
    image, disc = disc_frame()
    box = ((50, 85), (150, 195))  # 101 x 111 px around the disc of radius 40 at (100, 140)
    region = grabcut_box(image, box)
    assert region.dtype == bool and region.shape == disc.shape
    assert _iou(region, disc) > 0.9
    top, left, bottom, right = clip_box(box, image.shape)
    outside = np.ones_like(region)
    outside[top:bottom, left:right] = False
    assert not region[outside].any()
    np.testing.assert_array_equal(grabcut_box(image, box), region)  # the same every time


def test_a_box_past_the_frame_edge_is_clipped_and_still_recovers_a_disc_at_the_corner() -> None:
    image, disc = disc_frame(120, 160, centre=(20, 25), radius=30)  # cut off by the frame
    region = grabcut_box(image, ((-40, -50), (60, 70)))
    assert _iou(region, disc) > 0.9
    np.testing.assert_array_equal(region, grabcut_box(image, ((0, 0), (60, 70))))


def test_a_large_crop_is_shrunk_and_the_region_comes_back_at_full_size() -> None:
    image, disc = disc_frame(480, 854, centre=(240, 400), radius=150)
    region = grabcut_box(image, ((70, 230), (410, 570)), max_side=96)  # crop ~ 510 px: shrunk
    assert region.shape == (480, 854)
    assert _iou(region, disc) > 0.9


def test_grey_and_float_frames_are_accepted() -> None:
    image, disc = disc_frame()
    grey = image.mean(-1)  # float in 0..255: the disc is brighter than the background
    assert _iou(grabcut_box(grey, ((50, 85), (150, 195))), disc) > 0.9
    unit = image.astype(np.float32) / 255.0
    assert _iou(grabcut_box(unit, ((50, 85), (150, 195))), disc) > 0.9
    with pytest.raises(AlgesError, match=r"\(H, W\) or \(H, W, 3\) frame, got shape \(4, 5, 2\)"):
        grabcut_box(np.zeros((4, 5, 2)), ((0, 0), (3, 4)))


def test_a_box_over_the_whole_frame_gives_a_region_inside_it() -> None:
    image, disc = disc_frame(80, 100, centre=(40, 50), radius=25)
    region = grabcut_box(image, ((0, 0), (79, 99)))
    assert region.shape == (80, 100)
    assert _iou(region, disc) > 0.8  # the frame's rim is the only background seed


def test_refine_moves_a_shifted_smaller_prediction_onto_the_disc() -> None:
    image, disc = disc_frame()
    rr, cc = np.mgrid[: disc.shape[0], : disc.shape[1]]
    labels = np.zeros(disc.shape, np.int32)
    labels[(rr - 106) ** 2 + (cc - 132) ** 2 <= 30**2] = 3  # 10 px smaller, 10 px off
    labels[:10, :10] = 1  # another class: left alone
    guess = labels == 3
    assert _iou(guess, disc) < 0.6
    region = grabcut_refine(image, labels, 3)
    assert _iou(region, disc) > 0.9
    # it can grow into the band, never past it
    assert not region[ndimage.distance_transform_edt(~guess) > BAND].any()


def test_refine_errors_name_the_class_or_the_shapes() -> None:
    image, disc = disc_frame(40, 60, (20, 30), 8)
    labels = disc.astype(np.int32)
    with pytest.raises(AlgesError, match="class 2 has no pixel in the annotation"):
        grabcut_refine(image, labels, 2)
    with pytest.raises(AlgesError, match=r"labels of shape \(40, 59\) do not match .*\(40, 60\)"):
        grabcut_refine(image, labels[:, :59], 1)
    with pytest.raises(AlgesError, match="band must be at least 1 pixel, got 0"):
        grabcut_refine(image, labels, 1, band=0)
