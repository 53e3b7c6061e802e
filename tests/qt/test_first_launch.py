"""The first ten minutes: the README's main command, a second launch, no warning of ours.

- The main command opens the viewer with the sample frames and the widget, and asks nothing:
  napari offers every reader that accepts folders (its own builtins do, for zarr) for any
  folder and asks the user to choose unless the command names the reader (``--plugin``).
- It prints no deprecation or private-access warning (napari warns on PyQt5, so the main
  command runs on PyQt6; the tests run both bindings).
- A second launch of the same command finds its first project in the pre-filled folder and
  offers to open it; a refusal stays readable in the panel.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import warnings
from pathlib import Path

from qtpy.QtCore import Qt

from alges_napari import PLUGIN_NAME, WIDGET_NAME
from alges_napari._qt.project_form import CREATE_TEXT, OPEN_EXISTING_TEXT
from alges_napari.core.data.synthetic import write_cholecseg8k_tree
from tests.qt.conftest import FRAME_SIZE, TINY

#: What a printed warning looks like on stderr (not Qt's "WARNING: QStandardPaths..." notes).
NOISE = re.compile(r"deprecat|private attribute|\w+Warning\b", re.IGNORECASE)
REPO = Path(__file__).resolve().parents[2]
PROBE = Path(__file__).with_name("main_command_probe.py")
#: The README's main command, as a user types it after ``bash scripts/setup.sh &&``.
MAIN_COMMAND = (
    'QT_API=pyqt6 .venv/bin/napari --plugin alges-napari -w alges-napari "ALGES Active Learning"'
    " -- sample_data/cholecseg8k"
)


def split_command(command: str) -> tuple[dict[str, str], list[str]]:
    """``VAR=value ... path/to/napari ARGS`` -> (environment, napari's arguments)."""
    words = shlex.split(command)
    env = {}
    while "=" in words[0] and not words[0].startswith(("-", ".", "/")):
        name, value = words.pop(0).split("=", 1)
        env[name] = value
    assert Path(words.pop(0)).name == "napari"
    return env, words


def readme_main_command() -> str:
    """The command after ``bash scripts/setup.sh &&`` under "set up and run the main job"."""
    lines = (REPO / "README.md").read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if "run the main job" in line)
    line = lines[start + 1]
    prefix = "bash scripts/setup.sh && "
    assert line.startswith(prefix), line
    return line[len(prefix) :]


def test_main_command_opens_frames_and_widget_with_no_question_and_no_warning(tmp_path) -> None:
    """napari's own main(), as the command runs it, on a display, with fresh napari settings
    (a remembered reader choice must not hide a dialog)."""
    env, args = split_command(MAIN_COMMAND)
    report_path, shot = tmp_path / "report.json", tmp_path / "main_command.png"
    run = subprocess.run(
        [sys.executable, str(PROBE), str(report_path), str(shot), "--", *args],
        cwd=REPO,
        env={**os.environ, **env, "NAPARI_CONFIG": str(tmp_path / "napari_settings.yaml")},
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert run.returncode == 0 and report_path.exists(), run.stderr[-4000:]
    report = json.loads(report_path.read_text())
    assert report["modal_dialogs"] == []  # no "Choose reader for sample_data/cholecseg8k"
    assert report["layers"] == ["cholecseg8k", "cholecseg8k ground truth"]
    assert f"{WIDGET_NAME} ({PLUGIN_NAME})" in report["docks"]
    assert report["form"]["source"] == str(REPO / "sample_data" / "cholecseg8k")
    assert report["warnings"] == [] and report["notifications"] == []
    assert report["qt_api"].lower() == env.get("QT_API", report["qt_api"]).lower()
    noisy = [ln for ln in run.stderr.splitlines() if NOISE.search(ln)]
    assert noisy == [], run.stderr[-4000:]
    assert shot.stat().st_size > 0


def test_the_readme_runs_the_checked_main_command() -> None:
    assert readme_main_command() == MAIN_COMMAND


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
