"""Project change events, the incrementally kept counts and the cached latest checkpoint."""

from __future__ import annotations

import json
import logging
import os
import threading
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from alges_napari.core.project.project import (
    STATUSES,
    Project,
    ProjectEvent,
    QueueEntry,
    RoundRecord,
)
from tests.core.project.random_frames import random_mask

pytestmark = pytest.mark.project(n_frames=8)


def on_disk(project: Project) -> dict:
    return json.loads((project.root / "state.json").read_text())


def test_events_name_the_change_after_it_is_on_disk(project: Project) -> None:
    a, b, c = project.keys[:3]
    seen: list[tuple[ProjectEvent, dict]] = []
    unsubscribe = project.subscribe(lambda event: seen.append((event, on_disk(project))))
    project.accept_label(a, random_mask(0))
    project.skip(b)
    project.set_validation(c)
    project.set_queue([QueueEntry(b, 0, 0.5)])
    project.record_round(RoundRecord(round=1, n_labelled=1))
    project.write_cache(a, random_mask(1))
    project.clear_cache()
    assert [event for event, _ in seen] == [
        ProjectEvent("label", (a,)),
        ProjectEvent("status", (b,)),
        ProjectEvent("status", (c,)),
        ProjectEvent("queue"),
        ProjectEvent("round"),
        ProjectEvent("cache", (a,)),
        ProjectEvent("cache"),
    ]
    # Each subscriber saw the state file that already held its change.
    states = [state for _, state in seen]
    assert states[0]["frames"][a]["status"] == "labelled"
    assert states[1]["frames"][b]["status"] == "skipped"
    assert states[2]["frames"][c]["status"] == "validation"
    assert states[3]["queue"] == [QueueEntry(b, 0, 0.5).to_json()]
    assert states[3]["queue"][0]["key"] == b and states[3]["queue"][0]["score"] == 0.5
    assert [r["round"] for r in states[4]["rounds"]] == [1]
    unsubscribe()
    unsubscribe()  # idempotent
    project.skip(b, False)
    assert len(seen) == 7


def test_events_come_in_the_changing_thread_outside_the_gate(project: Project) -> None:
    got: list[tuple[ProjectEvent, int, bool]] = []
    first = threading.Event()

    def callback(event: ProjectEvent) -> None:
        if first.is_set():
            return  # the other thread's own event
        first.set()
        # Another thread can change the project meanwhile: the gate is no longer held.
        other = threading.Thread(target=project.skip, args=(project.keys[5],))
        other.start()
        other.join(timeout=5)
        got.append((event, threading.get_ident(), other.is_alive()))

    project.subscribe(callback)
    worker = threading.Thread(target=project.set_queue, args=([QueueEntry(project.keys[1], 0)],))
    worker.start()
    worker.join(timeout=10)
    assert got == [(ProjectEvent("queue"), worker.ident, False)]
    assert project.status(project.keys[5]) == "skipped"


def test_a_failing_subscriber_never_breaks_the_write(
    project: Project, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(event: ProjectEvent) -> None:
        raise RuntimeError("widget gone")

    seen: list[ProjectEvent] = []
    project.subscribe(broken)
    project.subscribe(seen.append)
    key = project.keys[0]
    with caplog.at_level(logging.ERROR, logger="alges_napari.core.project.events"):
        path = project.accept_label(key, random_mask(0))
    assert path.is_file() and on_disk(project)["frames"][key]["status"] == "labelled"
    assert seen == [ProjectEvent("label", (key,))]  # later subscribers still hear of it
    assert "widget gone" in caplog.text


def test_event_kinds_are_checked() -> None:
    with pytest.raises(ValueError, match="kind"):
        ProjectEvent("labels", ("x",))


def test_counts_stay_exact_through_changes(project: Project) -> None:
    keys = project.keys
    assert project.counts() == {"unlabelled": 8, "labelled": 0, "skipped": 0, "validation": 0}
    rng = np.random.default_rng(5)
    for step in range(40):
        key = keys[int(rng.integers(len(keys)))]
        action = int(rng.integers(5))
        if action == 0:
            project.accept_label(key, random_mask(step))
        elif action in (1, 2):
            project.skip(key, flag=action == 1)
        else:
            project.set_validation(key, flag=action == 3)
        recount = Counter(project.status(k) for k in keys)
        assert project.counts() == {s: recount[s] for s in STATUSES}, f"after step {step}"
    expected = project.counts()
    project.close()
    with Project.open(project.root, readonly=True) as again:
        assert again.counts() == expected


def test_latest_checkpoint_lists_models_only_when_it_changed(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    models = project.root / "models"
    listings: list[Path] = []
    real_glob = Path.glob

    def counting_glob(self: Path, pattern: str):  # type: ignore[no-untyped-def]
        if self == models:
            listings.append(self)
        return real_glob(self, pattern)

    monkeypatch.setattr(Path, "glob", counting_glob)

    def settle() -> None:  # the folder last changed long ago (see latest_checkpoint)
        os.utime(models, ns=(10**18, 10**18))

    settle()
    assert project.latest_checkpoint() is None and project.latest_checkpoint() is None
    assert len(listings) == 1
    project.checkpoint_path(1).write_bytes(b"not a real checkpoint")
    assert project.latest_checkpoint() == project.checkpoint_path(1)  # the folder changed
    settle()
    project.latest_checkpoint()
    project.record_round(RoundRecord(round=1, checkpoint="models/round_0001.safetensors"))
    for _ in range(3):
        assert project.latest_checkpoint() == project.checkpoint_path(1)
    assert len(listings) == 4  # once more after the change, once after the round was recorded
