"""What a project remembers of each training round: :class:`RoundRecord`, typed and JSON-able.

The session writes one record per recorded round into ``state.json`` (``"rounds"``); the widget
plots them and the CLI prints them. Older state files hold plain dicts with fewer keys (a
recovered project has only ``round`` and ``checkpoint``), so :meth:`RoundRecord.from_json`
defaults whatever is missing and ignores what it does not know.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any


@dataclass(frozen=True)
class RoundRecord:
    """One recorded training round.

    Attributes
    ----------
    round : int
        Round number, 1 for the first.
    n_labelled, n_validation : int
        Training labels used, and labelled validation frames that measured it.
    strategy : str or None
        The selection strategy that chose the next queue.
    warm_start : bool or None
        Whether training continued from the previous checkpoint.
    epochs : int or None
        Training epochs of the round.
    val_dice : list of float or None
        Per-class validation Dice; None where a class was undefined (NaN).
    mean_dice : float or None
        Mean validation Dice over the scored classes; None without validation frames.
    train_dice : float or None
        Mean Dice over the scored classes on (up to 32 of) the round's own training labels,
        measured when there are no validation frames: optimistic, but a model that has not
        learnt its own labels is plainly not worth pasting. None when not measured.
    steps : int or None
        Optimiser steps the round trained.
    best_step : int or None
        The step whose weights were kept when early stopping watched validation frames.
    note : str
        The round's message for the user ("no labelled validation frames...", "stopped ...").
    checkpoint : str or None
        The checkpoint, relative to the project folder (``models/round_0001.safetensors``).
    train_loss : float or None
        The last training batch's loss.
    warnings : list of str
        What the training reported (out-of-memory retries, ...).
    timings : dict of str to float
        Seconds spent in "train", "save", "validate", "score", "select".
    queue : list of str
        Keys of the frames the round queued, best first.
    """

    round: int
    n_labelled: int = 0
    n_validation: int = 0
    strategy: str | None = None
    warm_start: bool | None = None
    epochs: int | None = None
    val_dice: list[float | None] = field(default_factory=list)
    mean_dice: float | None = None
    train_dice: float | None = None
    steps: int | None = None
    best_step: int | None = None
    note: str = ""
    checkpoint: str | None = None
    train_loss: float | None = None
    warnings: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    queue: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The record as a JSON-serialisable dict (every field, in declaration order)."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RoundRecord:
        """Read a record written by :meth:`to_json` or by an older alges-napari.

        Unknown keys are ignored and missing ones take their defaults.

        Raises
        ------
        TypeError, ValueError
            When a known key holds a value of the wrong kind (a corrupt state file).
        """
        if not isinstance(data, dict):
            raise TypeError(f"a round record must be a JSON object, got {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        d = {k: v for k, v in data.items() if k in known}
        return cls(
            round=int(d.get("round", 0)),
            n_labelled=int(d.get("n_labelled", 0)),
            n_validation=int(d.get("n_validation", 0)),
            strategy=_optional(d.get("strategy"), str),
            warm_start=_optional(d.get("warm_start"), bool),
            epochs=_optional(d.get("epochs"), int),
            val_dice=[_optional_float(v) for v in _list(d, "val_dice")],
            mean_dice=_optional_float(d.get("mean_dice")),
            train_dice=_optional_float(d.get("train_dice")),
            steps=_optional(d.get("steps"), int),
            best_step=_optional(d.get("best_step"), int),
            note=str(d.get("note", "")),
            checkpoint=_optional(d.get("checkpoint"), str),
            train_loss=_optional_float(d.get("train_loss")),
            warnings=[str(w) for w in _list(d, "warnings")],
            timings={str(k): float(v) for k, v in dict(d.get("timings") or {}).items()},
            queue=[str(k) for k in _list(d, "queue")],
        )


def _optional(value: Any, kind: type) -> Any:
    return None if value is None else kind(value)


def _optional_float(value: Any) -> float | None:
    # NaN is not JSON: a writer that let one through meant "undefined", which is None here.
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _list(d: dict[str, Any], name: str) -> list[Any]:
    value = d.get(name) or []
    if not isinstance(value, list):
        raise TypeError(f"round record field {name!r} must be a list, got {type(value).__name__}")
    return value
