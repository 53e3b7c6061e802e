"""The dock's layout and feedback in a real viewer: what fits, what Next does after a round,
what the Status log keeps, the heat map's visibility, removed layers, and the refit."""

from __future__ import annotations

import numpy as np
import pytest
from qtpy.QtCore import Qt

from alges_napari._qt.dock_layout import STATUS_NEW, TABS
from alges_napari._qt.layers import DIMMED_OPACITY, IGNORE
from alges_napari._qt.window_fit import MARGIN
from alges_napari.core.project.paths import key_to_relpath
from alges_napari.core.project.project import Project
from tests.qt.conftest import TINY
from tests.qt.test_widget import label_from_truth, wait_round


def test_next_after_a_round_opens_the_top_of_the_new_queue(project_widget, qtbot) -> None:
    widget, viewer = project_widget
    project = widget.project
    first = [e.key for e in project.queue]
    for key in first[:3]:
        label_from_truth(widget, viewer, key)
    # The frame on screen is an unlabelled one of the old queue; the next round queues every
    # unlabelled frame, so it is in the new queue too, somewhere below the top.
    on_screen = first[5]
    widget.go_to_key(on_screen)
    widget.learn.query_size.value = len(project.unlabelled_keys())
    widget.retrain()
    wait_round(qtbot, widget)
    queue = [e.key for e in project.queue]
    assert set(queue) == set(project.unlabelled_keys())
    assert widget.current_key == on_screen and queue.index(on_screen) > 0, queue
    qtbot.mouseClick(widget.annotate.next, Qt.MouseButton.LeftButton)
    assert widget.current_key == queue[0]
    assert "queue #1" in widget.annotate.frame_info.text()
    qtbot.mouseClick(widget.annotate.next, Qt.MouseButton.LeftButton)
    assert widget.current_key == queue[1]  # then on down the new queue

    # The round's result stays in the Status log, with the frame's full name.
    lines = widget.status.log_lines()
    line = next(line for line in lines if line.startswith("Round 1"))
    assert f"#1 {queue[0]}" in line and "_" in queue[0]
    assert f"{len(queue)} frames queued" in line
    assert widget.dock.tabs.tabText(TABS.index("Status")) == STATUS_NEW
    widget.dock.show_tab("Status")
    assert widget.dock.tabs.tabText(TABS.index("Status")) == "Status"


def test_an_export_is_logged_with_its_full_path(project_widget, qtbot, tmp_path) -> None:
    widget, viewer = project_widget
    label_from_truth(widget, viewer, widget.project.queue[0].key)
    out = tmp_path / "my_export_folder"
    job = widget.export_labels(out)
    qtbot.waitUntil(lambda: not job.running, timeout=60_000)
    qtbot.waitUntil(lambda: any(str(out) in ln for ln in widget.status.log_lines()), timeout=5000)
    line = next(ln for ln in widget.status.log_lines() if str(out) in ln)
    assert line == f"Labels of {widget.project.root.name} exported to {out} (index format)"
    rel = key_to_relpath(widget.project.queue[0].key).as_posix()
    assert (out / f"{rel}.png").is_file()


def test_the_heat_map_dims_the_label_overlays_while_it_shows(project_widget) -> None:
    widget, _ = project_widget
    layers = widget.layers
    before = (layers.prediction.opacity, layers.annotation.opacity)
    assert not layers.heat.visible
    widget.annotate.heat.setChecked(True)
    assert layers.heat.visible and layers.heat.opacity > 0.5
    assert layers.heat.colormap.name == "alges heat"
    assert layers.prediction.opacity == layers.annotation.opacity == DIMMED_OPACITY
    widget.annotate.heat.setChecked(False)
    assert not layers.heat.visible
    assert (layers.prediction.opacity, layers.annotation.opacity) == before


