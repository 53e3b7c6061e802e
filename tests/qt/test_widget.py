"""The ALGES dock widget in a real napari viewer: the whole annotation loop, end to end."""

from __future__ import annotations

import threading
import time
from functools import partial
from pathlib import Path

import numpy as np
from PIL import Image
from qtpy.QtCore import QElapsedTimer, Qt, QThreadPool, QTimer

from alges_napari._qt.annotate_panel import KEYS, key_label
from alges_napari._qt.layers import IGNORE
from alges_napari.core.acquire.queue import QueueEntry
from alges_napari.core.project.project import Project

ROUND_TIMEOUT_MS = 240_000  # a tiny round takes seconds; the shared test machine can be slow


def wait_round(qtbot, widget) -> None:
    qtbot.waitUntil(lambda: not widget.round_running, timeout=ROUND_TIMEOUT_MS)


def label_from_truth(widget, viewer, key: str) -> np.ndarray:
    """Paint ``key``'s ground truth into the annotation as napari's tools would, and accept."""
    project = widget.project
    widget.go_to_key(key)
    truth = project.frames.truth(key)
    layer = widget.layers.annotation
    idx = np.nonzero(np.ones_like(truth, bool))
    layer.data_setitem(idx, truth[idx])
    assert widget.accept() is not None
    return truth


def click_row(qtbot, table, row: int) -> None:
    rect = table.visualItemRect(table.item(row, 1))
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def test_end_to_end_label_retrain_rank_correct_accept(
    project_widget, qtbot, tmp_path, monkeypatch
) -> None:
    widget, viewer = project_widget
    project = widget.project
    # A new project: frames spread over the pool are queued, nothing is labelled yet.
    assert len(project.queue) == widget.learn.query_size.value
    assert widget.current_key == project.queue[0].key
    assert not widget.learn.retrain.isEnabled()  # no "Retrain" with zero labels

    for entry in project.queue[:3]:
        label_from_truth(widget, viewer, entry.key)
    assert widget.learn.retrain.isEnabled()
    qtbot.mouseClick(widget.learn.retrain, Qt.MouseButton.LeftButton)
    assert widget.round_running and not widget.learn.retrain.isEnabled()  # one round at a time
    assert widget.retrain() is None
    wait_round(qtbot, widget)

    # The queue fills with unlabelled frames of the new round.
    assert len(project.rounds) == 1
    queue = [e.key for e in project.queue]
    assert len(queue) == widget.learn.query_size.value
    assert all(project.status(k) == "unlabelled" for k in queue)
    table = widget.annotate.queue
    assert table.keys == queue and table.rowCount() == len(queue)

    # Go to the first queued frame with a click, annotation left empty (auto-fill off) ...
    widget.annotate.auto_prediction.setChecked(False)
    click_row(qtbot, table, 0)
    key = queue[0]
    assert widget.current_key == key
    assert viewer.dims.current_step[0] == project.frames.index_of(key)
    layer = widget.layers.annotation
    assert (layer.data == IGNORE).all()
    # ... then start from the prediction the scoring pass cached for it.
    prediction = project.prediction(key)
    assert prediction is not None and prediction.shape == (64, 96)
    np.testing.assert_array_equal(widget.layers.prediction.data, prediction)
    qtbot.mouseClick(widget.annotate.from_prediction, Qt.MouseButton.LeftButton)
    np.testing.assert_array_equal(layer.data, prediction)

    # Paint a stroke with napari's brush (Labels.paint, as a mouse drag does), class Grasper.
    qtbot.mouseClick(widget.annotate.palette.buttons[5], Qt.MouseButton.LeftButton)
    assert layer.selected_label == 5
    layer.brush_size = 5
    stroke = [(20, x) for x in range(30, 60, 2)]
    for point in stroke:
        layer.paint(point, layer.selected_label)
    painted = np.array(layer.data)
    changed = painted != prediction
    assert changed.any() and (painted[changed] == 5).all()

    qtbot.mouseClick(widget.annotate.accept, Qt.MouseButton.LeftButton)
    on_disk = np.asarray(Image.open(project.label_path(key)))
    np.testing.assert_array_equal(on_disk, painted)
    assert all(on_disk[y, x] == 5 for y, x in stroke)
    assert project.status(key) == "labelled"
    assert project.annotation_seconds(key) > 0

    # The next round's queue no longer holds the accepted frame.
    job = widget.retrain()
    assert job is not None
    wait_round(qtbot, widget)
    assert len(project.rounds) == 2
    assert key not in [e.key for e in project.queue]
    assert key in project.labelled_keys()

    # Export the model through the button's dialog; a non-empty folder gets a new sub-folder.
    from alges_napari._qt import export_actions as _export_actions
    from alges_napari.core.learn.model import load_checkpoint

    (tmp_path / "exports").mkdir()
    (tmp_path / "exports" / "other.txt").write_text("not ours")
    monkeypatch.setattr(
        _export_actions.QFileDialog, "getExistingDirectory", lambda *a: str(tmp_path / "exports")
    )
    assert widget.export_model_button.isEnabled()
    qtbot.mouseClick(widget.export_model_button, Qt.MouseButton.LeftButton)
    exported = tmp_path / "exports" / "proj_model" / "model.safetensors"
    qtbot.waitUntil(exported.is_file, timeout=30_000)
    model, spec, _ = load_checkpoint(exported)
    assert spec.num_classes == project.schema.num_classes


