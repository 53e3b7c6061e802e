"""What a project holds, read without waiting: statuses, labels, queue, rounds, model, cache.

:class:`ProjectView` is the read side of :class:`~alges_napari.core.project.project.Project`:
every method here only reads, and never waits for the project's write gate (the per-frame
statuses have their own short lock, and the queue and the round history are replaced, never
changed in place, so a reader always holds a whole one). The changes live in ``project.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from alges_napari.core.acquire.queue import QueueEntry
from alges_napari.core.errors import AlgesError, MaskError, ProjectError
from alges_napari.core.project.cache import FrameCache
from alges_napari.core.project.checkpoints import CheckpointFolder
from alges_napari.core.project.effort import EffortRecord
from alges_napari.core.project.files import (
    CACHE_DIR,
    LABELS_DIR,
    MODELS_DIR,
    decode_index_png,
    key_to_relpath,
)
from alges_napari.core.project.records import RoundRecord
from alges_napari.core.project.statuses import FrameStatuses


class ProjectView:
    """The read side of a project folder (see :class:`~.project.Project`).

    Attributes
    ----------
    root : Path
        The project folder.
    config : dict
        The parsed ``alges_project.json``.
    readonly : bool
        True when opened without the write lock; every write then raises ProjectError.
    recovery : str or None
        A message when the state file had to be rebuilt from ``labels/``; None otherwise.
    """

    def __init__(self, root: Path, config: dict[str, Any], readonly: bool):
        self.root = root
        self.config = config
        self.readonly = readonly
        self.recovery: str | None = None
        self._frames: Any = None
        self._schema: Any = None
        self._key_set: set[str] | None = None
        self._shape: tuple[int, ...] | None = None  # the frames' size, () when unknown
        self._statuses = FrameStatuses()
        # Replaced (never changed in place) by each write, so a reader's copy is always whole.
        self._queue: list[QueueEntry] = []
        self._rounds: list[RoundRecord] = []
        self._checkpoints = CheckpointFolder(root / MODELS_DIR)
        self._cache = FrameCache(root / CACHE_DIR)

    def __repr__(self) -> str:
        mode = "read-only" if self.readonly else "writable"
        return f"Project({str(self.root)!r}, {mode}, {len(self._statuses)} labels)"

    # ------------------------------------------------------------ frames and schema

    @property
    def frames(self) -> Any:
        """The project's FrameSource, opened on first use."""
        if self._frames is None:
            from alges_napari.core.data.frames import open_frames_from_config

            self._frames = open_frames_from_config(self.config["source"])
        return self._frames

    @property
    def schema(self) -> Any:
        """The project's ClassSchema."""
        if self._schema is None:
            from alges_napari.core.data.classes import ClassSchema

            self._schema = ClassSchema.from_json(self.config["classes"])
        return self._schema

    @property
    def keys(self) -> list[str]:
        """All frame keys of the source, in source order."""
        return list(self.frames.keys)

    def _check_key(self, key: str) -> None:
        if self._key_set is None:
            self._key_set = set(self.frames.keys)
        if key not in self._key_set:
            raise ProjectError(f"frame key {key!r} is not in the project's source {self.root}")

    # ------------------------------------------------------------ status

    def status(self, key: str) -> str:
        """Return "unlabelled", "labelled", "skipped" or "validation" for a frame."""
        return self._statuses.status(key)

    def counts(self) -> dict[str, int]:
        """Number of frames in each status (all four keys present).

        Kept up to date with each change, so calling it on every refresh costs nothing.
        """
        return self._statuses.counts(self.frames.keys)

    def labelled_keys(self) -> list[str]:
        """Keys with an accepted label that are not validation frames (the training set)."""
        return self._statuses.select(self.frames.keys, "labelled")

    def unlabelled_keys(self) -> list[str]:
        """Keys with status "unlabelled" (the active-learning pool)."""
        return self._statuses.select(self.frames.keys, "unlabelled")

    def skipped_keys(self) -> list[str]:
        """Keys the user chose to skip."""
        return self._statuses.select(self.frames.keys, "skipped")

    def validation_keys(self, labelled_only: bool = False) -> list[str]:
        """Keys marked as validation frames (held out from training, used for metrics)."""
        return self._statuses.select(self.frames.keys, "validation", labelled_only=labelled_only)

    def has_label(self, key: str) -> bool:
        """True when an accepted label for ``key`` is on disk."""
        return self._statuses.has_label(key)

    def label_keys(self) -> list[str]:
        """Every key with a label file in ``labels/``, in natural order, read without the frames.

        Includes labels of frames the source no longer lists (a frame left out as unreadable,
        a moved or changed frame folder): ``labels/`` is the source of truth.
        """
        from alges_napari.core.data.frames.base import natural_key

        return sorted(self._statuses.labelled(), key=natural_key)

    def annotation_seconds(self, key: str) -> float:
        """Total time spent annotating ``key`` over all its accepts (0 when unknown)."""
        return self._statuses.seconds(key)

    def effort(self, key: str) -> EffortRecord:
        """What annotating ``key`` cost, over all its accepts (see :mod:`.effort`)."""
        return EffortRecord.from_meta(key, self._statuses.kept(key))

    # ------------------------------------------------------------ labels

    def label_path(self, key: str) -> Path:
        """Path of the index PNG for ``key`` (it may not exist)."""
        return self.root / LABELS_DIR / f"{key_to_relpath(key)}.png"

    def load_label(self, key: str) -> np.ndarray | None:
        """Return the accepted label of ``key`` as uint8 (H, W), or None.

        The file is checked as it is read, so training, export and the widget never use a
        label that is not one silently: class ids outside the schema, or a size other than
        the frames', raise.

        Raises
        ------
        MaskError
            The label file holds ids outside the schema or has the wrong size; the message
            names the file.
        ProjectError
            The file is unreadable or not an 8-bit single-channel PNG.
        """
        if not self.has_label(key):
            return None
        from alges_napari.core.data.masks import validate_mask

        path = self.label_path(key)
        mask = decode_index_png(path)
        try:
            return validate_mask(mask, self.schema, shape=self._label_shape(), name=str(path))
        except MaskError as exc:
            raise MaskError(
                f"label file {exc}; correct or delete it, then accept frame {key!r} again"
            ) from None

    def _label_shape(self) -> tuple[int, int] | None:
        """The frames' (H, W) that labels must have; None when nothing tells it."""
        if self._shape is None:
            try:
                shape = self.frames.shape
            except AlgesError:  # frames moved or unreadable: the size they had at creation
                shape = self.config["source"].get("shape")
            self._shape = (int(shape[0]), int(shape[1])) if shape is not None else ()
        return self._shape or None

    # ------------------------------------------------------------ queue and rounds

    @property
    def queue(self) -> list[QueueEntry]:
        """The frames to label next, best first, as selected by the last round."""
        return list(self._queue)

    def pending_queue(self) -> list[QueueEntry]:
        """Queue entries whose frame is still unlabelled (not labelled, skipped or held out)."""
        queue = self._queue
        pending = set(self._statuses.select([e.key for e in queue], "unlabelled"))
        return [e for e in queue if e.key in pending]

    @property
    def rounds(self) -> list[RoundRecord]:
        """History of recorded rounds, oldest first."""
        return list(self._rounds)

    def next_round(self) -> int:
        """Number of the next round (1 for the first)."""
        return max((r.round for r in self._rounds), default=0) + 1

    def checkpoint_path(self, round_index: int) -> Path:
        """Where the checkpoint of round ``round_index`` lives."""
        return self.root / MODELS_DIR / f"round_{round_index:04d}.safetensors"

    def latest_checkpoint(self) -> Path | None:
        """The newest checkpoint on disk, or None.

        Costs one ``stat`` of ``models/``: the folder is listed again only when it changed (or
        a round was recorded), so the widget may ask on every refresh.
        """
        return self._checkpoints.latest()

    # ------------------------------------------------------------ cache

    def prediction(self, key: str) -> np.ndarray | None:
        """The last scoring pass's predicted mask for ``key``, or None when not cached."""
        return self._cache.read("pred", key)

    def heat_map(self, key: str) -> np.ndarray | None:
        """The last scoring pass's heat map for ``key`` (uint8, 255 = hottest), or None.

        At the frame's size: the pass keeps it at the model's resolution and it is resized
        here, on read (see :mod:`~alges_napari.core.project.cache`).
        """
        return self._cache.read("heat", key, self._label_shape())
