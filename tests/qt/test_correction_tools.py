"""Correcting a frame in a real viewer: the superpixel overlay, Space to pan, drafts in the
queue, the Propagate key, and undo / redo in the edit count."""

from __future__ import annotations

import numpy as np
import pytest
from napari.components import ViewerModel
from napari.layers import Image, Labels, Points, Shapes, Surface, Tracks, Vectors
from napari.utils.key_bindings import coerce_keybinding
from napari.utils.shortcuts import default_shortcuts
from qtpy.QtCore import QEvent, Qt
from qtpy.QtWidgets import QApplication, QMenu, QMenuBar
from skimage.segmentation import find_boundaries, slic

from alges_napari._qt.annotate_panel import KEYS
from alges_napari._qt.palette import class_key
from alges_napari._qt.propagate_actions import PROPAGATE_KEY
from alges_napari._qt.superpixel_overlay import TAG
from alges_napari._qt.superpixel_tool import COARSENESS_KEY
from alges_napari.core.acquire.queue import QueueEntry
from tests.qt.mouse_gestures import assert_napari_space_back, send_mouse
from tests.qt.test_propagate_panel import accept_truth
from tests.qt.test_superpixel_tool import _gesture, _ready_tool

CTRL = Qt.KeyboardModifier.ControlModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier


def _canvas(viewer):
    canvas = viewer.window._qt_viewer.canvas.native
    canvas.setFocus()
    return canvas


def _overlays(viewer) -> list:
    return [layer for layer in viewer.layers if layer.metadata.get("alges") == TAG]


def _independent_superpixels(frame: np.ndarray, area: int) -> np.ndarray:
    # SLIC with the documented settings, computed here (see test_superpixel_tool.py).
    n = round(frame.shape[0] * frame.shape[1] / area)
    return slic(frame, n_segments=n, compactness=10.0, start_label=0, channel_axis=-1)


def test_the_overlay_shows_the_boundaries_of_the_superpixels_a_click_paints(
    project_widget, qtbot
) -> None:
    widget, viewer = project_widget
    layer, project = widget.layers.annotation, widget.project
    assert not _overlays(viewer)
    tool = _ready_tool(widget, qtbot)
    (overlay,) = _overlays(viewer)
    assert isinstance(overlay, Image)  # no Labels: nothing to paint, save or export as one
    assert viewer.layers[-1] is overlay and viewer.layers.selection.active is layer
    index = project.frames.index_of(widget.current_key)
    frame = np.asarray(project.frames.frame(widget.current_key))
    superpixels = _independent_superpixels(frame, 16 * 16)
    expected = find_boundaries(superpixels, connectivity=1, mode="thick")
    np.testing.assert_array_equal(overlay.data.astype(bool), expected)
    assert 0.05 < expected.mean() < 0.5  # lines, not a fill
    # A click paints the superpixel these boundaries enclose.
    before = np.array(layer.data)
    _gesture(layer, [(index, 30, 40)])
    np.testing.assert_array_equal(layer.data != before, superpixels == superpixels[30, 40])

    # Coarse: the overlay follows the coarseness.
    widget.annotate.coarseness.setCurrentIndex(widget.annotate.coarseness.findData("coarse"))
    tool.wait()
    coarse = find_boundaries(_independent_superpixels(frame, 32 * 32), connectivity=1)
    np.testing.assert_array_equal(overlay.data.astype(bool), coarse)
    # Another frame: nothing until its superpixels are ready, never the last frame's lines.
    widget.next_frame()
    assert widget.project.frames.index_of(widget.current_key) != index
    assert not overlay.data.any()
    tool.wait()
    qtbot.waitUntil(lambda: overlay.data.any(), timeout=5_000)
    np.testing.assert_array_equal(overlay.data.astype(bool), find_boundaries(tool.labels()))

    # The mode off: the overlay leaves the viewer; no label was written for it.
    qtbot.mouseClick(widget.annotate.superpixels, Qt.MouseButton.LeftButton)
    assert not tool.enabled and not _overlays(viewer) and overlay not in viewer.layers
    assert project.labelled_keys() == []
    qtbot.mouseClick(widget.annotate.superpixels, Qt.MouseButton.LeftButton)
    assert len(_overlays(viewer)) == 1
    widget.close_project()  # the overlay goes with the project's layers
    assert len(viewer.layers) == 0