def first_train_step(qtbot, widget, seen: list) -> None:
    """Record progress records from now on and wait until training has taken a step."""
    show = widget.learn.show_progress
    widget.learn.show_progress = lambda p: (seen.append(p), show(p))
    job = widget.retrain()
    assert job is not None
    qtbot.waitUntil(
        lambda: any(p.stage == "train" and (p.step or 0) >= 1 for p in seen), timeout=60_000
    )
    return job


def test_gui_event_loop_never_stalls_during_a_round(project_widget, qtbot) -> None:
    widget, viewer = project_widget
    for entry in widget.project.queue[:4]:
        label_from_truth(widget, viewer, entry.key)
    widget.learn.epochs.value = 2
    gaps: list[tuple[int, str]] = []  # (ms since the previous tick, stage seen last)
    clock = QElapsedTimer()
    timer = QTimer()
    timer.setInterval(10)
    stages: list[str] = ["start"]

    def tick() -> None:
        gaps.append((clock.restart(), stages[-1]))

    timer.timeout.connect(tick)
    show = widget.learn.show_progress
    widget.learn.show_progress = lambda p: (stages.append(p.stage), show(p))
    clock.start()
    timer.start()
    started = time.perf_counter()
    assert widget.retrain() is not None
    wait_round(qtbot, widget)
    seconds = time.perf_counter() - started
    timer.stop()
    assert {"train", "score", "select"} <= set(stages)  # a whole round ran
    assert len(widget.project.rounds) == 1
    worst = sorted(gaps, reverse=True)[:3]
    print(
        f"round {seconds:.1f} s, {len(gaps)} ticks, longest event-loop stalls (ms, stage) {worst}"
    )
    assert worst[0][0] < 250


def test_cancel_ends_the_round_within_one_batch(project_widget, qtbot) -> None:
    widget, viewer = project_widget
    widget.learn.epochs.value = 500  # far longer than the test: only Cancel can end it
    for entry in widget.project.queue[:3]:
        label_from_truth(widget, viewer, entry.key)
    seen: list = []
    first_train_step(qtbot, widget, seen)
    assert widget.learn.cancel.isEnabled()
    before = len(seen)
    started = time.perf_counter()
    qtbot.mouseClick(widget.learn.cancel, Qt.MouseButton.LeftButton)
    assert not widget.learn.cancel.isEnabled()
    wait_round(qtbot, widget)
    print(f"cancel -> round ended in {time.perf_counter() - started:.3f} s")
    assert len([p for p in seen[before:] if p.stage == "train"]) <= 1  # at most one batch
    assert widget.project.rounds == [] and widget.project.latest_checkpoint() is None
    assert "stopped" in widget.learn.progress_text.text()
    assert widget.learn.retrain.isEnabled()  # ready for the next round


def test_auto_retrain_after_k_accepted_labels(project_widget, qtbot) -> None:
    widget, viewer = project_widget
    widget.learn.auto_every.value = 2
    keys = [e.key for e in widget.project.queue[:2]]
    label_from_truth(widget, viewer, keys[0])
    assert not widget.round_running
    label_from_truth(widget, viewer, keys[1])
    assert widget.round_running  # the second accepted label started a round
    widget.cancel()
    wait_round(qtbot, widget)


