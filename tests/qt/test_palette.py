"""The class palette and its shortcuts, in a real napari viewer (the queue: test_queue_view.py)."""

from __future__ import annotations

import pytest
from napari.utils.shortcuts import default_shortcuts
from qtpy.QtCore import Qt

from alges_napari._qt.palette import class_key
from tests.qt.conftest import TINY


def test_the_palette_shows_the_schema_and_sets_the_selected_class(project_widget, qtbot) -> None:
    widget, viewer = project_widget
    schema, palette = widget.project.schema, widget.annotate.palette
    layer = widget.layers.annotation
    assert [b.text() for b in palette.buttons] == [f"{i} {n}" for i, n in enumerate(schema.names)]
    for button, rgb in zip(palette.buttons, schema.colors, strict=True):
        assert f"background-color: #{rgb[0]:02x}{rgb[1]:02x}{rgb[2]:02x}" in button.styleSheet()
    qtbot.mouseClick(palette.buttons[3], Qt.MouseButton.LeftButton)
    assert layer.selected_label == 3 and palette.selected == 3
    assert f"3 {schema.names[3]}" in palette.current.text()  # the selected class on show
    layer.selected_label = 7  # napari's own label spin box: the palette follows
    assert palette.selected == 7 and schema.names[7] in palette.current.text()
    canvas = viewer.window._qt_viewer.canvas.native
    canvas.setFocus()
    qtbot.keyClick(canvas, Qt.Key.Key_4, Qt.KeyboardModifier.AltModifier)
    assert layer.selected_label == 4 and palette.selected == 4
    qtbot.keyClick(
        canvas, Qt.Key.Key_2, Qt.KeyboardModifier.AltModifier | Qt.KeyboardModifier.ControlModifier
    )
    assert layer.selected_label == 12 and palette.selected == 12
    assert "[Alt+4]" in palette.buttons[4].toolTip()
    widget.close_project()  # the class keys go with the project
    assert viewer.bind_key("Alt-4", None) is None


def test_class_keys_do_not_collide_with_napari() -> None:
    napari_keys = {str(kb) for kbs in default_shortcuts.values() for kb in kbs}
    ours = [class_key(i) for i in range(20)]
    assert len(set(ours)) == 20 and class_key(20) is None
    for key in ours:
        assert key.replace("-", "+").replace("Control", "Ctrl") not in napari_keys
    assert not any(k.startswith("Alt+") and k[-1].isdigit() for k in napari_keys)
    assert "1" in napari_keys  # what this test reads: napari's bare digit tool keys are there


def test_the_window_grows_to_a_usable_size_and_the_frame_is_fitted(
    make_napari_viewer, sample_tree, tmp_path, qtbot
) -> None:
    from qtpy.QtGui import QGuiApplication

    from alges_napari._qt.widget import AlgesWidget
    from alges_napari._qt.window_fit import MARGIN, USABLE_SIZE, grow_window

    viewer = make_napari_viewer()
    viewer.window.resize(640, 480)
    assert grow_window(viewer)
    avail = QGuiApplication.primaryScreen().availableGeometry()
    width, height = viewer.window.geometry()[2:]
    assert (width, height) == (
        min(USABLE_SIZE[0], avail.width()),
        min(USABLE_SIZE[1], avail.height()),
    )
    assert not grow_window(viewer)  # never shrinks, never resizes twice
    widget = AlgesWidget(viewer)
    viewer.window.add_dock_widget(widget, name="ALGES Active Learning")
    assert widget.create_project(str(sample_tree), str(tmp_path / "p"), **TINY) is not None
    qtbot.wait(120)  # the second fit, after Qt has laid the window out
    zoom, center = viewer.scene.camera.zoom, tuple(viewer.scene.camera.center)
    viewer.reset_view(margin=MARGIN)
    assert viewer.scene.camera.zoom == pytest.approx(zoom) and tuple(viewer.scene.camera.center) == center
    widget.shutdown()
