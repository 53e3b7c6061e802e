"""The dock's per-project state: one OpenProject, made on open, gone without a trace on close."""

from __future__ import annotations

import numpy as np
from qtpy.QtCore import Qt

from alges_napari._qt.open_project import OpenProject
from alges_napari.core.project.project import Project
from tests.qt.conftest import TINY


def assert_no_project(widget, viewer, widget_keys: list[str]) -> None:
    """Nothing of a project is left in the widget, its resources or the viewer.

    ``widget_keys`` are the keys the widget itself binds (Next, Accept, Skip), for its life.
    """
    assert widget.opened is None and widget.project is None and widget.session is None
    assert widget.layers is None and widget.superpixels is None and widget.current_key is None
    res = widget._res  # what the widget's destroyed clean-up would still release
    assert res.project is None and res.unsubscribe is None
    assert res.jobs == [] and res.bound_keys == widget_keys
    assert len(viewer.layers) == 0
    assert widget.annotate.queue.keys == [] and widget.annotate.frame_info.text() == "No frame"
    assert not widget.annotate.accept.isEnabled() and not widget.learn.retrain.isEnabled()


def test_close_leaves_no_project_state_and_a_second_open_works(
    widget_and_viewer, sample_tree, tmp_path, qtbot
) -> None:
    widget, viewer = widget_and_viewer
    root = tmp_path / "proj"
    assert widget.opened is None and len(viewer.layers) == 0
    widget_keys = list(widget._res.bound_keys)
    assert "N" in widget_keys  # Next

    project = widget.create_project(str(sample_tree), str(root), **TINY)
    opened = widget.opened
    assert isinstance(opened, OpenProject) and opened.project is project
    assert widget.project is project and widget.session is opened.session
    assert widget.layers is opened.layers and widget.superpixels is opened.superpixels
    assert widget._res.unsubscribe == opened.bridge.unsubscribe
    n_classes = project.schema.num_classes
    keys = [f"Alt-{i}" for i in range(10)] + [f"Control-Alt-{i}" for i in range(n_classes - 10)]
    assert widget._res.bound_keys == widget_keys + keys  # a shortcut per class of the schema
    assert [ly.name for ly in viewer.layers] == [
        "ALGES frames (proj)",
        "ALGES prediction",
        "ALGES heat map",
        "ALGES annotation",
    ]
    queue = [e.key for e in project.queue]
    assert widget.current_key == queue[0]
    qtbot.waitUntil(lambda: widget._res.jobs == [], timeout=60_000)  # the pixel count's job

    widget.close_project()
    assert_no_project(widget, viewer, widget_keys)
    assert all(viewer.bind_key(k, None) is None for k in keys)  # the class keys went too
    assert not opened.superpixels.enabled
    widget.annotate.superpixels.setChecked(True)  # the closed project's tool no longer listens
    assert not opened.superpixels.enabled
    widget.annotate.superpixels.setChecked(False)
    with Project.open(root) as again:  # the lock is free
        assert [e.key for e in again.queue] == queue
    widget.close_project()  # closing with no project open does nothing
    assert_no_project(widget, viewer, widget_keys)

    reopened = widget.open_project(root)
    assert reopened is not None and reopened is not project
    assert widget.opened is not opened and widget.opened.project is reopened
    assert widget._res.project is reopened and widget._res.bound_keys == widget_keys + keys
    assert len(viewer.layers) == 4 and widget.current_key == queue[0]
    assert widget.annotate.queue.keys == queue
    canvas = viewer.window._qt_viewer.canvas.native
    canvas.setFocus()
    qtbot.keyClick(canvas, Qt.Key.Key_2, Qt.KeyboardModifier.AltModifier)  # bound again
    layer = widget.layers.annotation
    assert layer.selected_label == 2
    layer.paint((5, 5), 2)
    painted = np.array(layer.data)
    assert painted[5, 5] == 2
    path = widget.accept()
    assert path is not None and reopened.status(queue[0]) == "labelled"
    label = reopened.load_label(queue[0])
    np.testing.assert_array_equal(label, painted)

    widget.close_project()
    assert_no_project(widget, viewer, widget_keys)
    with Project.open(root) as last:  # the second session's label is on disk, the lock free
        assert last.status(queue[0]) == "labelled"
        np.testing.assert_array_equal(last.load_label(queue[0]), label)