def _drag(widget, start, end) -> None:
    """A left-button drag on ``widget`` made of Qt mouse events (press, moves, release)."""
    left, none = Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton
    send_mouse(widget, QEvent.Type.MouseButtonPress, start, left, left)
    for t in np.linspace(0.2, 1.0, 5):
        point = tuple(a + t * (b - a) for a, b in zip(start, end, strict=True))
        send_mouse(widget, QEvent.Type.MouseMove, point, none, left)
    send_mouse(widget, QEvent.Type.MouseButtonRelease, end, left, none)


def test_holding_space_pans_instead_of_painting(project_widget, qtbot) -> None:
    widget, viewer = project_widget
    layer = widget.layers.annotation
    tool = _ready_tool(widget, qtbot)
    index = widget.project.frames.index_of(widget.current_key)
    canvas = _canvas(viewer)
    before = np.array(layer.data)
    assert not viewer.scene.camera.mouse_pan
    qtbot.keyPress(canvas, Qt.Key.Key_Space)
    assert tool.panning and layer.mouse_pan and viewer.scene.camera.mouse_pan
    _gesture(layer, [(index, 30, 40), (index, 30, 60)])  # the tool's callback paints nothing
    viewer.window.show()  # vispy's camera moves on a canvas that is on screen
    qtbot.waitExposed(canvas)
    qtbot.wait(100)  # the canvas's first draw sets up the camera's transforms
    center = viewer.scene.camera.center
    _drag(canvas, (200, 200), (260, 240))  # a real drag: napari pans the camera
    qtbot.waitUntil(lambda: viewer.scene.camera.center != center, timeout=5_000)
    np.testing.assert_array_equal(layer.data, before)
    qtbot.keyRelease(canvas, Qt.Key.Key_Space)
    assert not tool.panning and not viewer.scene.camera.mouse_pan and tool.enabled
    _gesture(layer, [(index, 30, 40)])
    assert (layer.data != before).any()  # painting again

    assert_napari_space_back(layer, tool, canvas, qtbot)  # the mode off


def _napari_keys() -> set[str]:
    """Every key napari 0.9.2 binds: default shortcuts, keymaps, menus and their mnemonics."""
    keys = {str(kb) for kbs in default_shortcuts.values() for kb in kbs}
    for cls in (ViewerModel, Image, Labels, Points, Shapes, Surface, Tracks, Vectors):
        keys |= {str(k) for k in cls.class_keymap}
    for w in QApplication.allWidgets():
        if isinstance(w, QMenu | QMenuBar):
            for action in w.actions():
                keys |= {s.toString() for s in action.shortcuts() if not s.isEmpty()}
                text = action.text()
                if isinstance(w, QMenuBar) and "&" in text:
                    keys.add(f"Alt+{text[text.index('&') + 1].upper()}")
    return keys


@pytest.mark.usefixtures("widget_and_viewer")
def test_the_propagate_key_collides_with_nothing() -> None:
    napari_keys = _napari_keys()
    assert {"Space", "Ctrl+Z", "Ctrl+Shift+P", "Alt+F"} <= napari_keys  # what it reads
    ours = {str(coerce_keybinding(k)) for k in KEYS.values()}
    ours |= {str(coerce_keybinding(class_key(i))) for i in range(20)}
    key = str(coerce_keybinding(PROPAGATE_KEY))
    assert key == "Ctrl+Shift+Enter" and key not in napari_keys | ours


def test_g_switches_the_coarseness_in_superpixel_mode_only(project_widget, qtbot) -> None:
    widget, viewer = project_widget
    layer, panel = widget.layers.annotation, widget.annotate
    assert COARSENESS_KEY not in _napari_keys() | {str(coerce_keybinding(PROPAGATE_KEY))}
    tool = _ready_tool(widget, qtbot)
    fine = tool.labels()
    canvas = _canvas(viewer)
    qtbot.keyClick(canvas, Qt.Key.Key_G)
    assert tool.coarseness == panel.coarseness.currentData() == "coarse"
    tool.wait()
    assert tool.labels().max() < fine.max()  # fewer, larger superpixels
    qtbot.keyClick(canvas, Qt.Key.Key_G)
    assert tool.coarseness == panel.coarseness.currentData() == "fine"
    layer.mode = "paint"  # the mode off: the key is napari's (unbound) again
    assert not tool.enabled and all(str(k) != COARSENESS_KEY for k in layer.keymap)
    qtbot.keyClick(canvas, Qt.Key.Key_G)
    assert tool.coarseness == panel.coarseness.currentData() == "fine"


