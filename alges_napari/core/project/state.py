"""``state.json``: the queue, the round history and each frame's status, as one JSON object.

Conversions between that object and the project's in-memory state, checked against the declared
schema (:mod:`.schemas`); the project writes it (inside its write gate) and rebuilds it from
``labels/`` when :func:`read_state` raises :class:`StateUnreadable`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from alges_napari.core.acquire.queue import QueueEntry
from alges_napari.core.errors import ProjectError
from alges_napari.core.project import schemas
from alges_napari.core.project.checkpoints import rounds_from_checkpoints
from alges_napari.core.project.config import FORMAT_VERSION
from alges_napari.core.project.files import STATE_FILE, now_iso
from alges_napari.core.project.records import RoundRecord
from alges_napari.core.project.statuses import FrameStatuses

__all__ = ["StateUnreadable", "parse_state", "read_state", "rounds_from_checkpoints", "state_json"]


def state_json(
    statuses: FrameStatuses, queue: Sequence[QueueEntry], rounds: Sequence[RoundRecord]
) -> dict[str, Any]:
    """The content of ``state.json`` for this state."""
    return {
        "format": "alges-state",
        "version": FORMAT_VERSION,
        "saved": now_iso(),
        "frames": statuses.to_json(),
        "queue": [e.to_json() for e in queue],
        "rounds": [r.to_json() for r in rounds],
    }


class StateUnreadable(Exception):
    """``state.json`` is missing or damaged; the message says which, on one line."""


def read_state(
    root: Path, labels: set[str]
) -> tuple[FrameStatuses, list[QueueEntry], list[RoundRecord]]:
    """Read ``state.json`` of ``root`` over the label files ``labels``.

    Raises
    ------
    ProjectError
        The file was written by a newer alges-napari (rebuilding would lose what it holds).
    StateUnreadable
        The file is missing, is not JSON (nested too deeply included), or does not match its
        declared schema (:class:`.schemas.StateFile`): the project rebuilds it from ``labels/``.
    """
    path = root / STATE_FILE
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise StateUnreadable(f"{path} was missing") from None
    except (OSError, ValueError, RecursionError) as exc:
        raise StateUnreadable(f"{path} was corrupt ({exc})") from None
    return parse_state(state, labels, path)


def parse_state(
    state: Any, labels: set[str], path: Path
) -> tuple[FrameStatuses, list[QueueEntry], list[RoundRecord]]:
    """Read the content of ``state.json`` (at ``path``) over the label files ``labels``.

    Raises
    ------
    ProjectError
        The file was written by a newer alges-napari.
    StateUnreadable
        It does not match the declared schema.
    """
    if not isinstance(state, dict) or state.get("format") != "alges-state":
        raise StateUnreadable(f"{path} was corrupt (not an alges state file)")
    version = schemas.format_version(state)
    if version is not None and version > FORMAT_VERSION:
        raise ProjectError(f"{path} is from a newer alges-napari: upgrade it")
    try:
        valid = schemas.validate_state(state)
    except schemas.ValidationError as exc:
        raise StateUnreadable(f"{path} was corrupt ({schemas.one_line(exc)})") from None
    except RecursionError as exc:
        raise StateUnreadable(f"{path} was corrupt ({exc})") from None
    statuses = FrameStatuses.from_json(state["frames"], labels)
    return statuses, [q.entry() for q in valid.queue], list(valid.rounds)
