"""Typed round records: a JSON round trip, older and newer state files, recovery from models/."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from alges_napari.core.project.project import Project, ProjectRecoveryWarning, RoundRecord
from tests.core.project.test_project import make_folder

FULL = RoundRecord(
    round=2,
    n_labelled=12,
    n_validation=3,
    strategy="alges-seg",
    warm_start=True,
    epochs=5,
    val_dice=[0.5, None, 0.25],
    mean_dice=0.375,
    note="validation Dice on 3 labelled validation frames",
    checkpoint="models/round_0002.safetensors",
    train_loss=0.8,
    warnings=["out of memory: batch size 4"],
    timings={"train": 1.5, "score": 0.25},
    queue=["a", "b"],
)


def test_a_record_survives_json() -> None:
    text = json.dumps(FULL.to_json())
    assert RoundRecord.from_json(json.loads(text)) == FULL
    assert list(FULL.to_json())[:3] == ["round", "n_labelled", "n_validation"]


def test_older_and_newer_records_load() -> None:
    # An older alges-napari wrote fewer keys, a newer one may write more: both load.
    old = RoundRecord.from_json({"round": 1, "n_labelled": 4, "mean_dice": None})
    assert old == RoundRecord(round=1, n_labelled=4)
    newer = RoundRecord.from_json({**FULL.to_json(), "gpu": "H100", "notes": [1]})
    assert newer == FULL
    with pytest.raises(TypeError, match="val_dice"):
        RoundRecord.from_json({"round": 1, "val_dice": "0.5"})


def test_an_older_state_file_opens_with_typed_rounds(tmp_path: Path) -> None:
    with Project.create(tmp_path / "p", make_folder(tmp_path / "f")) as proj:
        root = proj.root
    state = json.loads((root / "state.json").read_text())
    state["rounds"] = [{"round": 1, "n_labelled": 3, "val_dice": [0.5], "mean_dice": 0.5}]
    (root / "state.json").write_text(json.dumps(state))
    with Project.open(root) as again:
        assert again.recovery is None
        assert again.rounds == [RoundRecord(round=1, n_labelled=3, val_dice=[0.5], mean_dice=0.5)]
        assert again.next_round() == 2


def test_a_lost_state_file_rebuilds_rounds_from_checkpoints(tmp_path: Path) -> None:
    with Project.create(tmp_path / "p", make_folder(tmp_path / "f")) as proj:
        root = proj.root
        for n in (1, 3):
            proj.checkpoint_path(n).write_bytes(b"weights")
    (root / "state.json").unlink()
    with pytest.warns(ProjectRecoveryWarning, match="2 checkpoints recovered"):
        again = Project.open(root)
    with again:
        assert again.rounds == [
            RoundRecord(round=1, checkpoint="models/round_0001.safetensors"),
            RoundRecord(round=3, checkpoint="models/round_0003.safetensors"),
        ]
        assert again.next_round() == 4
