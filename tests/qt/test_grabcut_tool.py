"""GrabCut through a real napari viewer: a drag paints GrabCut's object in the box with the
selected class, as one undo step, the box drawn while dragging; Space pans; the mode excludes
superpixel painting; Refine edges moves the selected class onto GrabCut's region in one step."""

from __future__ import annotations

import numpy as np
from napari.layers import Shapes
from qtpy.QtCore import QEvent, Qt
from scipy import ndimage

from alges_napari._qt.box_preview import TAG
from alges_napari._qt.grabcut_tool import GrabCutTool
from alges_napari.core.data.classes import IGNORE_INDEX as IGNORE
from alges_napari.core.data.grabcut import clip_box, grabcut_box, grabcut_refine
from tests.qt.mouse_gestures import assert_napari_space_back, gesture, send_mouse, shown_canvas


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
    assert len(_previews(_viewer)) == 1
    layer.mode = "paint"  # napari's brush: the mode goes off, the box preview with it
    assert not grabcut.enabled and not a.grabcut.isChecked() and not _previews(_viewer)
    assert grabcut._callback not in layer.mouse_drag_callbacks
    widget.close_project()
    assert not a.grabcut.isEnabled()


# ---------------------------------------------------------------- the box drawn, Space to pan


def _press_and_move(canvas, start, end, qtbot, steps: int = 4) -> None:
    """Press the left button at ``start`` and move to ``end`` (no release).

    napari throttles mouse moves (a 5 ms timer): each move waits past it, so every one, the
    last included, reaches the layer as a user's slower moves do.
    """
    left, none = Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton
    send_mouse(canvas, QEvent.Type.MouseButtonPress, start, left, left)
    for t in np.linspace(1.0 / steps, 1.0, steps):
        point = tuple(a + t * (b - a) for a, b in zip(start, end, strict=True))
        send_mouse(canvas, QEvent.Type.MouseMove, point, none, left)
        qtbot.wait(20)


def _release(canvas, end) -> None:
    send_mouse(canvas, QEvent.Type.MouseButtonRelease, end, Qt.MouseButton.LeftButton,
          Qt.MouseButton.NoButton)  # fmt: skip


def _corner_spy(layer) -> list:
    """A drag callback after the tool's that records the world positions of press and release."""
    corners: list = []

    def spy(_layer, event):
        corners.append(tuple(event.position))
        yield
        while event.type == "mouse_move":
            yield
        corners.append(tuple(event.position))

    layer.mouse_drag_callbacks.append(spy)
    return corners


def _data(layer, world) -> tuple[float, float]:
    return tuple(float(v) for v in np.asarray(layer.world_to_data(world), float)[-2:])


def _previews(viewer) -> list:
    return [layer for layer in viewer.layers if layer.metadata.get("alges") == TAG]


