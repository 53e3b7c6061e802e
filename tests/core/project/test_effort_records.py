"""Effort per accepted frame: stored with the label, checked when read, summarised, exported."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from alges_napari.core.errors import AlgesError
from alges_napari.core.project.effort import (
    Effort,
    EffortRecord,
    effort_by_round,
    effort_csv,
    effort_records,
    pixels_changed,
)
from alges_napari.core.project.export import export_labels
from alges_napari.core.project.project import Project, ProjectRecoveryWarning
from alges_napari.core.project.records import RoundRecord

SIZE = (32, 48)


pytestmark = pytest.mark.tree(n_clips=1, frames_per_clip=5, size=SIZE, seed=2)


def test_pixels_changed_counts_differing_pixels_ignore_included() -> None:
    start = np.full(SIZE, 255, np.uint8)
    accepted = start.copy()
    accepted[2:5, 3:7] = 4  # 12 pixels painted
    accepted[10, 10] = 0  # 1 more
    assert pixels_changed(start, accepted) == 13
    assert Effort.measure(start, accepted, 2) == Effort(13, 2)
    with pytest.raises(AlgesError, match="shapes"):
        pixels_changed(start, accepted[:4])
    with pytest.raises(AlgesError, match="edit_actions"):
        Effort(3, -1)


def test_effort_is_stored_with_the_label_and_read_back(tree: Path, tmp_path: Path) -> None:
    root = tmp_path / "proj"
    with Project.create(root, tree) as project:
        a, b, c = project.keys[:3]
        gt = project.frames.ground_truth
        project.accept_label(a, gt(0), seconds=12.5, effort=Effort(300, 4))
        project.record_round(RoundRecord(round=1))
        project.accept_label(b, gt(1), seconds=3.0, effort=Effort(20, 1))
        project.accept_label(b, gt(1), seconds=2.0, effort=Effort(5, 2))  # re-opened: adds up
        project.accept_label(c, gt(2))  # through the API, nothing measured
    state = json.loads((root / "state.json").read_text())["frames"]
    assert {k: state[a][k] for k in ("seconds", "pixels_changed", "edit_actions", "round")} == {
        "seconds": 12.5,
        "pixels_changed": 300,
        "edit_actions": 4,
        "round": 0,  # accepted before any model
    }
    with Project.open(root, readonly=True) as again:
        assert effort_records(again) == [
            EffortRecord(a, 0, 12.5, 300, 4),
            EffortRecord(b, 1, 5.0, 25, 3),
            EffortRecord(c, None, None, None, None),
        ]


def test_an_effort_of_the_wrong_kind_is_a_corrupt_state_file(tree: Path, tmp_path: Path) -> None:
    root = tmp_path / "proj"
    with Project.create(root, tree) as project:
        key = project.keys[0]
        project.accept_label(key, project.frames.ground_truth(0), effort=Effort(3, 1))
    state = json.loads((root / "state.json").read_text())
    state["frames"][key]["pixels_changed"] = -3
    (root / "state.json").write_text(json.dumps(state))
    with pytest.warns(ProjectRecoveryWarning, match="pixels_changed"):
        again = Project.open(root)
    with again:  # the label survives; only what state.json held is lost
        assert again.has_label(key) and again.effort(key).pixels_changed is None


def test_medians_per_round_and_the_csv() -> None:
    records = [
        EffortRecord("f0", 0, 10.0, 100, 2),
        EffortRecord("f1", 0, 30.0, 300, 6),
        EffortRecord("f2", 0, 20.0, None, None),
        EffortRecord("f3", 2, 4.0, 7, 1),
        EffortRecord("f4", None, None, None, None),
    ]
    summary = effort_by_round(records)
    assert [(r.round, r.frames) for r in summary] == [(0, 3), (2, 1), (None, 1)]
    assert (summary[0].seconds, summary[0].pixels_changed, summary[0].edit_actions) == (
        20.0,
        200.0,
        4.0,
    )
    assert (summary[2].seconds, summary[2].pixels_changed) == (None, None)
    rows = list(csv.reader(effort_csv(records).splitlines()))
    assert rows[0] == ["key", "round", "seconds", "pixels_changed", "edit_actions"]
    assert rows[1] == ["f0", "0", "10.00", "100", "2"]
    assert rows[3] == ["f2", "0", "20.00", "", ""]
    assert rows[5] == ["f4", "", "", "", ""]


@pytest.mark.parametrize("fmt", ["index", "cholecseg8k"])
def test_the_export_writes_effort_csv_beside_the_labels(tree: Path, tmp_path: Path, fmt) -> None:
    with Project.create(tmp_path / "proj", tree) as project:
        a, b = project.keys[3], project.keys[1]
        project.accept_label(a, project.frames.ground_truth(3), seconds=8.25, effort=Effort(9, 3))
        project.accept_label(b, project.frames.ground_truth(1), seconds=1.0, effort=Effort(0, 0))
        out = export_labels(project, tmp_path / "out", fmt=fmt)
    with open(out / "effort.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert rows == [  # one row per labelled frame, in the labels' natural order
        {"key": b, "round": "0", "seconds": "1.00", "pixels_changed": "0", "edit_actions": "0"},
        {"key": a, "round": "0", "seconds": "8.25", "pixels_changed": "9", "edit_actions": "3"},
    ]