def test_closing_the_viewer_mid_round_stops_it_cleanly(project_widget, qtbot) -> None:
    widget, viewer = project_widget
    project = widget.project
    root = project.root
    widget.learn.epochs.value = 500
    labelled = [e.key for e in project.queue[:3]]
    for key in labelled:
        label_from_truth(widget, viewer, key)
    job = first_train_step(qtbot, widget, [])
    viewer.close()
    qtbot.waitUntil(job.finished.is_set, timeout=60_000)
    qtbot.waitUntil(lambda: QThreadPool.globalInstance().activeThreadCount() == 0, timeout=10_000)
    assert widget.project is None  # released: the lock is free for the next session
    with Project.open(root) as reopened:
        assert sorted(reopened.labelled_keys()) == sorted(labelled)
        assert reopened.rounds == [] and reopened.recovery is None
        for key in labelled:
            truth = reopened.frames.truth(key)
            np.testing.assert_array_equal(reopened.load_label(key), truth)


def test_worker_errors_become_napari_notifications(project_widget, qtbot) -> None:
    from napari.utils.notifications import notification_manager

    widget, viewer = project_widget
    key = widget.project.queue[0].key
    label_from_truth(widget, viewer, key)
    widget.project.label_path(key).write_bytes(b"not a PNG any more")  # damaged on disk
    messages: list[str] = []
    notification_manager.notification_ready.connect(lambda e: messages.append(str(e.message)))
    assert widget.retrain() is not None
    wait_round(qtbot, widget)
    qtbot.waitUntil(lambda: bool(messages), timeout=5_000)
    assert any("cannot read mask" in m for m in messages)
    assert "failed" in widget.learn.progress_text.text()
    assert widget.learn.retrain.isEnabled() and widget.project is not None


def test_buttons_are_disabled_when_they_cannot_work(widget_and_viewer, sample_tree, tmp_path):
    widget, viewer = widget_and_viewer
    a, learn = widget.annotate, widget.learn
    buttons = (a.next, a.accept, a.skip, a.from_prediction, learn.retrain, learn.cancel)
    assert not any(b.isEnabled() for b in buttons)  # no project yet
    widget.learn.query_size.value = 3
    from tests.qt.conftest import TINY

    widget.create_project(str(sample_tree), str(tmp_path / "p"), **TINY)
    project = widget.project
    assert a.next.isEnabled() and a.accept.isEnabled() and a.skip.isEnabled()
    assert not a.from_prediction.isEnabled()  # no model, so no prediction
    assert not learn.retrain.isEnabled() and not learn.cancel.isEnabled()
    assert not widget.export_labels_button.isEnabled()
    assert not widget.export_model_button.isEnabled()
    queued = [e.key for e in project.queue]
    assert len(queued) == 3
    for key in queued:  # label every queued frame: nothing is left for "Next"
        widget.go_to_key(key)
        widget.layers.annotation.paint((5, 5), 1)  # an Accept with nothing painted is refused
        assert widget.accept() is not None
    assert not a.next.isEnabled()
    assert project.pending_queue() == []
    assert learn.retrain.isEnabled() and widget.export_labels_button.isEnabled()
    assert not a.skip.isEnabled()  # a labelled frame cannot be skipped


def test_shortcuts_move_accept_skip_and_are_unbound_on_close(project_widget, qtbot) -> None:
    widget, viewer = project_widget
    a = widget.annotate
    for button, name in ((a.next, "next"), (a.accept, "accept"), (a.skip, "skip")):
        assert f"[{key_label(KEYS[name])}]" in button.toolTip()
    project = widget.project
    queue = [e.key for e in project.queue]
    assert widget.current_key == queue[0]
    canvas = viewer.window._qt_viewer.canvas.native
    canvas.setFocus()
    qtbot.keyClick(canvas, Qt.Key.Key_N)
    assert widget.current_key == queue[1]
    qtbot.keyClick(canvas, Qt.Key.Key_N, Qt.KeyboardModifier.ShiftModifier)  # skip
    assert project.status(queue[1]) == "skipped" and widget.current_key == queue[2]
    widget.layers.annotation.paint((5, 5), 1)  # an Accept with nothing painted is refused
    qtbot.keyClick(canvas, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)  # accept
    assert project.status(queue[2]) == "labelled"
    step = viewer.dims.current_step
    widget.shutdown()
    assert widget.current_key is None and widget.opened is None  # the dock holds no project
    qtbot.keyClick(canvas, Qt.Key.Key_N)
    assert viewer.dims.current_step == step  # unbound: nothing moves any more
    assert all(viewer.bind_key(k, None) is None for k in KEYS.values())


