"""Propagate and effort through a real napari viewer: drafts are not labels; effort is measured."""

from __future__ import annotations

import csv
import hashlib
import json
import threading
from pathlib import Path

import numpy as np
from qtpy.QtCore import Qt

from alges_napari._qt.queue_view import short_key
from alges_napari.core.project.export import export_labels


def digest(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` by relative path, as a hash of its bytes."""
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def accept_truth(widget, key: str) -> np.ndarray:
    """Open ``key``, put its ground truth in the annotation and accept it."""
    project = widget.project
    widget.go_to_key(key)
    truth = project.frames.truth(key)
    widget.layers.set_annotation(truth, baseline=False)
    assert widget.accept() is not None
    return truth


def test_propagate_makes_drafts_not_labels_and_accepting_one_makes_it_a_label(
    project_widget, qtbot, tmp_path
) -> None:
    widget, viewer = project_widget
    project = widget.project
    keys = project.keys  # clip 1: keys 0-7, clip 2: keys 8-15
    panel = widget.propagator.panel
    button = panel.propagate
    widget.go_to_key(keys[3])
    assert not button.isEnabled()  # nothing accepted on this frame yet
    label_1 = accept_truth(widget, keys[1])  # a neighbour that is labelled already
    source = accept_truth(widget, keys[3])
    assert button.isEnabled() and widget.current_key == keys[3]
    labels_before = digest(project.root / "labels")
    export_before = digest(export_labels(project, tmp_path / "before"))

    panel.frames.setValue(3)
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    job = widget.propagator.job
    assert widget.propagator.panel.cancel.isEnabled() or job.done.is_set()
    # Done: the result reached the panel and the buttons (both queued into the GUI thread).
    qtbot.waitUntil(lambda: button.isEnabled() and "drafts" in panel.text.text(), timeout=30_000)
    assert job.done.is_set() and not panel.cancel.isEnabled()
    assert panel.text.text() == (
        f"5 drafts from {short_key(keys[3])}; 1 frame kept a label or a nearer draft"
    )

    # Drafts for 4, 5, 6 and 2, 0 (1 is labelled, kept): none outside clip 1.
    assert project.drafts.keys() == [keys[0], keys[2], keys[4], keys[5], keys[6]]
    assert digest(project.root / "labels") == labels_before
    assert project.labelled_keys() == [keys[1], keys[3]]
    assert project.status(keys[4]) == "unlabelled"
    assert widget.status.counts.text().startswith("Labelled 2 / 16 frames")
    assert digest(export_labels(project, tmp_path / "after")) == export_before

    # A labelled neighbour opens with its label, not a draft.
    widget.go_to_key(keys[1])
    np.testing.assert_array_equal(widget.layers.annotation.data, label_1)
    assert "DRAFT" not in widget.annotate.frame_info.text()

    # A draft frame opens with the draft, marked as one, instead of the (absent) prediction.
    widget.go_to_key(keys[4])
    draft = project.drafts.load(keys[4])
    assert (draft.source, draft.distance) == (keys[3], 1)
    np.testing.assert_array_equal(widget.layers.annotation.data, draft.mask)
    info = widget.annotate.frame_info.text()
    assert "DRAFT propagated from" in info and "1 frame away" in info and "background" in info
    # The flow carried the label well on this slow synthetic camera (an independent check).
    truth = project.frames.ground_truth(4)
    assert (draft.mask == truth).mean() > 0.9 and (draft.mask != source).any()

    # Accept goes the normal way: the draft becomes the label, and is gone as a draft.
    qtbot.mouseClick(widget.annotate.accept, Qt.MouseButton.LeftButton)
    np.testing.assert_array_equal(project.load_label(keys[4]), draft.mask)
    assert project.status(keys[4]) == "labelled" and keys[4] not in project.drafts.keys()
    assert "DRAFT" not in widget.annotate.frame_info.text()
    effort = project.effort(keys[4])
    assert (effort.pixels_changed, effort.edit_actions) == (0, 0)  # accepted as propagated


def test_effort_of_an_accept_lands_in_the_project(
    project_widget, qtbot, tmp_path, monkeypatch
) -> None:
    now = [1000.0]
    monkeypatch.setattr("alges_napari._qt.effort_meter._clock", lambda: now[0])
    widget, viewer = project_widget
    project, layer = widget.project, widget.layers.annotation
    key, other = project.queue[0].key, project.queue[1].key
    shape = tuple(project.frames.shape)
    prediction = np.ones(shape, np.uint8)  # the model's prediction: class 1 everywhere
    # A round whose quality figure reaches the auto-fill floor: only then is a prediction pasted.
    from alges_napari.core.project.records import RoundRecord

    project.record_round(RoundRecord(round=1, train_dice=0.9))
    project.write_cache(key, prediction)
    widget.go_to_key(other)
    widget.go_to_key(key)  # opens with the prediction (auto-fill)
    np.testing.assert_array_equal(layer.data, prediction)

    # Stroke 1: a drag over two spots is one stroke, as napari's brush makes one.
    rows, cols = np.mgrid[10:15, 20:26]  # 30 pixels
    with layer.block_history():
        layer.data_setitem((rows[:, :3].ravel(), cols[:, :3].ravel()), 2)
        layer.data_setitem((rows[:, 3:].ravel(), cols[:, 3:].ravel()), 2)
    # Stroke 2: overlapping the first by 2x2 pixels.
    rows2, cols2 = np.mgrid[13:17, 24:28]
    layer.data_setitem((rows2.ravel(), cols2.ravel()), 3)
    # Leaving the frame with edits and coming back keeps them, their count and their time.
    now[0] += 10.0  # 10 s on the frame
    widget.go_to_key(other)
    now[0] += 100.0  # elsewhere: not this frame's time
    widget.go_to_key(key)
    now[0] += 5.0
    # Stroke 3: napari's own brush (one click), 4: a fill of the class-3 patch.
    layer.brush_size = 1
    layer.paint((40, 60), 4)
    layer.fill((16, 27), 5)
    expected = prediction.copy()
    expected[10:15, 20:26] = 2
    expected[13:17, 24:28] = 5
    expected[40, 60] = 4
    np.testing.assert_array_equal(layer.data, expected)
    changed = int((expected != prediction).sum())  # independently: 30 + 16 - 4 + 1 = 43
    assert changed == 43

    qtbot.mouseClick(widget.annotate.accept, Qt.MouseButton.LeftButton)
    effort = project.effort(key)
    # accepted after the recorded round 1
    assert (effort.pixels_changed, effort.edit_actions, effort.round) == (43, 4, 1)
    assert effort.seconds == 15.0
    state = json.loads((project.root / "state.json").read_text())["frames"][key]
    assert (state["pixels_changed"], state["edit_actions"], state["round"]) == (43, 4, 1)
    assert state["seconds"] == 15.0
    effort_text = widget.status.effort.text()
    assert "px changed" in effort_text and "<td align='right'>43</td>" in effort_text

    # Corrected again: one more stroke of 2 pixels, 3 s, adds to the totals.
    layer.data_setitem((np.array([0, 0]), np.array([0, 1])), 6)
    now[0] += 3.0
    assert widget.accept() is not None
    again = project.effort(key)
    assert (again.pixels_changed, again.edit_actions, again.seconds) == (45, 5, 18.0)

    out = export_labels(project, tmp_path / "out")
    with open(out / "effort.csv", newline="") as f:
        rows_out = list(csv.DictReader(f))
    assert rows_out == [
        {"key": key, "round": "1", "seconds": "18.00", "pixels_changed": "45", "edit_actions": "5"}
    ]


def test_cancel_stops_a_propagation_and_keeps_its_drafts(project_widget, qtbot, monkeypatch):
    """Cancel while the worker is between two frames: it stops there, the first draft stays."""
    from alges_napari.core.project import drafts as drafts_module

    widget, viewer = project_widget
    project, panel = widget.project, widget.propagator.panel
    keys = project.keys
    accept_truth(widget, keys[10])  # clip 2, frames 8-15: 4 after, 2 before
    release = threading.Event()
    real = drafts_module.iter_warped

    def held(*args, **kwargs):
        for item in real(*args, **kwargs):
            yield item
            release.wait(10)  # the worker waits here after each frame until the test lets go

    monkeypatch.setattr(drafts_module, "iter_warped", held)
    assert widget.propagator.start(k=4) is not None
    assert panel.cancel.isEnabled() and not panel.propagate.isEnabled()
    qtbot.waitUntil(lambda: panel.text.text().startswith("Propagating: 1/6"), timeout=30_000)
    qtbot.mouseClick(panel.cancel, Qt.MouseButton.LeftButton)
    assert panel.text.text() == "Stopping after this frame..." and not panel.cancel.isEnabled()
    release.set()
    qtbot.waitUntil(lambda: panel.text.text().startswith("Stopped"), timeout=30_000)
    assert panel.text.text() == f"Stopped: 1 draft from {short_key(keys[10])}"
    assert project.drafts.keys() == [keys[11]] and project.labelled_keys() == [keys[10]]
    qtbot.waitUntil(panel.propagate.isEnabled, timeout=5_000)
