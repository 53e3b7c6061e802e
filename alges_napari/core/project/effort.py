"""Annotation effort, measured in the app: per accepted frame, time, pixels changed and edits.

The widget measures what one accept cost (:class:`Effort`): the pixels whose class differs
between what the annotation held when the frame was opened (the model's prediction, a
propagated draft, the earlier label) and what was accepted, and the edit actions (napari
brush strokes, fills, superpixel clicks) in between. The project adds both, with the seconds
it already keeps and the round the frame was first accepted in, to the frame's entry of
``state.json`` (written with the label, inside the project's write gate). Repeated accepts of
one frame add up.

:func:`effort_records` reads them back, one :class:`EffortRecord` per label file;
:func:`effort_by_round` gives the medians the Status panel shows, and :func:`effort_csv` the
``effort.csv`` an export writes beside the labels. A value that was never measured (a label
accepted before this existed, or through the API without an effort) is None, an empty CSV cell.
"""

from __future__ import annotations

import csv
import io
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from alges_napari.core.errors import AlgesError

#: The file an export writes beside the labels.
EFFORT_CSV = "effort.csv"
#: Its columns, in order.
CSV_COLUMNS = ("key", "round", "seconds", "pixels_changed", "edit_actions")
#: What ``state.json`` keeps of a frame's effort besides its seconds.
EFFORT_FIELDS = ("pixels_changed", "edit_actions", "round")


def pixels_changed(start: np.ndarray, accepted: np.ndarray) -> int:
    """Pixels whose class differs between ``start`` and ``accepted`` (255 counts as a class).

    Raises
    ------
    AlgesError
        When the two masks differ in shape.
    """
    a, b = np.asarray(start), np.asarray(accepted)
    if a.shape != b.shape:
        raise AlgesError(f"cannot compare masks of shapes {a.shape} and {b.shape}")
    return int(np.count_nonzero(a != b))


@dataclass(frozen=True)
class Effort:
    """What one accept of a frame cost, besides time.

    Attributes
    ----------
    pixels_changed : int
        Pixels changed from the annotation's content when the frame was opened.
    edit_actions : int
        Edits done on it (one per brush stroke, fill or superpixel click).
    """

    pixels_changed: int
    edit_actions: int

    def __post_init__(self) -> None:
        for name in ("pixels_changed", "edit_actions"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 0:
                raise AlgesError(f"effort {name} must be a whole number >= 0, got {value!r}")

    @classmethod
    def measure(cls, start: np.ndarray, accepted: np.ndarray, actions: int) -> Effort:
        """The effort of turning ``start`` into ``accepted`` in ``actions`` edits."""
        return cls(pixels_changed(start, accepted), int(actions))

    def to_json(self) -> dict[str, int]:
        """``{"pixels_changed": n, "edit_actions": n}``."""
        return {"pixels_changed": int(self.pixels_changed), "edit_actions": int(self.edit_actions)}


@dataclass(frozen=True)
class EffortRecord:
    """The effort of one labelled frame, as stored (None: never measured).

    Attributes
    ----------
    key : str
        The frame.
    round : int or None
        The last recorded round when the frame was first accepted (0: before any model).
    seconds : float or None
        Time spent on the frame, over all its accepts.
    pixels_changed, edit_actions : int or None
        See :class:`Effort`, summed over all its accepts.
    """

    key: str
    round: int | None
    seconds: float | None
    pixels_changed: int | None
    edit_actions: int | None

    @classmethod
    def from_meta(cls, key: str, meta: dict[str, Any]) -> EffortRecord:
        """The record of ``key`` from its ``state.json`` entry (checked when it was read)."""

        def whole(name: str) -> int | None:
            value = meta.get(name)
            return None if value is None else int(value)

        seconds = meta.get("seconds")
        return cls(
            key,
            whole("round"),
            None if seconds is None else float(seconds),
            whole("pixels_changed"),
            whole("edit_actions"),
        )


def effort_records(project: Any, keys: Iterable[str] | None = None) -> list[EffortRecord]:
    """The effort records of ``keys`` (default: every label file, in natural order).

    Parameters
    ----------
    project : ProjectView
        An open project.
    keys : iterable of str, optional
        Frames to report.
    """
    keys = project.label_keys() if keys is None else list(keys)
    return [project.effort(key) for key in keys]


@dataclass(frozen=True)
class RoundEffort:
    """Medians of the effort of the frames first accepted in one round.

    Attributes
    ----------
    round : int or None
        The round (None: frames accepted before rounds were recorded with labels).
    frames : int
        Labelled frames of that round.
    seconds, pixels_changed, edit_actions : float or None
        Median per frame over the frames that have the value; None when none has.
    """

    round: int | None
    frames: int
    seconds: float | None
    pixels_changed: float | None
    edit_actions: float | None


def _median(values: Sequence[float | int | None]) -> float | None:
    known = [v for v in values if v is not None]
    return float(statistics.median(known)) if known else None


def effort_by_round(records: Iterable[EffortRecord]) -> list[RoundEffort]:
    """Per-round medians of ``records``, by round (unknown round last)."""
    groups: dict[int | None, list[EffortRecord]] = {}
    for record in records:
        groups.setdefault(record.round, []).append(record)
    order = sorted(groups, key=lambda r: (r is None, r or 0))
    return [
        RoundEffort(
            r,
            len(groups[r]),
            _median([g.seconds for g in groups[r]]),
            _median([g.pixels_changed for g in groups[r]]),
            _median([g.edit_actions for g in groups[r]]),
        )
        for r in order
    ]


def effort_csv(records: Iterable[EffortRecord]) -> str:
    """``effort.csv``: a header of :data:`CSV_COLUMNS`, then one row per record."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for r in records:
        seconds = None if r.seconds is None else f"{r.seconds:.2f}"
        row = (r.key, r.round, seconds, r.pixels_changed, r.edit_actions)
        writer.writerow(["" if v is None else v for v in row])
    return buf.getvalue()
