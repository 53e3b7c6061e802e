"""state.json and alges_project.json are checked against declared schemas when read."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from alges_napari.core.errors import ProjectError
from alges_napari.core.project.project import Project, ProjectRecoveryWarning, QueueEntry
from tests.core.project.random_frames import make_folder, random_mask

DEEP = "[" * 10_000 + "]" * 10_000


@pytest.fixture
def root(tmp_path: Path) -> Path:
    with Project.create(tmp_path / "p", make_folder(tmp_path / "frames")) as proj:
        for i in range(2):
            proj.accept_label(proj.keys[i], random_mask(i))
        proj.set_queue([QueueEntry(proj.keys[3], 0, 0.5)])
    return tmp_path / "p"


def edit_text(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path.name}"
    path.write_text(text.replace(old, new, 1))


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ('"version": 1', '"version": 1e400', "version"),
        ('"rank": 0', '"rank": 1e400', "queue.0.rank"),
        ('"rank": 0', '"rank": 2.5', "queue.0.rank"),
        ('"queue": [', f'"queue": {DEEP}, "old_queue": [', "recursion"),
        ('"rounds": []', '"rounds": [{"round": 1e400}]', "rounds.0"),
        ('"status": "labelled"', '"status": "labelled", "seconds": "a while"', "seconds"),
        ('"score": 0.5', '"score": "high"', "queue.0.score"),
    ],
)
def test_a_broken_state_file_is_rebuilt_from_labels(
    root: Path, old: str, new: str, field: str
) -> None:
    edit_text(root / "state.json", old, new)
    with pytest.warns(ProjectRecoveryWarning, match="rebuilt from labels") as said:
        project = Project.open(root)
    with project:
        assert field in project.recovery and "\n" not in project.recovery
        # pytest.warns records every warning: a gc pass during this case can run the
        # finalizers of objects leaked by other files in the same xdist worker
        # (ResourceWarning for unclosed sockets), so count only the recovery warning.
        recoveries = [w for w in said if issubclass(w.category, ProjectRecoveryWarning)]
        assert len(recoveries) == 1
        assert project.labelled_keys() == project.keys[:2]
        np.testing.assert_array_equal(project.load_label(project.keys[1]), random_mask(1))
    with Project.open(root) as again:  # written back whole
        assert again.recovery is None and again.labelled_keys() == again.keys[:2]


def test_a_whole_file_of_nested_lists_is_rebuilt(root: Path) -> None:
    (root / "state.json").write_text(DEEP)
    with pytest.warns(ProjectRecoveryWarning, match="rebuilt from labels"):
        Project.open(root, readonly=True).close()


def test_a_newer_state_file_is_refused_not_rebuilt(root: Path) -> None:
    edit_text(root / "state.json", '"version": 1', '"version": 2')
    with pytest.raises(ProjectError, match="newer"):
        Project.open(root)


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (lambda c: c.pop("source"), "'source': Field required"),
        (lambda c: c.update(version="abc"), "'version'"),
        (lambda c: c.update(version=1e400), "'version'"),
        (lambda c: c["train"].update(input_size="big"), "'train.input_size'"),
        (lambda c: c["train"].update(input_size=[30, 64]), "multiples of 32"),
        (lambda c: c["train"].update(epochs=1.5), "'train.epochs'"),
        (lambda c: c["source"].update(stride=0), "'source.stride'"),
        (lambda c: c["source"].update(type="webcam"), "'source.type'"),
        (lambda c: c["classes"].update(classes=[]), "'classes'"),
    ],
)
def test_a_broken_config_is_one_line_naming_the_file_and_the_field(
    root: Path, edit, field: str
) -> None:
    path = root / "alges_project.json"
    config = json.loads(path.read_text())
    edit(config)
    path.write_text(json.dumps(config))
    with pytest.raises(ProjectError) as info:
        Project.open(root)
    message = str(info.value)
    assert "alges_project.json" in message and field in message, message
    assert "\n" not in message


def test_a_deeply_nested_config_is_a_project_error(root: Path) -> None:
    path = root / "alges_project.json"
    path.write_text(path.read_text().replace('"preset"', f'"deep": {DEEP}, "preset"', 1))
    with pytest.raises(ProjectError, match="alges_project.json"):
        Project.open(root, readonly=True)


def test_every_training_setting_is_declared() -> None:
    # The config's "train" part is TrainConfig itself: a field added there is checked too.
    from dataclasses import fields

    from alges_napari.core.learn.config import TrainConfig
    from alges_napari.core.project.schemas import _config_model

    declared = _config_model().model_fields["train"].annotation
    assert declared is TrainConfig and {f.name for f in fields(TrainConfig)}