def test_the_propagate_key_makes_drafts_the_queue_shows_until_accepted_or_discarded(
    project_widget, qtbot
) -> None:
    widget, viewer = project_widget
    project, table, panel = widget.project, widget.annotate.queue, widget.propagator.panel
    keys = project.keys  # clip 1: keys 0-7
    assert "[Ctrl+Shift+Enter]" in panel.propagate.toolTip()
    project.set_queue([QueueEntry(k, r, None) for r, k in enumerate(keys[1:7])])
    accept_truth(widget, keys[3])
    assert [table.status_of(k) for k in keys[1:7]] == ["unlabelled"] * 2 + ["labelled"] + [
        "unlabelled"
    ] * 3
    panel.frames.setValue(2)
    qtbot.keyClick(_canvas(viewer), Qt.Key.Key_Return, CTRL | SHIFT)
    job = widget.propagator.job
    assert job is not None
    qtbot.waitUntil(lambda: job.done.is_set() and "drafts" in panel.text.text(), timeout=30_000)
    assert project.drafts.keys() == [keys[1], keys[2], keys[4], keys[5]]
    assert project.labelled_keys() == [keys[3]]  # drafts, not labels
    assert project.status(keys[4]) == "unlabelled"
    qtbot.waitUntil(lambda: table.status_of(keys[4]) == "draft", timeout=5_000)
    shown = [table.status_of(k) for k in keys[1:7]]
    assert shown == ["draft", "draft", "labelled", "draft", "draft", "unlabelled"]
    row = table.keys.index(keys[4])
    assert "draft" in table.item(row, 3).toolTip()
    assert table.item(row, 0).foreground().color().name() == "#e8a33d"

    widget.go_to_key(keys[4])  # accepted as propagated: a label now
    qtbot.mouseClick(widget.annotate.accept, Qt.MouseButton.LeftButton)
    assert table.status_of(keys[4]) == "labelled"
    assert project.drafts.discard(keys[2])  # discarded: an unlabelled frame again
    qtbot.waitUntil(lambda: table.status_of(keys[2]) == "unlabelled", timeout=5_000)
    assert "draft" not in table.item(table.keys.index(keys[2]), 3).toolTip()
    assert table.status_of(keys[1]) == "draft"


def test_undo_takes_an_edit_off_the_count_and_redo_puts_it_back(project_widget, qtbot) -> None:
    widget, viewer = project_widget
    layer, project = widget.layers.annotation, widget.project
    meter, key = widget.opened.annotation.effort, widget.current_key
    canvas = _canvas(viewer)
    # The keys napari binds to Labels.undo / redo, which the meter takes over on this layer.
    napari_names = {str(k): getattr(f, "__name__", "") for k, f in Labels.class_keymap.items()}
    assert (napari_names["Ctrl+Z"], napari_names["Ctrl+Shift+Z"]) == ("undo", "redo")

    def press(*modifiers) -> None:
        mods = Qt.KeyboardModifier.NoModifier
        for m in modifiers:
            mods |= m
        qtbot.keyClick(canvas, Qt.Key.Key_Z, mods)

    start = np.array(layer.data)
    layer.data_setitem((np.array([1, 1]), np.array([1, 2])), 2)
    one = np.array(layer.data)
    layer.data_setitem((np.array([5]), np.array([5])), 3)
    two = np.array(layer.data)
    assert meter.actions(key) == 2
    steps = [  # (keys, data after, count after)
        ((CTRL,), one, 1),
        ((CTRL,), start, 0),
        ((CTRL,), start, 0),  # nothing left to undo
        ((CTRL, SHIFT), one, 1),
        ((CTRL, SHIFT), two, 2),
        ((CTRL, SHIFT), two, 2),  # nothing left to redo
        ((CTRL,), one, 1),
    ]
    for mods, data, count in steps:
        press(*mods)
        np.testing.assert_array_equal(layer.data, data)
        assert meter.actions(key) == count
    layer.data_setitem((np.array([9]), np.array([9])), 4)  # a new edit ends the redo history
    press(CTRL, SHIFT)
    assert meter.actions(key) == 2
    assert widget.accept() is not None
    assert project.effort(key).edit_actions == 2
    # After the accept the count starts at 0: undoing an accepted edit never goes below it,
    # and its redo adds nothing.
    press(CTRL)
    assert meter.actions(key) == 0 and layer.data[9, 9] != 4
    press(CTRL, SHIFT)
    assert meter.actions(key) == 0 and layer.data[9, 9] == 4