def test_removing_a_layer_never_closes_the_project(project_widget, qtbot, messages) -> None:
    widget, viewer = project_widget
    project, layers = widget.project, widget.layers
    key = widget.current_key
    index = layers.current_index()
    layers.annotation.paint((10, 10), 2)
    edited = np.array(layers.annotation.data)

    viewer.layers.remove(layers.prediction)  # not needed to work: it stays away
    qtbot.wait(50)
    assert widget.project is project and layers.prediction not in viewer.layers
    assert any("prediction layer removed" in m for m in messages)

    viewer.layers.remove(layers.annotation)  # the edits live there: put back, edits intact
    qtbot.waitUntil(lambda: layers.annotation in viewer.layers, timeout=2000)
    np.testing.assert_array_equal(layers.annotation.data, edited)
    assert viewer.layers.index(layers.annotation) == len(viewer.layers) - 1

    viewer.layers.remove(layers.frames)  # the frames come back on the frame they showed
    qtbot.waitUntil(lambda: layers.frames in viewer.layers, timeout=2000)
    assert widget.current_key == key and layers.current_index() == index

    widget.annotate.heat.setChecked(True)
    viewer.layers.remove(layers.heat)  # the switch goes off and the overlays come back
    assert not widget.annotate.heat.isChecked()
    assert layers.annotation.opacity > DIMMED_OPACITY
    widget.annotate.heat.setChecked(True)  # asked for again: back in the stack
    assert layers.heat in viewer.layers and layers.heat.visible

    assert widget.accept() is not None  # the project carried on
    saved = project.load_label(key)
    assert saved[10, 10] == 2 and (saved[edited == IGNORE] == IGNORE).all()


def test_a_locked_project_gets_advice_the_dock_can_follow(project_widget, tmp_path) -> None:
    widget, _ = project_widget
    root = widget.project.root
    widget.close_project()
    with Project.open(root):  # another process holds it
        assert widget.open_project(root) is None
    problem = widget.form.problem.text()
    assert "open for writing by another process" in problem
    assert "read-only" not in problem and "Close it there" in problem


def test_the_propagate_count_reads_in_words(widget_and_viewer) -> None:
    widget, _ = widget_and_viewer
    spin = widget.propagator.panel.frames
    assert spin.text() == "5 frames each side"
    spin.setValue(1)
    assert spin.text() == "1 frame each side"


@pytest.mark.parametrize("size", [(1366, 768), (1600, 1000)])
def test_the_dock_fits_the_screen_with_the_loop_in_view(
    make_napari_viewer, sample_tree, tmp_path, qtbot, size
) -> None:
    from alges_napari._qt.widget import AlgesWidget

    viewer = make_napari_viewer(show=True)
    widget = AlgesWidget(viewer)
    viewer.window.add_dock_widget(widget, name="ALGES Active Learning")
    viewer.window.resize(*size)
    assert widget.create_project(str(sample_tree), str(tmp_path / "p"), **TINY) is not None
    bar = widget.dock._scroll.verticalScrollBar()
    # Nothing scrolls once the layout settled: the queue, Next / Accept / Skip, Retrain and
    # rank and the tabs are all within the dock, the Correct tab's palette and switches whole.
    qtbot.waitUntil(lambda: widget.annotate.queue.isVisible(), timeout=3000)
    qtbot.wait(300)
    qtbot.waitUntil(lambda: not bar.isVisible(), timeout=3000)
    a = widget.annotate
    for w in (a.queue, a.next, a.accept, a.skip, widget.learn.retrain, widget.dock.tabs):
        assert w.isVisible() and w.visibleRegion().boundingRect().size() == w.size(), w
    assert a.auto_prediction.visibleRegion().boundingRect().size() == a.auto_prediction.size()
    widget.shutdown()


def test_the_frame_is_refitted_when_the_canvas_changes_width(
    make_napari_viewer, sample_tree, tmp_path, qtbot
) -> None:
    from alges_napari._qt.widget import AlgesWidget

    viewer = make_napari_viewer(show=True)
    widget = AlgesWidget(viewer)
    viewer.window.add_dock_widget(widget, name="ALGES Active Learning")
    viewer.window.resize(1400, 900)
    assert widget.create_project(str(sample_tree), str(tmp_path / "p"), **TINY) is not None
    qtbot.wait(300)

    def fitted() -> tuple[float, ...]:
        camera = viewer.scene.camera
        now = (camera.zoom, *camera.center)
        viewer.reset_view(margin=MARGIN)
        fit = (camera.zoom, *camera.center)
        camera.zoom, camera.center = now[0], now[1:]
        return fit

    def camera() -> tuple[float, ...]:
        return (viewer.scene.camera.zoom, *viewer.scene.camera.center)

    zoom = viewer.scene.camera.zoom
    viewer.window.resize(1000, 900)  # the canvas loses width, as when a panel widens
    qtbot.waitUntil(lambda: viewer.scene.camera.zoom < zoom * 0.95, timeout=3000)
    assert camera() == pytest.approx(fitted())

    viewer.scene.camera.zoom *= 2  # the annotator zooms in: a resize leaves that alone
    chosen = camera()
    viewer.window.resize(1300, 900)
    qtbot.wait(300)
    assert camera() == pytest.approx(chosen)
    widget.shutdown()
