"""ProjectLayers: lazy frames, 2-D overlays that follow the frame axis, schema colours."""

from __future__ import annotations

import numpy as np
import pytest

from alges_napari._qt.layers import (
    ANNOTATION,
    HEAT,
    IGNORE,
    PREDICTION,
    PREDICTION_OPACITY,
    ProjectLayers,
    empty_mask,
)
from alges_napari.core.data.classes import CHOLECSEG8K
from alges_napari.core.data.frames import open_frames


@pytest.fixture
def layers(make_napari_viewer, sample_tree):
    viewer = make_napari_viewer()
    frames = open_frames(sample_tree)
    return ProjectLayers(viewer, frames, CHOLECSEG8K, name="tree"), viewer, frames


def test_layers_are_added_in_order_with_schema_colours(layers) -> None:
    pl, viewer, frames = layers
    assert [ly.name for ly in viewer.layers] == [
        "ALGES frames (tree)",
        PREDICTION,
        HEAT,
        ANNOTATION,
    ]
    assert pl.frames.rgb and pl.frames.data.shape == (16, 64, 96, 3)
    assert pl.frames.data.chunks[0] == (1,) * 16  # lazy: one frame per chunk, decoded on demand
    assert pl.prediction.opacity == pytest.approx(PREDICTION_OPACITY)
    assert not pl.prediction.editable and pl.annotation.editable
    assert not pl.heat.visible  # toggled on demand
    for layer in (pl.prediction, pl.annotation):
        for cls, rgb in enumerate(CHOLECSEG8K.colors):
            rgba = layer.colormap.map(np.array([cls]))[0]
            np.testing.assert_allclose(rgba[:3] * 255, rgb, atol=1)
        assert layer.colormap.map(np.array([IGNORE]))[0][3] == 0  # not labelled: see-through
        assert list(layer.features["class"])[:13] == list(CHOLECSEG8K.names)
    assert viewer.layers.selection.active is pl.annotation


def test_overlays_hold_one_frame_and_follow_the_frame_axis(layers) -> None:
    pl, viewer, frames = layers
    assert viewer.dims.ndim == 3 and pl.axis == 0
    assert viewer.dims.axis_labels == ("frame", "y", "x")  # the slider says "frame"
    for layer in (pl.prediction, pl.heat, pl.annotation):
        assert layer.data.shape == (64, 96)  # bounded memory: never (N, H, W)
        # A 2-D layer is broadcast over the frame axis: same world extent as a frame.
        np.testing.assert_allclose(layer.extent.world[:, -2:], pl.frames.extent.world[:, 1:])
    pl.go_to(7)
    assert viewer.dims.current_step[0] == 7 and pl.current_index() == 7
    frame7 = np.asarray(pl.frames.data[7])
    np.testing.assert_array_equal(frame7, frames[7])
    with pytest.raises(IndexError):
        pl.go_to(16)


def test_show_fills_overlays_and_tracks_edits(layers) -> None:
    pl, viewer, frames = layers
    truth = frames.ground_truth(3)
    heat = np.arange(64 * 96, dtype=np.uint32).reshape(64, 96) % 256
    pl.show(3, None, truth, heat.astype(np.uint8))
    np.testing.assert_array_equal(pl.prediction.data, truth)
    np.testing.assert_array_equal(pl.heat.data, heat)
    np.testing.assert_array_equal(pl.annotation.data, empty_mask((64, 96)))
    assert not pl.edited
    pl.annotation.paint((5, 5), 4)  # napari's brush
    assert pl.edited and pl.annotation_mask()[5, 5] == 4
    pl.mark_saved()
    assert not pl.edited
    pl.show(4, truth, None, None)  # a new frame: its own content, no undo into the last one
    np.testing.assert_array_equal(pl.annotation.data, truth)
    assert (pl.prediction.data == IGNORE).all() and (pl.heat.data == 0).all()
    copy = pl.annotation_mask()
    copy[:] = 1
    assert not (pl.annotation.data == 1).all()  # annotation_mask is a copy
    with pytest.raises(ValueError, match="does not match"):
        pl.set_annotation(np.zeros((10, 10), np.uint8))


def test_an_empty_overlay_is_not_set_again_for_a_frame_without_one(layers) -> None:
    # A frame with no prediction after one with none: no new data, no refresh (a step of the
    # frame slider costs less); one with a prediction, and the next without, still clear it.
    pl, viewer, frames = layers
    sets = {"prediction": 0, "heat": 0}

    def counter(name):
        def count(_event) -> None:
            sets[name] += 1

        return count

    pl.prediction.events.data.connect(counter("prediction"))
    pl.heat.events.data.connect(counter("heat"))
    empty = pl.prediction.data
    pl.show(1, None, None, None)
    pl.show(2, None, None, None)
    assert sets == {"prediction": 0, "heat": 0} and pl.prediction.data is empty
    truth = frames.ground_truth(3)
    heat = np.full((64, 96), 7, np.uint8)
    pl.show(3, None, truth, heat)
    np.testing.assert_array_equal(pl.prediction.data, truth)
    np.testing.assert_array_equal(pl.heat.data, heat)
    pl.show(4, None, None, None)
    assert (pl.prediction.data == IGNORE).all() and (pl.heat.data == 0).all()
    assert sets == {"prediction": 2, "heat": 2}
    pl.show(5, None, None, None)
    assert sets == {"prediction": 2, "heat": 2}


def test_undo_stays_within_the_frame_and_the_tool_is_kept(layers) -> None:
    pl, viewer, frames = layers
    layer = pl.annotation
    truth = frames.ground_truth(3)
    pl.show(3, truth, None, None)
    layer.mode = "paint"
    layer.paint((5, 5), 4)
    layer.paint((9, 9), 4)
    layer.undo()  # undo works within a frame
    assert layer.data[9, 9] == truth[9, 9] and layer.data[5, 5] == 4
    pl.show(4, None, None, None)  # the next frame, with the brush still in hand
    assert str(layer.mode) == "paint" and layer.editable
    for _ in range(3):
        layer.undo()  # nothing of frame 3 comes back into frame 4
    assert (layer.data == IGNORE).all()
    layer.paint((7, 7), 2)
    layer.undo()
    assert (layer.data == IGNORE).all()
    layer.redo()
    assert layer.data[7, 7] == 2


def test_heat_toggle_and_remove(layers) -> None:
    pl, viewer, frames = layers
    pl.set_heat_visible(True)
    assert pl.heat.visible
    viewer.layers.remove(pl.heat)  # the user deleted one; remove() skips it
    pl.remove()
    assert len(viewer.layers) == 0
