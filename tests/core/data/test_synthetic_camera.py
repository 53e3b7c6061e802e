"""The synthetic camera: its gather through a pan, zoom and roll, its clamp, its highlight."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from alges_napari.core.data.synthetic import BenchmarkClip, SyntheticClip, plan_benchmark
from alges_napari.core.data.synthetic.camera import View, add_specular, look
from alges_napari.core.data.synthetic.scene import SLOPE_SCALE

CH, CW = 10, 12  # canvas
H, W = 4, 6  # frame
YS = np.arange(H) - H / 2 + 0.5  # frame pixel offsets from the frame centre
XS = np.arange(W) - W / 2 + 0.5


def numbered_canvas() -> np.ndarray:
    """A canvas whose every pixel holds its own flat index, so a gather shows where it read."""
    return np.arange(CH * CW, dtype=np.uint64)


def read_positions(view: View) -> tuple[np.ndarray, np.ndarray]:
    """(row, column) of the canvas pixel behind each frame pixel."""
    flat = view.pixels.reshape(H, W * 8).view(np.uint64)
    return flat // CW, flat % CW


def test_a_still_camera_sees_the_crop_around_its_centre() -> None:
    view = look(numbered_canvas(), (CH, CW), (H, W), (5.0, 6.0, 1.0, 0.0))
    rows, cols = read_positions(view)
    # Pixel centres 3.5 .. 6.5 and 3.5 .. 8.5 fall in canvas rows 3-6 and columns 3-8.
    np.testing.assert_array_equal(rows, np.repeat([[3], [4], [5], [6]], W, axis=1))
    np.testing.assert_array_equal(cols, np.repeat([[3, 4, 5, 6, 7, 8]], H, axis=0))
    np.testing.assert_array_equal(view.dx, np.broadcast_to(XS, (H, W)))
    np.testing.assert_array_equal(view.dy, np.broadcast_to(YS[:, None], (H, W)))


def test_zoom_shrinks_the_footprint_and_roll_turns_it() -> None:
    rows, cols = read_positions(look(numbered_canvas(), (CH, CW), (H, W), (5.0, 6.0, 2.0, 0.0)))
    np.testing.assert_array_equal(rows[:, 0], np.floor(5.0 + YS / 2))  # 4, 4, 5, 5
    np.testing.assert_array_equal(cols[0], np.floor(6.0 + XS / 2))  # 4, 5, 5, 6, 6, 7
    # A quarter turn: frame column c reads canvas row 5 + XS[c], frame row r column 6 - YS[r].
    rows, cols = read_positions(
        look(numbered_canvas(), (CH, CW), (H, W), (5.0, 6.0, 1.0, np.pi / 2))
    )
    np.testing.assert_array_equal(rows, np.repeat([[2, 3, 4, 5, 6, 7]], H, axis=0))
    np.testing.assert_array_equal(cols, np.repeat([[7], [6], [5], [4]], W, axis=1))


@pytest.mark.parametrize(
    ("centre", "want_rows", "want_cols"),
    [
        # Rays at -1.5 .. 1.5 and -2.5 .. 2.5 from the top-left corner: those before it read it.
        ((0.0, 0.0), [0, 0, 0, 1], [0, 0, 0, 0, 1, 2]),
        # From the bottom-right corner, rays past it read the last row and column.
        ((10.0, 12.0), [8, 9, 9, 9], [9, 10, 11, 11, 11, 11]),
    ],
)
def test_rays_off_the_canvas_read_its_nearest_edge(centre, want_rows, want_cols) -> None:
    rows, cols = read_positions(look(numbered_canvas(), (CH, CW), (H, W), (*centre, 1.0, 0.0)))
    np.testing.assert_array_equal(rows, np.repeat(np.array(want_rows)[:, None], W, axis=1))
    np.testing.assert_array_equal(cols, np.repeat(np.array([want_cols]), H, axis=0))


def test_the_highlight_is_the_gloss_where_slope_and_ray_agree() -> None:
    pixels = np.zeros((1, 2, 8), np.uint8)
    pixels[0, 1, 4] = 5  # an x slope of 5 / SLOPE_SCALE
    gloss = np.array([[200, 200]], np.uint8)
    straight = np.zeros((1, 2), np.float32)
    image = np.full((1, 2, 3), 10, np.float32)
    add_specular(image, gloss, View(pixels, straight, straight, 1.0))
    off = np.exp(-((5 / SLOPE_SCALE) ** 2) / 0.012)  # about 0.405
    np.testing.assert_allclose(image[0, :, 0], [10 + 200 * 1.6, 10 + 200 * 1.6 * off], rtol=1e-6)
    # A ray tilted like the slope (zoom 2.2 over a 2-pixel frame: the ray is dx itself) mirrors.
    tilted = np.array([[0, 5 / SLOPE_SCALE]], np.float32)
    image = np.full((1, 2, 3), 10, np.float32)
    add_specular(image, gloss, View(pixels, tilted, straight, 2.2))
    np.testing.assert_allclose(image[0, :, 2], [10 + 200 * 1.6, 10 + 200 * 1.6], rtol=1e-6)


def digest(clip, n_frames: int) -> str:
    h = hashlib.sha256()
    for i in range(n_frames):
        frame, mask = clip.frame(i)
        h.update(frame.tobytes())
        h.update(mask.tobytes())
    return h.hexdigest()


def test_both_renderers_draw_the_frames_they_drew_before_sharing_the_camera() -> None:
    """Digests taken from each renderer's own copy of the gather and highlight, before both
    called :mod:`.camera`: sharing it changed no pixel (at sizes whose rays stay on the canvas;
    the default clips' rays leave it only in frames about four times taller than wide)."""
    bench = BenchmarkClip(plan_benchmark(2, 2, 6, seed=3), 1, 0, (48, 64))
    assert digest(bench, 6) == "113503dda431b127ea510011bf5ed1f57c87ce6f2380d30b8d6c99805a7ed7a8"
    clip = SyntheticClip(1, (48, 64), 3)
    assert digest(clip, 6) == "c0106410d7fabedf60886419dd51d537cb3c1e48bdc54bac9266f0ef1855c8ae"
