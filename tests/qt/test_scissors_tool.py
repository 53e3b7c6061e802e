"""The intelligent scissors through a real napari viewer: clicked anchors, the outline drawn to
the cursor, a double-click closes and paints the core's region with the selected class in one
undo step; Backspace, Escape and too few anchors; the mode excludes the other two."""

from __future__ import annotations

import numpy as np
from napari.layers import Shapes
from napari.utils.interactions import mouse_double_click_callbacks
from qtpy.QtCore import QEvent, Qt

from alges_napari._qt.box_preview import PATH_TAG
from alges_napari._qt.scissors_tool import ScissorsTool
from alges_napari.core.data.scissors import LiveWire, scissors_region
from tests.qt.mouse_gestures import (
    assert_napari_space_back,
    gesture,
    mouse_event,
    send_mouse,
    shown_canvas,
)

#: Four anchors (row, col) around the middle of a 64 x 96 test frame.
ANCHORS = [(10.0, 20.0), (12.0, 75.0), (52.0, 70.0), (50.0, 18.0)]


def _previews(viewer) -> list:
    return [layer for layer in viewer.layers if layer.metadata.get("alges") == PATH_TAG]


def _frame(widget) -> tuple[int, np.ndarray]:
    index = widget.project.frames.index_of(widget.current_key)
    return index, np.asarray(widget.project.frames[index])


