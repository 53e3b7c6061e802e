"""The GrabCut box through a real napari viewer: a drag paints GrabCut's object in the box with
the selected class, as one undo step; the mode excludes superpixel painting."""

from __future__ import annotations

import numpy as np
from qtpy.QtCore import Qt

from alges_napari.core.data.grabcut import clip_box, grabcut_box
from tests.qt.mouse_gestures import gesture


def test_a_box_drag_paints_the_grabcut_object_in_one_undo_step(project_widget, qtbot) -> None:
    widget, _viewer = project_widget
    layer = widget.layers.annotation
    button = widget.annotate.grabcut
    assert button.isEnabled()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    tool = widget.superpixels.grabcut
    assert tool.enabled and button.isChecked()
    assert layer.mode == "pan_zoom" and not layer.mouse_pan  # a drag draws the box
    qtbot.mouseClick(widget.annotate.palette.buttons[3], Qt.MouseButton.LeftButton)
    assert layer.selected_label == 3
    index = widget.project.frames.index_of(widget.current_key)
    frame = np.asarray(widget.project.frames[index])
    start, middle, end = (20.4, 30.2), (60.0, 100.0), (110.7, 170.1)
    expect_region = grabcut_box(frame, (start, end))  # the core, tested on its own
    assert expect_region.any()
    top, left, bottom, right = clip_box((start, end), frame.shape)
    assert expect_region[top:bottom, left:right].sum() == expect_region.sum()
    before = np.array(layer.data)
    paints: list[object] = []
    layer.events.paint.connect(paints.append)

    gesture(layer, [(index, *start), (index, *middle), (index, *end)])

    expect = before.copy()
    expect[expect_region] = 3
    np.testing.assert_array_equal(layer.data, expect)
    assert (layer.data != before).any()
    assert len(paints) == 1  # one edit action
    layer.undo()
    np.testing.assert_array_equal(layer.data, before)  # one undo restores all of it

    # a click is no box: nothing painted, no history
    gesture(layer, [(index, 50, 50)])
    np.testing.assert_array_equal(layer.data, before)
    assert len(paints) == 1


def test_grabcut_and_superpixel_modes_exclude_each_other_and_napari_tools_win(
    project_widget, qtbot
) -> None:
    widget, _viewer = project_widget
    layer = widget.layers.annotation
    a = widget.annotate
    superpixels, grabcut = widget.superpixels, widget.superpixels.grabcut
    qtbot.mouseClick(a.superpixels, Qt.MouseButton.LeftButton)
    assert superpixels.enabled and not grabcut.enabled
    qtbot.mouseClick(a.grabcut, Qt.MouseButton.LeftButton)
    assert grabcut.enabled and not superpixels.enabled
    assert a.grabcut.isChecked() and not a.superpixels.isChecked()
    assert not layer.mouse_pan and layer.mouse_drag_callbacks.count(grabcut._callback) == 1
    assert superpixels._callback not in layer.mouse_drag_callbacks
    qtbot.mouseClick(a.superpixels, Qt.MouseButton.LeftButton)
    assert superpixels.enabled and not grabcut.enabled and not a.grabcut.isChecked()
    assert grabcut._callback not in layer.mouse_drag_callbacks and not layer.mouse_pan
    qtbot.mouseClick(a.grabcut, Qt.MouseButton.LeftButton)
    layer.mode = "paint"  # napari's brush: the mode goes off
    assert not grabcut.enabled and not a.grabcut.isChecked()
    assert grabcut._callback not in layer.mouse_drag_callbacks
    widget.close_project()
    assert not a.grabcut.isEnabled()