def test_drafts_reopen_and_locked_projects(project_widget, qtbot, tmp_path) -> None:
    from napari.utils.notifications import notification_manager

    widget, viewer = project_widget
    project = widget.project
    root = project.root
    first, second = [e.key for e in project.queue[:2]]
    layer = widget.layers.annotation
    layer.paint((10, 10), 2)  # edit the first frame, leave it without accepting
    edited = np.array(layer.data)
    widget.go_to_key(second)
    assert (layer.data == IGNORE).all()  # the next frame starts empty (no model yet)
    widget.go_to_key(first)
    np.testing.assert_array_equal(layer.data, edited)  # the draft came back
    assert "edited, not accepted" in widget.annotate.frame_info.text()
    widget.accept()
    widget.close_project()
    assert not any(name.startswith("ALGES") for name in (ly.name for ly in viewer.layers))

    messages: list[str] = []
    notification_manager.notification_ready.connect(lambda e: messages.append(str(e.message)))
    with Project.open(root):  # another session holds the project: opening it here must fail
        assert widget.open_project(root) is None
    assert any("open for writing" in m for m in messages)

    assert widget.open_project(root) is not None  # resume: the label and the queue come back
    assert [e.key for e in widget.project.queue] == [e.key for e in project.queue]
    widget.go_to_key(first)
    np.testing.assert_array_equal(widget.layers.annotation.data, edited)
    assert "labelled" in widget.annotate.frame_info.text()


def test_form_creates_a_project_and_exports_work(widget_and_viewer, sample_tree, tmp_path, qtbot):
    widget, viewer = widget_and_viewer
    form = widget.form
    form.source.value = str(sample_tree)
    form.root.value = tmp_path / "made"
    form.preset.value = "cpu"
    qtbot.mouseClick(form.create_button, Qt.MouseButton.LeftButton)
    project = widget.project
    assert project is not None and project.config["preset"] == "cpu"
    assert project.schema.name == "cholecseg8k" and len(project.keys) == 16
    names = [ly.name for ly in viewer.layers]
    assert any(n.startswith("ALGES frames") for n in names)
    key = project.queue[0].key
    truth = label_from_truth(widget, viewer, key)
    job = widget.export_labels(tmp_path / "out", "index")
    qtbot.waitUntil(job.finished.is_set, timeout=30_000)
    exported = np.asarray(Image.open(tmp_path / "out" / f"{key}.png"))
    np.testing.assert_array_equal(exported, truth)
    assert not widget.export_model_button.isEnabled()  # nothing trained yet


def test_widget_docks_from_the_plugin_manifest(make_napari_viewer) -> None:
    from alges_napari._qt.widget import AlgesWidget

    viewer = make_napari_viewer()
    _, widget = viewer.window.add_plugin_dock_widget("alges-napari", "ALGES Active Learning")
    # napari hands plugins a PublicOnlyProxy of the viewer, not the viewer itself.
    assert isinstance(widget, AlgesWidget)
    assert getattr(widget.viewer, "__wrapped__", widget.viewer) is viewer
    widget.shutdown()


def test_form_offers_frames_opened_with_the_reader(make_napari_viewer, qtbot, sample_tree) -> None:
    from alges_napari._qt.widget import AlgesWidget

    viewer = make_napari_viewer()
    viewer.open(str(sample_tree), plugin="alges-napari")  # as `napari ... -- sample_data/...`
    widget = AlgesWidget(viewer)
    try:
        values = widget.form.values()
        assert values["source"] == str(sample_tree.resolve())
        assert values["root"] == str(sample_tree.resolve().parent / "cholecseg8k_alges")
        widget.form.source.value = "/some/other/frames"  # the user's choice is never overwritten
        viewer.open(str(sample_tree), plugin="alges-napari")
        assert widget.form.values()["source"] == "/some/other/frames"
    finally:
        widget.shutdown()


