"""Declared schemas of a project's two JSON files (pydantic v2): what a valid file holds.

``alges_project.json`` (:func:`validate_config`) and ``state.json`` (:func:`validate_state`)
are checked when read, so a value of the wrong kind anywhere (a version ``1e400``, a rank that
is not a whole number, an input size ``"big"``, a missing ``source``) is reported with the field
it sits in, as one line (:func:`one_line`), instead of surfacing later as an OverflowError or a
KeyError. Unknown keys are allowed (a newer alges-napari may add some): the format version
decides what is too new, and callers check it first (:func:`format_version`).
"""

from __future__ import annotations

import functools
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationError,
)

from alges_napari.core.acquire.queue import QueueEntry
from alges_napari.core.project.records import RoundRecord
from alges_napari.core.project.statuses import STATUSES

__all__ = [
    "ValidationError",
    "format_version",
    "one_line",
    "validate_config",
    "validate_state",
]

FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]


class _Part(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)


def _class_schema(value: dict[str, Any]) -> dict[str, Any]:
    from alges_napari.core.data.classes import ClassSchema

    ClassSchema.from_json(value, source="the class schema")  # SchemaError is a ValueError
    return value


ClassesJson = Annotated[dict[str, Any], AfterValidator(_class_schema)]


# ---------------------------------------------------------------- alges_project.json


class SourceSection(_Part):
    """``"source"``: a frame source as ``FrameSource.describe()`` wrote it."""

    type: Literal["folder", "cholecseg8k", "endoscapes", "paired", "video", "tiff"]
    path: StrictStr = Field(min_length=1)
    stride: StrictInt = Field(default=1, ge=1)
    n_frames: StrictInt | None = Field(default=None, ge=0)
    shape: tuple[StrictInt, StrictInt] | None = None
    recursive: StrictBool = False
    class_schema: ClassesJson | None = Field(default=None, alias="schema")


@functools.cache
def _config_model() -> type[BaseModel]:
    # Built on first use: the training settings are TrainConfig itself (a dataclass pydantic
    # validates field by field, then its own checks), and importing it imports torch.
    from alges_napari.core.learn.config import TrainConfig

    class ProjectConfigFile(_Part):
        """``alges_project.json``."""

        format: Literal["alges-project"]
        version: StrictInt = Field(default=0, ge=0)
        created: StrictStr | None = None
        source: SourceSection
        classes: ClassesJson
        preset: StrictStr | None = None
        train: TrainConfig

    return ProjectConfigFile


def validate_config(config: Any) -> None:
    """Check the content of ``alges_project.json``; raises ValidationError naming the field."""
    _config_model().model_validate(config)


# ---------------------------------------------------------------- state.json


class FrameEntry(_Part):
    """One frame of ``"frames"``: its status and what is remembered of its annotation."""

    status: Literal[STATUSES] = "unlabelled"  # type: ignore[valid-type]
    seconds: FiniteFloat = 0.0
    accepted: StrictStr = ""
    # The effort of its accepts (see effort.py); absent in files written before it was kept.
    pixels_changed: StrictInt | None = Field(default=None, ge=0)
    edit_actions: StrictInt | None = Field(default=None, ge=0)
    round: StrictInt | None = Field(default=None, ge=0)
    # Where an imported label came from (label_import.py); absent for labels made here.
    origin: dict[str, StrictStr] | None = None


class QueueItem(_Part):
    """One entry of ``"queue"``."""

    key: StrictStr
    rank: StrictInt
    score: float | None = None  # NaN and infinities are scores a strategy may give
    # The queue's meaning (QueueEntry); absent in files written before it was kept.
    strategy: StrictStr | None = None
    measure: StrictStr | None = None
    relative: float | None = None
    pick_value: float | None = None

    def entry(self) -> QueueEntry:
        return QueueEntry(
            self.key,
            self.rank,
            self.score,
            self.strategy,
            self.measure,
            self.relative,
            self.pick_value,
        )


def _round_record(value: Any) -> RoundRecord:
    # RoundRecord.from_json reads older and newer records; what it cannot read is invalid.
    try:
        return RoundRecord.from_json(value)
    except (TypeError, ValueError, OverflowError) as exc:
        raise ValueError(str(exc)) from None


class StateFile(_Part):
    """``state.json``."""

    format: Literal["alges-state"]
    version: StrictInt = Field(default=1, ge=0)
    saved: StrictStr | None = None
    frames: dict[str, FrameEntry]
    queue: list[QueueItem]
    rounds: list[Annotated[RoundRecord, PlainValidator(_round_record)]]


def validate_state(state: Any) -> StateFile:
    """Check the content of ``state.json``; raises ValidationError naming the field."""
    return StateFile.model_validate(state)


# ---------------------------------------------------------------- both


class _Header(_Part):
    version: StrictInt = Field(default=0, ge=0)


def format_version(data: Any) -> int | None:
    """The whole-number ``"version"`` of a file's content, or None when it has none valid."""
    try:
        return _Header.model_validate(data).version
    except ValidationError:
        return None


def one_line(exc: ValidationError) -> str:
    """The first problem of ``exc`` as "field 'a.b': what is wrong (got ...)", on one line."""
    errors = exc.errors(include_url=False)
    first = errors[0]
    loc = ".".join(str(p) for p in first["loc"]) or "(the whole file)"
    text = f"field '{loc}': {first['msg'].removeprefix('Value error, ')}"
    value = first.get("input")
    if not isinstance(value, dict | list):
        text += f" (got {_short(value)})"
    if len(errors) > 1:
        text += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    return text.replace("\n", " ")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