def _on(widget, qtbot, cls: int) -> ScissorsTool:
    qtbot.mouseClick(widget.annotate.scissors, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(widget.annotate.palette.buttons[cls], Qt.MouseButton.LeftButton)
    tool = widget.superpixels.scissors
    assert tool.enabled and widget.annotate.scissors.isChecked()
    assert widget.layers.annotation.selected_label == cls
    return tool


def test_clicked_anchors_and_a_double_click_paint_the_outline_in_one_undo_step(
    project_widget, qtbot
) -> None:
    widget, viewer = project_widget
    layer = widget.layers.annotation
    assert widget.annotate.scissors.isEnabled()
    tool = _on(widget, qtbot, 3)
    assert layer.mode == "pan_zoom" and not layer.mouse_pan  # a click is the tool's
    index, frame = _frame(widget)
    expect_region = scissors_region(frame, ANCHORS)  # the core, tested on its own
    assert 0 < expect_region.sum() < expect_region.size
    before = np.array(layer.data)
    paints: list[object] = []
    layer.events.paint.connect(paints.append)

    for anchor in ANCHORS:
        gesture(layer, [(index, *anchor)])  # a click: press and release on the spot
    assert tool.anchors == [(int(r), int(c)) for r, c in ANCHORS]
    np.testing.assert_array_equal(layer.data, before)  # nothing painted before closing
    mouse_double_click_callbacks(layer, mouse_event("mouse_double_click", (index, *ANCHORS[-1])))

    expect = before.copy()
    expect[expect_region] = 3
    np.testing.assert_array_equal(layer.data, expect)
    assert len(paints) == 1 and tool.anchors == []  # one edit action; the outline is done
    layer.undo()
    np.testing.assert_array_equal(layer.data, before)  # one undo restores all of it


def test_the_outline_follows_the_mouse_and_a_qt_double_click_closes_it(
    project_widget, qtbot
) -> None:
    widget, viewer = project_widget
    layer = widget.layers.annotation
    tool = _on(widget, qtbot, 2)
    (preview,) = _previews(viewer)
    assert isinstance(preview, Shapes) and len(preview.data) == 0
    assert viewer.layers.selection.active is layer
    index, frame = _frame(widget)
    canvas = shown_canvas(viewer, qtbot)
    w, h = canvas.width(), canvas.height()
    left, none = Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton
    clicks = [(0.35 * w, 0.35 * h), (0.65 * w, 0.37 * h), (0.62 * w, 0.65 * h), (0.38 * w, 0.6 * h)]
    before = np.array(layer.data)
    for i, point in enumerate(clicks):
        send_mouse(canvas, QEvent.Type.MouseMove, point, none, none)
        qtbot.wait(20)  # napari throttles moves (5 ms)
        if i:  # the leg to the cursor is drawn before the click
            cursor = np.asarray(layer.world_to_data(viewer.cursor.position), float)[-2:]
            drawn = tool.preview.path
            assert drawn is not None and list(preview.shape_type) == ["path"]
            np.testing.assert_allclose(drawn[-1], np.round(cursor), atol=1.0)
        send_mouse(canvas, QEvent.Type.MouseButtonPress, point, left, left)
        send_mouse(canvas, QEvent.Type.MouseButtonRelease, point, left, none)
        qtbot.wait(20)
    assert len(tool.anchors) == 4
    anchors = list(tool.anchors)
    zoom = viewer.scene.camera.zoom
    # the preview runs through every anchor, along the live wire's legs
    drawn = {tuple(p) for p in np.round(tool.preview.path).astype(int)}
    assert set(anchors) <= drawn
    send_mouse(canvas, QEvent.Type.MouseButtonDblClick, clicks[-1], left, left)
    send_mouse(canvas, QEvent.Type.MouseButtonRelease, clicks[-1], left, none)
    qtbot.wait(20)
    expect = before.copy()
    expect[scissors_region(frame, anchors)] = 2
    np.testing.assert_array_equal(layer.data, expect)
    assert (layer.data != before).any() and tool.anchors == []
    assert viewer.scene.camera.zoom == zoom  # napari's double-click zoom is off in the mode
    assert tool.preview.path is None  # the outline is gone from the screen
    assert viewer.layers.selection.active is layer
    assert widget.project.labelled_keys() == []  # nothing saved
    assert_napari_space_back(layer, tool, canvas, qtbot)  # napari's brush turns the mode off
    assert not _previews(viewer)
    names = [cb.__name__ for cb in viewer.mouse_double_click_callbacks]
    assert names.count("double_click_to_zoom") == 1  # napari's zoom is back


def test_backspace_escape_and_too_few_anchors(project_widget, qtbot, messages) -> None:
    widget, viewer = project_widget
    layer = widget.layers.annotation
    tool = _on(widget, qtbot, 4)
    index, frame = _frame(widget)
    before = np.array(layer.data)
    for anchor in ANCHORS[:2]:
        gesture(layer, [(index, *anchor)])
    assert tool.close() == 0  # two anchors enclose nothing
    assert any("at least 3 anchors" in m and "2 clicked" in m for m in messages)
    for anchor in ANCHORS[2:]:
        gesture(layer, [(index, *anchor)])
    gesture(layer, [(index, 30.0, 8.0)])  # a fifth click, taken back with Backspace
    assert len(tool.anchors) == 5
    canvas = shown_canvas(viewer, qtbot)
    qtbot.keyClick(canvas, Qt.Key.Key_Backspace)
    assert tool.anchors == [(int(r), int(c)) for r, c in ANCHORS]
    qtbot.keyClick(canvas, Qt.Key.Key_Return)  # Enter closes as a double-click does
    expect = before.copy()
    expect[scissors_region(frame, ANCHORS)] = 4
    np.testing.assert_array_equal(layer.data, expect)
    # Escape drops an outline; nothing is painted
    for anchor in ANCHORS[:3]:
        gesture(layer, [(index, *anchor)])
    qtbot.keyClick(canvas, Qt.Key.Key_Escape)
    assert tool.anchors == [] and tool.preview.path is None
    assert tool.close() == 0
    np.testing.assert_array_equal(layer.data, expect)


def test_an_outline_begun_on_another_frame_is_dropped(project_widget, qtbot, messages) -> None:
    widget, _viewer = project_widget
    layer = widget.layers.annotation
    tool = _on(widget, qtbot, 3)
    index, _ = _frame(widget)
    for anchor in ANCHORS[:3]:
        gesture(layer, [(index, *anchor)])
    first = widget.current_key
    widget.annotate.next.click()  # the next frame of the queue
    qtbot.waitUntil(lambda: widget.current_key != first, timeout=5_000)
    before = np.array(layer.data)
    assert tool.close() == 0 and tool.anchors == []
    assert any("the frame changed" in m for m in messages)
    np.testing.assert_array_equal(layer.data, before)


def test_scissors_exclude_superpixels_and_grabcut_and_go_with_the_project(
    project_widget, qtbot
) -> None:
    widget, viewer = project_widget
    a = widget.annotate
    layer = widget.layers.annotation
    superpixels, grabcut = widget.superpixels, widget.superpixels.grabcut
    tool = _on(widget, qtbot, 1)
    qtbot.mouseClick(a.grabcut, Qt.MouseButton.LeftButton)
    assert grabcut.enabled and not tool.enabled and not a.scissors.isChecked()
    assert not _previews(viewer) and tool._move not in layer.mouse_move_callbacks
    qtbot.mouseClick(a.scissors, Qt.MouseButton.LeftButton)
    assert tool.enabled and not grabcut.enabled and len(_previews(viewer)) == 1
    assert layer.mouse_drag_callbacks.count(tool._callback) == 1
    qtbot.mouseClick(a.superpixels, Qt.MouseButton.LeftButton)
    assert superpixels.enabled and not tool.enabled
    assert tool._double not in layer.mouse_double_click_callbacks
    qtbot.mouseClick(a.scissors, Qt.MouseButton.LeftButton)
    assert tool.enabled and not superpixels.enabled
    widget.close_project()
    assert not a.scissors.isEnabled() and not _previews(viewer)


def test_a_live_wire_per_outline_not_per_click(project_widget, qtbot, monkeypatch) -> None:
    # The frame's features are computed once per outline; each click builds one map.
    widget, _viewer = project_widget
    layer = widget.layers.annotation
    _on(widget, qtbot, 3)
    index, _ = _frame(widget)
    made: list[LiveWire] = []
    maps: list[tuple[int, int]] = []
    real_init, real_anchor = LiveWire.__init__, LiveWire.set_anchor

    def init(self, image):
        made.append(self)
        real_init(self, image)

    def set_anchor(self, point):
        maps.append(real_anchor(self, point))
        return maps[-1]

    monkeypatch.setattr(LiveWire, "__init__", init)
    monkeypatch.setattr(LiveWire, "set_anchor", set_anchor)
    for anchor in ANCHORS:
        gesture(layer, [(index, *anchor)])
    assert len(made) == 1 and len(maps) == len(ANCHORS)
