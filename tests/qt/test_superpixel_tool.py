"""Superpixel painting through a real napari viewer: a click paints exactly one superpixel."""

from __future__ import annotations

import numpy as np
from qtpy.QtCore import Qt
from skimage.segmentation import slic

from tests.qt.mouse_gestures import gesture as _gesture


def _ready_tool(widget, qtbot):
    qtbot.mouseClick(widget.annotate.superpixels, Qt.MouseButton.LeftButton)
    tool = widget.superpixels
    assert tool.enabled and widget.annotate.superpixels.isChecked()
    tool.wait()
    assert tool.labels() is not None
    return tool


def test_a_click_paints_exactly_the_superpixel_under_the_cursor(project_widget, qtbot) -> None:
    widget, viewer = project_widget
    layer = widget.layers.annotation
    tool = _ready_tool(widget, qtbot)
    assert layer.mode == "pan_zoom" and not layer.mouse_pan  # a drag paints, it does not pan
    project = widget.project
    index = project.frames.index_of(widget.current_key)
    frame = np.asarray(project.frames.frame(widget.current_key))
    # The superpixels, computed here independently with the documented settings ("fine":
    # about 16 x 16 pixels each; SLIC in CIELAB, compactness 10, connected regions).
    expect_sp = slic(
        frame,
        n_segments=round(frame.shape[0] * frame.shape[1] / 256),
        compactness=10.0,
        start_label=0,
        channel_axis=-1,
        enforce_connectivity=True,
    )
    np.testing.assert_array_equal(tool.labels(), expect_sp)
    qtbot.mouseClick(widget.annotate.palette.buttons[5], Qt.MouseButton.LeftButton)
    assert layer.selected_label == 5
    before = np.array(layer.data)
    paints: list[object] = []
    layer.events.paint.connect(paints.append)
    row, col = 30, 40
    _gesture(layer, [(index, row, col)])
    expect = before.copy()
    expect[expect_sp == expect_sp[row, col]] = 5
    np.testing.assert_array_equal(layer.data, expect)
    assert len(paints) == 1  # one edit action
    layer.undo()
    np.testing.assert_array_equal(layer.data, before)  # one undo restores it

    # A drag paints every superpixel it crosses, and is one undo step too.
    path = [(index, 10, c) for c in range(5, 90, 4)]
    _gesture(layer, path)
    expect = before.copy()
    for _, r, c in path:
        expect[expect_sp == expect_sp[r, c]] = 5
    np.testing.assert_array_equal(layer.data, expect)
    assert len(paints) == 2  # the click, then the drag (an undo is no paint event)
    layer.undo()
    np.testing.assert_array_equal(layer.data, before)


def test_shift_is_the_plain_brush_and_napari_tools_switch_the_mode_off(
    project_widget, qtbot
) -> None:
    widget, viewer = project_widget
    layer = widget.layers.annotation
    tool = _ready_tool(widget, qtbot)
    widget.choose_class(3)
    layer.brush_size = 5
    before = np.array(layer.data)
    index = widget.project.frames.index_of(widget.current_key)
    _gesture(layer, [(index, 32, 48)], modifiers=("Shift",))
    reference = layer.data.copy()
    layer.undo()
    np.testing.assert_array_equal(layer.data, before)
    layer.paint((32, 48), 3)  # napari's brush itself, at the same place
    np.testing.assert_array_equal(reference, layer.data)
    rows, cols = np.nonzero(reference != before)
    assert rows.size and np.hypot(rows - 32, cols - 48).max() <= 3  # a disc, not a superpixel
    layer.mode = "paint"  # the user picks napari's brush: the superpixel mode gives way
    assert not tool.enabled and not widget.annotate.superpixels.isChecked()
    assert tool._callback not in layer.mouse_drag_callbacks


def test_superpixels_are_computed_per_frame_and_coarseness_and_kept(project_widget, qtbot) -> None:
    widget, _viewer = project_widget
    tool = _ready_tool(widget, qtbot)
    fine = tool.labels()
    widget.annotate.coarseness.setCurrentIndex(widget.annotate.coarseness.findData("coarse"))
    assert tool.coarseness == "coarse"
    tool.wait()
    coarse = tool.labels()
    assert coarse is not None and coarse.max() < fine.max()
    assert len(tool.cache) == 2
    widget.next_frame()
    tool.wait()
    assert len(tool.cache) == 3 and tool.labels() is not None