def test_changes_made_through_the_project_api_reach_the_widget(project_widget, qtbot) -> None:
    """An accept, a skip and a new queue made in another thread, not through the dock's buttons,
    show in the counts line, the queue table and the buttons, applied in the GUI thread."""
    widget, viewer = project_widget
    project, table, status = widget.project, widget.annotate.queue, widget.status
    key, skipped = project.queue[1].key, project.queue[2].key  # not the frame on screen
    truth = project.frames.truth(key)
    assert table.status_of(key) == "unlabelled" and not widget.learn.retrain.isEnabled()
    assert status.counts.text().startswith("Labelled 0 / 16 frames")
    pixels_before = status.pixels.text()
    shown_in: list[threading.Thread] = []
    show_counts = status.show_counts
    status.show_counts = lambda *a: (shown_in.append(threading.current_thread()), show_counts(*a))

    def in_thread(work) -> None:
        errors: list[BaseException] = []
        thread = threading.Thread(target=lambda: _record_errors(work, errors))
        thread.start()
        thread.join()
        assert not errors

    in_thread(lambda: project.accept_label(key, truth))
    qtbot.waitUntil(lambda: table.status_of(key) == "labelled", timeout=5_000)
    assert status.counts.text().startswith("Labelled 1 / 16 frames  (training 1, validation 0")
    assert f"{len(project.queue) - 1} queued to label" in status.counts.text()
    assert widget.learn.retrain.isEnabled() and widget.export_labels_button.isEnabled()
    assert status.pixels.text() != pixels_before  # the new label's pixels are counted

    in_thread(lambda: project.skip(skipped))
    qtbot.waitUntil(lambda: table.status_of(skipped) == "skipped", timeout=5_000)
    assert "skipped 1)" in status.counts.text()

    new_queue = [QueueEntry(k, r) for r, k in enumerate(project.unlabelled_keys()[:2])]
    in_thread(lambda: project.set_queue(new_queue))
    qtbot.waitUntil(lambda: table.keys == [e.key for e in new_queue], timeout=5_000)
    assert "; 2 queued to label" in status.counts.text()
    assert shown_in and all(t is threading.main_thread() for t in shown_in)


def _record_errors(work, errors: list) -> None:
    try:
        work()
    except BaseException as exc:  # reported by the test, in the test's thread
        errors.append(exc)


def test_moving_between_frames_recounts_nothing(project_widget, monkeypatch) -> None:
    widget, viewer = project_widget
    project = widget.project
    label_from_truth(widget, viewer, project.queue[0].key)
    calls: list[str] = []
    whole_pool = ("counts", "latest_checkpoint", "pending_queue", "labelled_keys")
    for name in whole_pool + ("unlabelled_keys", "validation_keys", "rounds"):
        original = getattr(type(project), name)
        if isinstance(original, property):
            monkeypatch.setattr(
                type(project), name, property(lambda p, n=name, o=original: _log(calls, n, o, p))
            )
        else:
            monkeypatch.setattr(project, name, partial(_log, calls, name, original, project))
    glob = Path.glob
    monkeypatch.setattr(Path, "glob", lambda self, *a: _log(calls, "glob", glob, self, *a))
    for index in range(len(project.keys)):
        widget.go_to_key(project.keys[index])
        assert widget.current_key == project.keys[index]
    widget.next_frame()
    widget.next_frame()
    assert calls == []


def _log(calls: list, name: str, original, *args):
    calls.append(name)
    return original.fget(*args) if isinstance(original, property) else original(*args)


def test_an_opened_project_without_queue_or_rounds_gets_the_first_queue(
    widget_and_viewer, sample_tree, tmp_path
) -> None:
    from alges_napari.core.acquire.queue import initial_queue
    from tests.qt.conftest import TINY

    widget, viewer = widget_and_viewer
    root = tmp_path / "old"
    Project.create(root, str(sample_tree), first_queue=0, **TINY).close()  # as older versions
    widget.learn.query_size.value = 4
    project = widget.open_project(root)
    expected = initial_queue(project.keys, 4)
    assert project.queue == expected and len(expected) == 4
    assert widget.annotate.queue.keys == [e.key for e in expected]
    assert widget.current_key == expected[0].key and widget.annotate.next.isEnabled()


