"""The first ten minutes: a second launch, no warning of ours.

- The widget uses public napari API only: no deprecation or private-access warning.
- A second launch of the same command finds its first project in the pre-filled folder and
  offers to open it; a refusal stays readable in the panel.
"""

from __future__ import annotations

import warnings
from pathlib import Path

from qtpy.QtCore import Qt

from alges_napari import PLUGIN_NAME, WIDGET_NAME
from alges_napari._qt.project_form import CREATE_TEXT, OPEN_EXISTING_TEXT
from alges_napari.core.data.synthetic import write_cholecseg8k_tree
from tests.qt.conftest import FRAME_SIZE, TINY


def test_the_docked_widget_uses_public_napari_api_only(
    make_napari_viewer, sample_tree, tmp_path
) -> None:
    """A docked plugin widget gets a viewer proxy that warns on napari's private attributes."""
    viewer = make_napari_viewer()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _, widget = viewer.window.add_plugin_dock_widget(PLUGIN_NAME, WIDGET_NAME)
        try:
            project = widget.create_project(str(sample_tree), str(tmp_path / "p"), **TINY)
            widget.go_to_key(project.queue[1].key)
            widget.layers.annotation.paint((5, 5), 1)
            assert widget.accept() is not None
            widget.next_frame()
            widget.annotate.heat.setChecked(True)
            widget.close_project()
        finally:
            widget.shutdown()
    ours = [
        f"{w.category.__name__}: {w.message} ({w.filename}:{w.lineno})"
        for w in caught
        if issubclass(w.category, DeprecationWarning | FutureWarning)
        or "alges_napari" in w.filename
    ]
    assert ours == []


def _launch(make_napari_viewer, tree: Path):
    """What the main command does: the frames opened with the reader, then the widget."""
    viewer = make_napari_viewer()
    viewer.open(str(tree), plugin=PLUGIN_NAME)
    _, widget = viewer.window.add_plugin_dock_widget(PLUGIN_NAME, WIDGET_NAME)
    return viewer, widget


def test_a_second_launch_offers_the_project_of_the_first(
    make_napari_viewer, qtbot, tmp_path, messages
) -> None:
    tree = write_cholecseg8k_tree(
        tmp_path / "data" / "cholecseg8k", n_clips=1, frames_per_clip=6, size=FRAME_SIZE, seed=3
    )
    root = tree.parent / "cholecseg8k_alges"
    viewer, widget = _launch(make_napari_viewer, tree)
    form = widget.form
    assert Path(form.root.value) == root and form.create_button.text() == CREATE_TEXT
    assert form.hint.isHidden() and form.problem.isHidden()
    qtbot.mouseClick(form.create_button, Qt.MouseButton.LeftButton)
    project = widget.project
    assert project is not None and project.root == root
    key = project.queue[0].key
    widget.go_to_key(key)
    widget.layers.annotation.paint((5, 5), 2)
    assert widget.accept() is not None
    widget.close_project()  # the folder now holds a project: the form says so at once
    assert form.create_button.text() == OPEN_EXISTING_TEXT
    widget.shutdown()

    viewer, widget = _launch(make_napari_viewer, tree)  # the same command, a second time
    form = widget.form
    assert Path(form.root.value) == root
    assert form.create_button.text() == OPEN_EXISTING_TEXT
    assert not form.hint.isHidden() and "already holds a project" in form.hint.text()
    qtbot.mouseClick(form.create_button, Qt.MouseButton.LeftButton)
    reopened = widget.project
    assert reopened is not None and reopened.root == root
    assert reopened.status(key) == "labelled" and reopened.load_label(key)[5, 5] == 2
    assert messages == []  # no refusal, no toast
    widget.shutdown()


def test_occupied_folders_are_named_before_create_and_a_refusal_stays_readable(
    widget_and_viewer, sample_tree, tmp_path, qtbot, messages
) -> None:
    from alges_napari._qt.project_form import fresh_project_folder

    widget, viewer = widget_and_viewer
    form = widget.form
    frames = tmp_path / "frames"
    (tmp_path / "frames_alges").mkdir()
    (tmp_path / "frames_alges" / "notes.txt").write_text("someone else's")
    assert fresh_project_folder(frames) == tmp_path / "frames_alges_2"  # never a full folder

    form.source.value = sample_tree
    form.root.value = tmp_path / "frames_alges"
    assert form.create_button.text() == CREATE_TEXT
    assert not form.hint.isHidden() and "is not empty" in form.hint.text()
    qtbot.mouseClick(form.create_button, Qt.MouseButton.LeftButton)
    assert widget.project is None
    assert len(messages) == 1 and "not empty" in messages[0]
    # The whole reason stays in the panel (a toast is cut off and gone in seconds).
    assert not form.problem.isHidden() and form.problem.text() == messages[0][len("ALGES: ") :]
    form.root.value = tmp_path / "new"  # a usable folder: the hint and the problem go
    assert form.hint.isHidden() and form.problem.isHidden()
    qtbot.mouseClick(form.create_button, Qt.MouseButton.LeftButton)
    assert widget.project is not None and widget.project.root == tmp_path / "new"