def test_the_box_is_drawn_while_dragging_and_gone_on_release(project_widget, qtbot) -> None:
    widget, viewer = project_widget
    layer = widget.layers.annotation
    n_layers = len(viewer.layers)
    qtbot.mouseClick(widget.annotate.grabcut, Qt.MouseButton.LeftButton)
    tool = widget.superpixels.grabcut
    (preview,) = _previews(viewer)
    assert isinstance(preview, Shapes) and len(preview.data) == 0  # nothing drawn yet
    assert viewer.layers[-1] is preview and viewer.layers.selection.active is layer
    # clicking the preview in the layer list leaves the annotation active (drags stay the mode's)
    viewer.layers.selection.active = preview
    assert viewer.layers.selection.active is layer
    # the button turns the mode off and takes the preview out (napari's tools do too: the
    # exclusion test; not here, as closing a project after napari's brush cursor was drawn on
    # an Xvfb canvas crashes vispy, with or without this tool)
    qtbot.mouseClick(widget.annotate.grabcut, Qt.MouseButton.LeftButton)
    assert not tool.enabled and not _previews(viewer) and len(viewer.layers) == n_layers
    qtbot.mouseClick(widget.annotate.grabcut, Qt.MouseButton.LeftButton)
    assert tool.enabled and layer.mode == "pan_zoom"
    (preview,) = _previews(viewer)
    qtbot.mouseClick(widget.annotate.palette.buttons[2], Qt.MouseButton.LeftButton)
    index = widget.project.frames.index_of(widget.current_key)
    frame = np.asarray(widget.project.frames[index])
    canvas = shown_canvas(viewer, qtbot)
    corners = _corner_spy(layer)
    w, h = canvas.width(), canvas.height()
    start, end = (0.3 * w, 0.3 * h), (0.7 * w, 0.7 * h)  # the frame fills the canvas's middle
    before = np.array(layer.data)

    _press_and_move(canvas, start, end, qtbot)
    # mid-drag: one rectangle, an outline, from the press to the cursor
    (preview,) = _previews(viewer)
    assert viewer.layers[-1] is preview
    box = tool.preview.box
    assert box is not None and list(preview.shape_type) == ["rectangle"]
    (press,) = corners
    cursor = _data(layer, viewer.cursor.position)
    a = _data(layer, press)
    np.testing.assert_allclose(box.min(0), np.minimum(a, cursor), atol=1e-9)
    np.testing.assert_allclose(box.max(0), np.maximum(a, cursor), atol=1e-9)
    assert np.all(np.asarray(preview.face_color)[:, 3] == 0)  # no fill: the frame shows through
    np.testing.assert_allclose(preview.edge_width, [2.0 / viewer.scene.camera.zoom])
    np.testing.assert_array_equal(layer.data, before)  # nothing painted before the release
    assert viewer.layers.selection.active is layer

    _release(canvas, end)
    assert tool.preview.box is None and len(preview.data) == 0  # the rectangle is gone
    b = _data(layer, corners[1])
    # the rectangle drawn last is the box the release cuts: the user saw what they got
    np.testing.assert_allclose(box.min(0), np.minimum(a, b), atol=1e-9)
    np.testing.assert_allclose(box.max(0), np.maximum(a, b), atol=1e-9)
    expect_region = grabcut_box(frame, (a, b))
    assert expect_region.any()
    expect = before.copy()
    expect[expect_region] = 2
    np.testing.assert_array_equal(layer.data, expect)
    assert widget.project.labelled_keys() == []  # nothing saved
    widget.close_project()  # the preview goes with the project's layers
    assert len(viewer.layers) == 0


def test_holding_space_pans_instead_of_boxing(project_widget, qtbot, messages) -> None:
    widget, viewer = project_widget
    layer = widget.layers.annotation
    qtbot.mouseClick(widget.annotate.grabcut, Qt.MouseButton.LeftButton)
    tool = widget.superpixels.grabcut
    qtbot.mouseClick(widget.annotate.palette.buttons[4], Qt.MouseButton.LeftButton)
    index = widget.project.frames.index_of(widget.current_key)
    frame = np.asarray(widget.project.frames[index])
    canvas = shown_canvas(viewer, qtbot)
    camera = viewer.scene.camera
    w, h = canvas.width(), canvas.height()
    start, end = (0.3 * w, 0.3 * h), (0.7 * w, 0.7 * h)
    before = np.array(layer.data)
    assert not camera.mouse_pan and not layer.mouse_pan

    qtbot.keyPress(canvas, Qt.Key.Key_Space)
    assert tool.panning and layer.mouse_pan and camera.mouse_pan
    center = tuple(camera.center)
    _press_and_move(canvas, start, end, qtbot)
    assert tool.preview.box is None  # a pan draws no box
    _release(canvas, end)
    qtbot.waitUntil(lambda: tuple(camera.center) != center, timeout=5_000)
    np.testing.assert_array_equal(layer.data, before)  # panned, nothing painted

    qtbot.keyRelease(canvas, Qt.Key.Key_Space)
    assert not tool.panning and not camera.mouse_pan and not layer.mouse_pan and tool.enabled
    center = tuple(camera.center)
    corners = _corner_spy(layer)
    _press_and_move(canvas, start, end, qtbot)
    assert tool.preview.box is not None  # boxing again
    _release(canvas, end)
    assert tuple(camera.center) == center  # the drag boxed, it did not pan
    expect_region = grabcut_box(frame, (_data(layer, corners[0]), _data(layer, corners[1])))
    expect = before.copy()
    expect[expect_region] = 4
    np.testing.assert_array_equal(layer.data, expect)
    if expect_region.any():  # the pan moved the frame: the same canvas box may hold no object
        layer.undo()
        np.testing.assert_array_equal(layer.data, before)
    else:
        assert any("GrabCut found no object in the box" in m for m in messages)

    assert_napari_space_back(layer, tool, canvas, qtbot)  # the mode off


