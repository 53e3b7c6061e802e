"""Drafts: propagated labels that are never labels until accepted."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from alges_napari.core.errors import ProjectError
from alges_napari.core.progress import StopFlag, run_to_end
from alges_napari.core.project.drafts import iter_propagate_drafts
from alges_napari.core.project.export import export_labels
from alges_napari.core.project.project import Project

SIZE = (48, 64)


pytestmark = [
    pytest.mark.tree(n_clips=2, frames_per_clip=6, size=SIZE, seed=4),
    pytest.mark.project(frames="tree"),
]


def digest(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != "effort.csv"
    } | {"effort.csv": (folder / "effort.csv").read_text()}


def test_propagation_writes_drafts_in_the_clip_and_no_label(project: Project, tmp_path) -> None:
    keys = project.keys  # clip 1: keys 0-5, clip 2: keys 6-11
    gt = project.frames.ground_truth
    project.accept_label(keys[2], gt(2))
    project.accept_label(keys[3], gt(3))  # a neighbour with a label: never given a draft
    before = digest(export_labels(project, tmp_path / "before"))
    labels_before = sorted(p.name for p in (project.root / "labels").rglob("*.png"))
    events = []
    project.subscribe(events.append)

    result = run_to_end(iter_propagate_drafts(project, keys[2], k=4))

    assert result.written == (keys[4], keys[5], keys[1], keys[0])  # clip 1 only, nearest first
    assert result.kept == (keys[3],) and not result.stopped
    assert project.drafts.keys() == [keys[0], keys[1], keys[4], keys[5]]
    assert [e.keys for e in events if e.kind == "draft"] == [(k,) for k in result.written]
    for key, distance in ((keys[1], 1), (keys[0], 2), (keys[5], 3)):
        draft = project.drafts.load(key)
        assert (draft.source, draft.distance) == (keys[2], distance)
        assert draft.mask.shape == SIZE and draft.mask.dtype == np.uint8
    assert project.drafts.load(keys[3]) is None and project.drafts.load(keys[6]) is None
    # Nothing of it is a label: statuses, training keys, labels/ and the export are unchanged.
    assert project.labelled_keys() == [keys[2], keys[3]]
    assert project.status(keys[1]) == "unlabelled" and keys[1] in project.unlabelled_keys()
    assert sorted(p.name for p in (project.root / "labels").rglob("*.png")) == labels_before
    assert digest(export_labels(project, tmp_path / "after")) == before


def test_accepting_drops_the_draft_and_a_draft_never_replaces_a_label(project: Project) -> None:
    keys = project.keys
    project.accept_label(keys[0], project.frames.ground_truth(0))
    run_to_end(iter_propagate_drafts(project, keys[0], k=2))
    draft = project.drafts.load(keys[1])
    project.accept_label(keys[1], draft.mask)
    assert project.drafts.load(keys[1]) is None and not project.drafts.path(keys[1]).exists()
    np.testing.assert_array_equal(project.load_label(keys[1]), draft.mask)
    assert project.drafts.save(keys[1], draft.mask, keys[0], 1) is False  # labelled: refused
    assert not project.drafts.path(keys[1]).exists()


def test_a_draft_from_a_nearer_frame_is_kept(project: Project) -> None:
    keys, mask = project.keys, np.zeros(SIZE, np.uint8)
    assert project.drafts.save(keys[3], mask, keys[1], 2)
    assert not project.drafts.save(keys[3], mask + 1, keys[0], 3)  # farther: kept the first
    assert project.drafts.load(keys[3]).source == keys[1]
    assert project.drafts.save(keys[3], mask + 2, keys[4], 1)  # nearer: replaces it
    assert project.drafts.load(keys[3]).distance == 1
    assert (project.drafts.load(keys[3]).mask == 2).all()


def test_refusals(project: Project, tree: Path) -> None:
    keys = project.keys
    with pytest.raises(ProjectError, match="no accepted label"):
        run_to_end(iter_propagate_drafts(project, keys[0]))
    with pytest.raises(ProjectError, match="not in the project"):
        project.drafts.save("nope", np.zeros(SIZE, np.uint8), keys[0], 1)
    with Project.open(project.root, readonly=True) as reader:
        with pytest.raises(ProjectError, match="read-only"):
            reader.drafts.save(keys[1], np.zeros(SIZE, np.uint8), keys[0], 1)


def test_a_cancelled_propagation_keeps_what_it_made(project: Project) -> None:
    keys = project.keys
    project.accept_label(keys[8], project.frames.ground_truth(8))
    stop = StopFlag()
    run = iter_propagate_drafts(project, keys[8], k=3, stop=stop)
    next(run)  # planned
    next(run)  # the first draft is written
    stop.request()
    result = run_to_end(run)
    assert result.written == (keys[9],) and result.stopped
    assert project.drafts.keys() == [keys[9]]
