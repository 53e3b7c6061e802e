"""The Validation frame checkbox, the Status panel, and auto-fill from a trained model."""

from __future__ import annotations

import html

import numpy as np
from qtpy.QtCore import Qt

from alges_napari._qt.layers import IGNORE
from alges_napari.core.project import autofill
from tests.qt.test_widget import label_from_truth, wait_round


def paint(widget, mask: np.ndarray) -> None:
    """Set the labelled pixels of ``mask`` in the annotation layer, as napari's tools do."""
    layer = widget.layers.annotation
    idx = np.nonzero(mask != IGNORE)
    layer.data_setitem(idx, mask[idx])


def stroke(shape: tuple[int, int], spots: dict[int, int]) -> np.ndarray:
    """An all-ignore mask with ``count`` pixels of each class ``cls`` of ``spots``, row by row."""
    mask = np.full(shape, IGNORE, np.uint8)
    flat = mask.reshape(-1)
    at = 0
    for cls, count in spots.items():
        flat[at : at + count] = cls
        at += count + 7  # a gap, so the classes never touch
    return mask


def pixel_cell(name: str, count: int) -> str:
    """The Status panel's cell of one class: its name, then its labelled pixel count."""
    return f"{html.escape(name)}</td><td align='right'>{count}</td>"


def test_validation_checkbox_and_status_counts_and_pixels(project_widget, qtbot) -> None:
    widget, viewer = project_widget
    project, panel, status = widget.project, widget.annotate, widget.status
    names = project.schema.names
    shape = tuple(project.frames.shape)
    a, b, c, d = (e.key for e in project.queue[:4])
    masks = {
        a: stroke(shape, {5: 100}),
        b: stroke(shape, {1: 40, 5: 60}),
        c: stroke(shape, {3: 30}),
    }

    for key in (a, b):
        widget.go_to_key(key)
        assert not panel.validation.isChecked()
        paint(widget, masks[key])
        qtbot.mouseClick(panel.accept, Qt.MouseButton.LeftButton)
        assert project.status(key) == "labelled"

    # Ticking "Validation frame" then Accept holds the frame out as a validation frame.
    widget.go_to_key(c)
    assert not panel.validation.isChecked()
    panel.validation.click()
    assert panel.validation.isChecked()
    assert project.status(c) == "unlabelled"  # nothing happens before Accept
    paint(widget, masks[c])
    qtbot.mouseClick(panel.accept, Qt.MouseButton.LeftButton)
    assert project.status(c) == "validation"
    assert project.validation_keys() == [c] and c not in project.labelled_keys()
    np.testing.assert_array_equal(project.load_label(c), masks[c])

    widget.go_to_key(d)
    qtbot.mouseClick(panel.skip, Qt.MouseButton.LeftButton)
    assert project.status(d) == "skipped"

    # The counts line names the labelled, validation and skipped counts.
    assert status.counts.text().startswith(
        "Labelled 3 / 16 frames  (training 2, validation 1, skipped 1)"
    ), status.counts.text()
    # The per-class pixels are those of the accepted labels, validation included; every class
    # is listed with its own count (0 for the unpainted ones).
    expected = sum(np.bincount(m.ravel(), minlength=256)[: len(names)] for m in masks.values())
    assert (expected[5], expected[1], expected[3]) == (160, 40, 30)
    pixels = status.pixels.text()
    for cls, name in enumerate(names):
        assert pixel_cell(name, int(expected[cls])) in pixels, (name, pixels)

    # Reopened, the counts come back from disk (the pixels counted in a worker thread).
    root = project.root
    widget.close_project()
    assert status.counts.text() == "No project open" and status.pixels.text() == ""
    project = widget.open_project(root)
    assert project is not None
    qtbot.waitUntil(lambda: pixel_cell(names[3], 30) in status.pixels.text(), timeout=30_000)
    for cls, name in enumerate(names):
        assert pixel_cell(name, int(expected[cls])) in status.pixels.text(), name
    assert "(training 2, validation 1, skipped 1)" in status.counts.text()

    # Back on the validation frame the box is ticked; unticking it and Accept labels it again.
    widget.go_to_key(a)
    assert not panel.validation.isChecked()
    widget.go_to_key(c)
    assert panel.validation.isChecked()
    panel.validation.click()
    qtbot.mouseClick(panel.accept, Qt.MouseButton.LeftButton)
    assert project.status(c) == "labelled" and project.validation_keys() == []
    assert c in project.labelled_keys()
    assert status.counts.text().startswith(
        "Labelled 3 / 16 frames  (training 3, validation 0, skipped 1)"
    ), status.counts.text()
    assert pixel_cell(names[3], 30) in status.pixels.text()  # the same label, counted once


