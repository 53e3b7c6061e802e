"""The Learn form refuses a bad value before its round's job starts (issue 25)."""

from __future__ import annotations

import pytest

from alges_napari.core.acquire.strategies import get_strategy
from alges_napari.core.errors import AlgesError
from alges_napari.core.session import RoundConfig


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (RoundConfig(query_size=0), "frames to queue (query size) must be at least 1, got 0"),
        (RoundConfig(epochs=0), "epochs must be at least 1, got 0"),
        (RoundConfig(seed=-2), "seed must be at least 0, got -2"),
    ],
)
def test_a_bad_round_setting_starts_no_job(project_widget, messages, config, message) -> None:
    widget, _viewer = project_widget
    project = widget.project
    project.accept_label(project.keys[0], project.frames.ground_truth(0))
    started = []
    widget.rounds._start_job = lambda *a, **k: started.append(a)  # any start fails the test
    assert widget.retrain(config) is None
    assert started == [] and not widget.round_running
    assert widget.learn.progress_text.text().startswith(f"Not started: {message}")
    assert any(message in m for m in messages)  # said in a notification too
    assert project.rounds == [] and project.latest_checkpoint() is None


def test_a_bad_strategy_name_fails_at_the_form_naming_it() -> None:
    from alges_napari._qt.learn_panel import round_settings

    # The form resolves the chosen name once, where it is chosen: a bad one goes no further.
    with pytest.raises(AlgesError) as info:
        round_settings(strategy="alges")
    assert "unknown selection strategy 'alges' (did you mean 'alges-seg'?)" in str(info.value)
    assert round_settings(strategy="entropy").strategy is get_strategy("entropy")


def test_a_bad_engine_setting_starts_no_job(project_widget, monkeypatch) -> None:
    from alges_napari.core.learn import engine

    widget, _viewer = project_widget
    project = widget.project
    project.accept_label(project.keys[0], project.frames.ground_truth(0))
    monkeypatch.setattr(engine, "onnx_available", lambda: False)
    widget.learn.engine.value = "onnx"
    assert widget.retrain(RoundConfig()) is None
    assert "engine 'onnx' needs ONNX Runtime" in widget.learn.progress_text.text()
    assert project.latest_checkpoint() is None


def test_the_widgets_engine_reaches_the_rounds_scoring_passes(
    project_widget, qtbot, monkeypatch
) -> None:
    from tests.engine_spy import engine_environ, spy_here
    from tests.qt.test_widget import wait_round

    seen = spy_here(monkeypatch)
    monkeypatch.delenv("ALGES_ENGINE", raising=False)
    widget, _viewer = project_widget
    project = widget.project
    project.accept_label(project.keys[0], project.frames.ground_truth(0))
    widget.learn.engine.value = "torch"
    assert widget.retrain(RoundConfig(query_size=2)) is not None
    wait_round(qtbot, widget)
    assert len(project.rounds) == 1 and len(project.queue) == 2
    # The round's passes (validation, the pool) were all told the widget's choice, as an
    # argument: nothing process-wide or in the environment carried it.
    assert seen and set(seen) == {"torch"}
    assert widget.session.engine == "torch"
    assert engine_environ() == {}