def test_parameter_forms_are_magicgui_forms_of_typed_signatures(
    widget_and_viewer, sample_tree, tmp_path, qtbot, monkeypatch
) -> None:
    from magicgui.widgets import FunctionGui

    from alges_napari._qt import export_actions
    from alges_napari.core.acquire.strategies import (
        DEFAULT_STRATEGY,
        available_strategies,
        get_strategy,
    )
    from alges_napari.core.project.export import LABEL_FORMATS
    from alges_napari.core.project.label_import import IMPORT_FORMATS
    from alges_napari.core.session import RoundConfig

    widget, viewer = widget_and_viewer
    form, learn, export = widget.form, widget.learn, widget.export
    assert all(isinstance(g, FunctionGui) for g in (form.fields, learn.settings, export.options))
    assert [w.name for w in form.fields] == [
        "source", "root", "schema", "preset", "stride", "encoder_weights"
    ]  # fmt: skip
    assert [w.name for w in learn.settings] == ["strategy", "query_size", "epochs", "auto_every"]
    assert list(learn.strategy.choices) == available_strategies()
    assert learn.strategy.value == DEFAULT_STRATEGY
    assert list(export.options.fmt.choices) == list(export_actions.EXPORT_FORMATS)
    assert export_actions.EXPORT_FORMATS == LABEL_FORMATS  # the core's, written out
    assert export_actions.IMPORT_FORMATS == IMPORT_FORMATS
    assert "every n-th frame" in form.stride.tooltip  # tooltips come from the docstrings
    assert "after every K accepted labels" in learn.auto_every.tooltip

    form.source.value = sample_tree
    form.root.value = tmp_path / "strided"
    form.stride.value = 2
    learn.query_size.value = 3
    qtbot.mouseClick(form.create_button, Qt.MouseButton.LeftButton)
    project = widget.project
    assert len(project.keys) == 8 and len(project.queue) == 3
    assert form.fields.native.isHidden() and not widget.close_button.isHidden()
    assert learn.epochs.value == 3  # the cpu preset's epochs, shown once the project is open
    learn.strategy.value, learn.epochs.value = "entropy", 2
    expected = RoundConfig(strategy=get_strategy("entropy"), query_size=3, epochs=2)
    assert learn.round_config() == expected

    key = project.queue[0].key
    label_from_truth(widget, viewer, key)
    export.options.fmt.value = "cholecseg8k"
    monkeypatch.setattr(
        export_actions.QFileDialog, "getExistingDirectory", lambda *a: str(tmp_path / "out")
    )
    (tmp_path / "out").mkdir()
    qtbot.mouseClick(widget.export_labels_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: any((tmp_path / "out").rglob("*_endo_color_mask.png")), timeout=30_000)


def test_predictions_cached_in_a_worker_thread_reach_the_frame_on_screen(
    project_widget, qtbot
) -> None:
    widget, viewer = project_widget
    project, layers = widget.project, widget.layers
    key = widget.current_key
    assert not widget.annotate.from_prediction.isEnabled()  # no model yet
    prediction = np.zeros((64, 96), np.uint8)
    prediction[:, 48:] = 2
    heat = np.full((64, 96), 7, np.uint8)
    other = project.queue[1].key
    # A round whose quality figure reaches the auto-fill floor: only then is a prediction pasted.
    from alges_napari.core.project.records import RoundRecord

    project.record_round(RoundRecord(round=1, train_dice=0.9))
    worker = threading.Thread(
        target=lambda: (
            project.write_cache(other, prediction),
            project.write_cache(key, prediction, heat),
        )
    )
    worker.start()
    worker.join()
    qtbot.waitUntil(lambda: widget.annotate.from_prediction.isEnabled(), timeout=5_000)
    np.testing.assert_array_equal(layers.prediction.data, prediction)
    np.testing.assert_array_equal(layers.heat.data, heat)
    # The untouched frame opens with the new prediction (auto-fill is on) ...
    np.testing.assert_array_equal(layers.annotation.data, prediction)
    layers.annotation.paint((5, 5), 1)  # ... but an edited one keeps the user's work
    edited = np.array(layers.annotation.data)
    project.write_cache(key, np.ones((64, 96), np.uint8))
    np.testing.assert_array_equal(layers.annotation.data, edited)
    assert (layers.prediction.data == 1).all()
    project.clear_cache()  # as a scoring pass starts: the overlay empties, the button follows
    assert (layers.prediction.data == IGNORE).all()
    assert not widget.annotate.from_prediction.isEnabled()
    np.testing.assert_array_equal(layers.annotation.data, edited)