def test_round_line_and_auto_fill_from_the_trained_model(
    project_widget, qtbot, monkeypatch
) -> None:
    # The paste mechanics, with the quality floor at 0 (the tiny model's Dice is whatever it
    # is): the floor itself is tested below.
    monkeypatch.setattr(autofill, "AUTOFILL_FLOOR", 0.0)
    widget, viewer = project_widget
    project, panel, status, layers = widget.project, widget.annotate, widget.status, widget.layers
    queued = [e.key for e in project.queue]
    for key in queued[:3]:
        label_from_truth(widget, viewer, key)
    widget.go_to_key(queued[3])
    panel.validation.setChecked(True)
    label_from_truth(widget, viewer, queued[3])  # a validation frame: the round's Dice
    assert project.status(queued[3]) == "validation"
    assert status.last_round.text() == ""  # no round yet

    assert widget.retrain() is not None
    wait_round(qtbot, widget)
    assert len(project.rounds) == 1
    record = project.rounds[-1]
    assert record.n_validation == 1 and record.mean_dice is not None
    assert 0.0 <= record.mean_dice <= 1.0
    line = status.last_round.text()
    assert line.startswith("Round 1: 3 labels"), line  # the validation frame is not one
    assert f"validation mean Dice {record.mean_dice:.3f}" in line, line

    # Unlabelled frames the scoring pass cached a prediction for, other than the one on screen.
    fresh = [
        k
        for k in project.unlabelled_keys()
        if k != widget.current_key and project.prediction(k) is not None
    ]
    assert len(fresh) >= 2, "the round cached no predictions to fill from"
    filled, left_empty = fresh[:2]

    # Auto-fill ticked: the new frame opens with the model's prediction as its annotation.
    assert panel.auto_prediction.isChecked()  # on by default
    widget.go_to_key(filled)
    assert widget.current_key == filled
    prediction = project.prediction(filled)
    assert (prediction != IGNORE).any()  # an empty annotation could not pass for it
    np.testing.assert_array_equal(layers.annotation.data, prediction)
    np.testing.assert_array_equal(layers.prediction.data, prediction)

    # Unticked: the next new frame opens empty, its prediction shown only as the overlay.
    panel.auto_prediction.setChecked(False)
    widget.go_to_key(left_empty)
    assert widget.current_key == left_empty
    assert (layers.annotation.data == IGNORE).all()
    np.testing.assert_array_equal(layers.prediction.data, project.prediction(left_empty))

    # A second round: the line follows the newest round.
    label_from_truth(widget, viewer, filled)
    assert widget.retrain() is not None
    wait_round(qtbot, widget)
    assert [r.round for r in project.rounds] == [1, 2]
    second = project.rounds[-1]
    assert second.mean_dice is not None
    line = status.last_round.text()
    assert line.startswith("Round 2: 4 labels"), line
    assert f"validation mean Dice {second.mean_dice:.3f}" in line, line


def fresh_frames(widget) -> list[str]:
    """Unlabelled frames with a cached prediction, other than the one on screen."""
    project = widget.project
    return [
        k
        for k in project.unlabelled_keys()
        if k != widget.current_key and project.prediction(k) is not None
    ]


def test_auto_fill_pastes_only_above_the_quality_floor_and_says_why(
    project_widget, qtbot, monkeypatch
) -> None:
    widget, viewer = project_widget
    project, panel, status, layers = widget.project, widget.annotate, widget.status, widget.layers
    for key in [e.key for e in project.queue][:3]:
        label_from_truth(widget, viewer, key)
    assert widget.retrain() is not None
    wait_round(qtbot, widget)
    record = project.rounds[-1]
    # No validation frame: the round measured Dice on its own training labels instead.
    assert record.mean_dice is None and record.train_dice is not None
    q = record.train_dice
    below, above = q + 0.01, q - 0.01  # floors just above and just below the measured figure

    monkeypatch.setattr(autofill, "AUTOFILL_FLOOR", below)
    status.show_rounds(project.rounds)
    assert status.last_round.text().splitlines()[-1] == (
        f"Auto-fill: training-set Dice {q:.3f}, floor {below:.2f}: "
        "predictions show as the overlay only"
    )
    first, second = fresh_frames(widget)[:2]
    widget.go_to_key(first)
    assert panel.auto_prediction.isChecked()
    assert (layers.annotation.data == IGNORE).all()  # not pasted...
    np.testing.assert_array_equal(layers.prediction.data, project.prediction(first))  # ...shown
    why = (
        f"prediction not pasted: training-set Dice {q:.3f} is below the auto-fill floor "
        f"{below:.2f}; it shows as the overlay"
    )
    assert why in panel.frame_info.text(), panel.frame_info.text()

    monkeypatch.setattr(autofill, "AUTOFILL_FLOOR", above)
    widget.go_to_key(second)
    np.testing.assert_array_equal(layers.annotation.data, project.prediction(second))
    assert f"prediction pasted (training-set Dice {q:.3f} >= floor {above:.2f})" in (
        panel.frame_info.text()
    )

    # Never over the user's edits: an edited frame stays as painted when a round lands.
    widget.go_to_key(first)
    paint(widget, stroke(tuple(project.frames.shape), {2: 50}))
    painted = layers.annotation.data.copy()
    assert widget.retrain() is not None
    wait_round(qtbot, widget)
    assert widget.current_key == first
    np.testing.assert_array_equal(layers.annotation.data, painted)