# ---------------------------------------------------------------- Refine edges


def test_refine_edges_moves_the_selected_class_onto_grabcut_in_one_undo_step(
    project_widget, qtbot
) -> None:
    widget, _viewer = project_widget
    layer, project = widget.layers.annotation, widget.project
    key = widget.current_key
    frame = np.asarray(project.frames.frame(key))
    truth = np.asarray(project.frames.truth(key))
    classes, counts = np.unique(truth[truth != IGNORE], return_counts=True)
    cls = int(classes[np.argmax(counts * (classes != 0))])  # the largest class but 0
    # a rough painting: the class grown by 3 px, over a background of class 0
    rough = np.where(ndimage.binary_dilation(truth == cls, iterations=3), cls, 0).astype(np.uint8)
    rough[:2, :] = IGNORE  # some unlabelled pixels too: they must stay so unless GrabCut adds them
    widget.layers.set_annotation(rough)
    qtbot.mouseClick(widget.annotate.palette.buttons[cls], Qt.MouseButton.LeftButton)
    assert layer.selected_label == cls
    region = grabcut_refine(frame, rough, cls)  # the core, tested on its own
    expect = rough.copy()
    expect[region] = cls
    expect[(rough == cls) & ~region] = IGNORE  # taken away: not labelled, as the eraser paints
    assert (expect != rough).any()
    assert layer.colormap.background_value == IGNORE
    paints: list[object] = []
    layer.events.paint.connect(paints.append)
    button = widget.annotate.refine
    assert button.isEnabled()

    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)

    np.testing.assert_array_equal(layer.data, expect)
    assert len(paints) == 1  # one edit action
    layer.undo()
    np.testing.assert_array_equal(layer.data, rough)  # one undo restores exactly
    layer.redo()
    np.testing.assert_array_equal(layer.data, expect)
    widget.close_project()
    assert not button.isEnabled()


def test_refine_edges_says_why_it_changes_nothing(project_widget, qtbot, messages) -> None:
    widget, _viewer = project_widget
    layer = widget.layers.annotation
    mask = np.full(layer.data.shape, IGNORE, np.uint8)
    mask[10:30, 20:50] = 1
    widget.layers.set_annotation(mask)
    paints: list[object] = []
    layer.events.paint.connect(paints.append)
    qtbot.mouseClick(widget.annotate.palette.buttons[3], Qt.MouseButton.LeftButton)
    qtbot.mouseClick(widget.annotate.refine, Qt.MouseButton.LeftButton)
    assert any("class 3 has no pixel on this frame" in m for m in messages)
    layer.selected_label = IGNORE
    assert widget.superpixels.grabcut.refine() == 0
    assert any("pick a class to refine" in m for m in messages)
    # no frame on screen: nothing to refine
    assert GrabCutTool(layer, lambda: None).refine() == 0
    assert any("no frame is shown" in m for m in messages)
    np.testing.assert_array_equal(layer.data, mask)
    assert paints == []
