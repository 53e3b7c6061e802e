"""Fixtures of the widget tests: a tiny synthetic CholecSeg8k tree and a docked ALGES widget.

Torch runs on one thread in every test (``one_torch_thread``, ``tests/conftest.py``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from alges_napari.core.data.synthetic import write_cholecseg8k_tree

#: Tiny frames and a tiny training schedule: a whole round takes seconds on one CPU core (no
#: step floor nor early stopping: the cpu preset's would train each test's round far longer).
FRAME_SIZE = (64, 96)
TINY = {
    "input_size": (64, 96),
    "epochs": 1,
    "batch_size": 4,
    "augment": False,
    "min_steps": 0,
    "patience": 0,
}


@pytest.fixture(scope="session")
def sample_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two synthetic clips of 8 frames (64x96) in the CholecSeg8k layout."""
    root = tmp_path_factory.mktemp("sample") / "cholecseg8k"
    return write_cholecseg8k_tree(root, n_clips=2, frames_per_clip=8, size=FRAME_SIZE, seed=5)


@pytest.fixture
def messages():
    """The text of every napari notification shown during the test."""
    from napari.utils.notifications import notification_manager

    seen: list[str] = []

    def record(event) -> None:
        seen.append(str(event.message))

    notification_manager.notification_ready.connect(record)
    yield seen
    notification_manager.notification_ready.disconnect(record)


@pytest.fixture
def widget_and_viewer(make_napari_viewer, qtbot):
    """A viewer with the ALGES widget docked the way napari's Plugins menu docks it."""
    from alges_napari._qt.widget import AlgesWidget

    viewer = make_napari_viewer()
    widget = AlgesWidget(viewer)
    viewer.window.add_dock_widget(widget, name="ALGES Active Learning")
    yield widget, viewer
    widget.shutdown()


@pytest.fixture
def project_widget(widget_and_viewer, sample_tree, tmp_path):
    """The widget with a new project on the sample tree (tiny training preset)."""
    widget, viewer = widget_and_viewer
    project = widget.create_project(str(sample_tree), str(tmp_path / "proj"), **TINY)
    assert project is not None
    return widget, viewer
