"""Typed round records: a JSON round trip, older and newer state files, recovery from models/."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from alges_napari.core.project.project import Project, ProjectRecoveryWarning, RoundRecord
from tests.core.project.random_frames import make_folder

FULL = RoundRecord(
    round=2,
    n_labelled=12,
    n_validation=3,
    strategy="alges-seg",
    warm_start=True,
    epochs=5,
    val_dice=[0.5, None, 0.25],
    mean_dice=0.375,
    train_dice=0.625,
    steps=60,
    best_step=40,
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


@pytest.mark.parametrize("rounds", [(1, 2), (1, 3)], ids=["rounds-1-2", "gap"])
@pytest.mark.parametrize("damage", ["missing", "corrupt"])
def test_a_lost_state_file_rebuilds_rounds_from_checkpoints(
    tmp_path: Path, damage: str, rounds: tuple[int, int]
) -> None:
    import torch

    from alges_napari.core.learn.model import checkpoint_metadata, save_checkpoint
    from tests.core.project.test_checkpoints import SPEC

    net = torch.nn.Conv2d(3, SPEC.num_classes, 1)  # any module: only the file is looked at
    with Project.create(tmp_path / "p", make_folder(tmp_path / "f")) as proj:
        root = proj.root
        for n in rounds:  # two whole rounds, each with its checkpoint and its record
            save_checkpoint(net, proj.checkpoint_path(n), SPEC, extra={"round": n})
            proj.record_round(RoundRecord(round=n, n_labelled=n, mean_dice=0.5))
        assert proj.latest_checkpoint() == proj.checkpoint_path(rounds[1])
    state = root / "state.json"
    if damage == "missing":
        state.unlink()
    else:
        state.write_text(state.read_text()[:40])  # cut short: not JSON any more
    with pytest.warns(ProjectRecoveryWarning, match="2 checkpoints recovered"):
        again = Project.open(root)
    first, last = rounds
    with again:
        said = "was missing" if damage == "missing" else "was corrupt"
        assert again.recovery is not None and said in again.recovery
        # What the records said beyond the checkpoint was in state.json only: it is lost.
        assert again.rounds == [
            RoundRecord(round=first, checkpoint=f"models/round_{first:04d}.safetensors"),
            RoundRecord(round=last, checkpoint=f"models/round_{last:04d}.safetensors"),
        ]
        newest = again.latest_checkpoint()
        assert newest == root / "models" / f"round_{last:04d}.safetensors"
        assert checkpoint_metadata(newest)["extra"] == {"round": last}  # the newest file itself
        assert again.next_round() == last + 1
    # The rebuilt history was written back: the next open is clean and finds the same rounds.
    with Project.open(root) as third:
        assert third.recovery is None and [r.round for r in third.rounds] == [first, last]
        assert third.latest_checkpoint() == newest
