"""``state.json``: the queue, the round history and each frame's status, as one JSON object.

Pure conversions between that object and the project's in-memory state; the project writes it
(inside its write gate) and decides what to do when it cannot be read.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from alges_napari.core.acquire.queue import QueueEntry
from alges_napari.core.errors import ProjectError
from alges_napari.core.project.checkpoints import rounds_from_checkpoints
from alges_napari.core.project.config import FORMAT_VERSION
from alges_napari.core.project.files import now_iso
from alges_napari.core.project.records import RoundRecord
from alges_napari.core.project.statuses import FrameStatuses

__all__ = ["parse_state", "rounds_from_checkpoints", "state_json"]


def state_json(
    statuses: FrameStatuses, queue: Sequence[QueueEntry], rounds: Sequence[RoundRecord]
) -> dict[str, Any]:
    """The content of ``state.json`` for this state."""
    return {
        "format": "alges-state",
        "version": FORMAT_VERSION,
        "saved": now_iso(),
        "frames": statuses.to_json(),
        "queue": [{"key": e.key, "rank": e.rank, "score": e.score} for e in queue],
        "rounds": [r.to_json() for r in rounds],
    }


def parse_state(
    state: Any, labels: set[str], path: Path
) -> tuple[FrameStatuses, list[QueueEntry], list[RoundRecord]]:
    """Read the content of ``state.json`` (at ``path``) over the label files ``labels``.

    Raises
    ------
    ProjectError
        The file was written by a newer alges-napari (rebuilding would lose what it holds).
    ValueError, TypeError, KeyError, AttributeError
        The file is not a readable state file.
    """
    if state.get("format") != "alges-state":
        raise ValueError("not an alges state file")
    if int(state.get("version", 1)) > FORMAT_VERSION:
        raise ProjectError(f"{path} is from a newer alges-napari: upgrade it")
    statuses = FrameStatuses.from_json(state["frames"], labels)
    queue = [QueueEntry(str(q["key"]), int(q["rank"]), q.get("score")) for q in state["queue"]]
    rounds = [RoundRecord.from_json(r) for r in state["rounds"]]
    return statuses, queue, rounds
