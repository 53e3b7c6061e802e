"""The on-disk project: a folder a person can read, that never loses an accepted label.

Layout of a project folder::

    alges_project.json   config: format version, frame source, class schema, model/training settings
    state.json           queue, rounds history, per-frame status and annotation time
    labels/              one index PNG per accepted frame -- the source of truth
    models/              round_0001.safetensors (+ metadata JSON) per training round
    cache/               predictions and heat maps of the last scoring pass; may be deleted any time
    drafts/              labels propagated to nearby frames, never read as labels (:mod:`.drafts`)
    .alges.lock          the writer's pid; the write lock is an flock of the folder itself (and of
                         this file, for older versions): see :mod:`.lock`

Frame keys may contain ``/``; they are mirrored as sub-folders of ``labels/`` and ``cache/`` (see
:mod:`.files`).

Every write goes through :mod:`alges_napari.core.atomic` (temporary file, fsync, rename, fsync of
the directory; the file's mode follows the umask, see :mod:`.files`): a label is durable before
:meth:`Project.accept_label` returns, and a reader sees the old state file or the new one, never
half of either. ``labels/`` wins over ``state.json``:
opening a project re-reads the label tree, and a missing or corrupt state file is rebuilt from it
(with a :class:`ProjectRecoveryWarning` and :attr:`Project.recovery` set for the UI to show).

Threads: a round runs in a worker thread (it writes the queue, the round record and the cache)
while the GUI thread accepts labels. Every change of the project's state passes ONE write gate
(a re-entrant lock held over the change in memory, the state snapshot and its write), so
``state.json`` is never overwritten by an older snapshot. Reads never wait for that gate: the
per-frame statuses have their own short lock (see :mod:`.statuses`), and the queue and the round
history are replaced, never changed in place, so a reader always holds a whole one. After each
change is on disk, subscribers (:meth:`Project.subscribe`) get a :class:`ProjectEvent`.

Rooms: the reads are in :mod:`.view`, the changes here; file names and the PNG codec in
:mod:`.files`, keys <-> paths in :mod:`.paths`, the lock in :mod:`.lock`, ``cache/`` in
:mod:`.cache`, ``models/`` in :mod:`.checkpoints`, the two JSON files in :mod:`.config` and
:mod:`.state`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import threading
import warnings
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from alges_napari.core.acquire.queue import QueueEntry, initial_queue
from alges_napari.core.data.classes import IGNORE_INDEX
from alges_napari.core.errors import ProjectError
from alges_napari.core.project.checkpoints import rounds_from_checkpoints
from alges_napari.core.project.config import FORMAT_VERSION, new_config, read_config
from alges_napari.core.project.drafts import DraftStore
from alges_napari.core.project.effort import Effort
from alges_napari.core.project.events import ProjectEvent, Subscribers
from alges_napari.core.project.files import (
    CACHE_DIR,
    CONFIG_FILE,
    LABELS_DIR,
    MODELS_DIR,
    STATE_FILE,
    atomic_write_bytes,
    atomic_write_json,
    decode_index_png,
    encode_index_png,
    key_to_relpath,
    makedirs,
    now_iso,
    relpath_to_key,
    remove_stale_temporaries,
    scan_labels,
)
from alges_napari.core.project.lock import ProjectLock
from alges_napari.core.project.records import RoundRecord
from alges_napari.core.project.state import StateUnreadable, read_state, state_json
from alges_napari.core.project.statuses import STATUSES, FrameStatuses
from alges_napari.core.project.view import ProjectView

#: The encoder weights a project starts its models from (Project.create(encoder_weights=...)).
ENCODER_WEIGHTS_FILE = "encoder_weights.safetensors"


class LabelExistsError(ProjectError):
    """``accept_label(replace=False)`` found an accepted label of the frame: it is kept."""


class ProjectRecoveryWarning(UserWarning):
    """The state file was missing or corrupt and was rebuilt from ``labels/``."""


# ---------------------------------------------------------------- the project


class Project(ProjectView):
    """An active-learning project folder (see the module docstring for its layout).

    Create one with :meth:`create`, open an existing one with :meth:`open`; both return a
    project opened for writing (holding the lock) unless ``readonly=True``. Use it as a context
    manager or call :meth:`close` to release the lock. Any thread may call any method: changes
    pass one write gate, reads see whole changes (see the module docstring). The reading
    methods are those of :class:`~alges_napari.core.project.view.ProjectView`; this class adds
    every change, and the attributes (root, config, readonly, recovery) are documented there.
    """

    def __init__(
        self, root: Path, config: dict[str, Any], readonly: bool, lock: ProjectLock | None
    ):
        super().__init__(root, config, readonly)
        self._lock = lock
        self._gate = threading.RLock()  # THE write gate: change + snapshot + write, together
        self._events = Subscribers()
        self.drafts = DraftStore(self, self._events.emit)  # propagated labels, never labels

    # ------------------------------------------------------------ create / open / close

    @classmethod
    def create(
        cls,
        root: str | os.PathLike[str],
        source: Any,
        schema: Any = None,
        preset: str = "cpu",
        stride: int = 1,
        first_queue: int = 10,
        encoder_weights: str | os.PathLike[str] | None = None,
        **model_overrides: Any,
    ) -> Project:
        """Create a new project folder and open it for writing.

        Parameters
        ----------
        root : path-like
            Folder to create; it must not exist or be empty.
        source : path-like or FrameSource
            The frames: a folder, a CholecSeg8k tree, a video, a TIFF stack (see
            ``core/data/frames/``).
        schema : ClassSchema, str or None
            Class schema, a schema name/JSON path, or None for the source's own schema
            (CholecSeg8k trees) falling back to CholecSeg8k's 13 classes.
        preset : {"cpu", "gpu"}
            Model and training settings from ``train.PRESETS``.
        stride : int
            Use every ``stride``-th frame of a path source.
        first_queue : int
            Frames in the first queue, spread evenly over the source order
            (:func:`~alges_napari.core.acquire.queue.initial_queue`), so there is something to
            label before any model exists; all frames when the source has fewer, none for 0.
        encoder_weights : path or "imagenet", optional
            Start every model trained from scratch (the first round, ``warm_start=False``)
            with this encoder: a torchvision or timm state dict file, or smp's ImageNet
            weights (downloaded now). Checked against the encoder before anything is
            created; kept in the project as ``encoder_weights.safetensors``, and the config
            records the file's name and SHA-256 (``"encoder_weights"``).
        **model_overrides
            Fields of ``TrainConfig`` to change (``epochs=3``, ``input_size=(64, 64)``...).

        Returns
        -------
        Project
        """
        root = Path(root)
        if isinstance(first_queue, bool) or not isinstance(first_queue, int) or first_queue < 0:
            raise ProjectError(f"first_queue must be a whole number >= 0, got {first_queue!r}")
        if root.exists() and (not root.is_dir() or any(root.iterdir())):
            raise ProjectError(f"cannot create a project in {root}: it exists and is not empty")
        config, source, schema = new_config(source, schema, preset, stride, **model_overrides)
        encoder_state = None
        if encoder_weights is not None:
            encoder_state, record = _encoder_init(config, schema, encoder_weights)
            config["encoder_weights"] = dict(record, stored=ENCODER_WEIGHTS_FILE)
        for sub in (LABELS_DIR, MODELS_DIR, CACHE_DIR):
            makedirs(root / sub)
        if encoder_state is not None:
            from alges_napari.core.learn.encoder_weights import save_encoder_weights

            save_encoder_weights(encoder_state, root / ENCODER_WEIGHTS_FILE)
        atomic_write_json(root / CONFIG_FILE, config)
        project = cls(root, config, readonly=False, lock=ProjectLock.acquire(root))
        project._frames, project._schema = source, schema
        with project._write_gate():
            project._queue = initial_queue(list(source.keys), first_queue)
            project._save_state()
        return project

    @classmethod
    def open(cls, root: str | os.PathLike[str], readonly: bool = False) -> Project:
        """Open an existing project.

        Parameters
        ----------
        root : path-like
            The project folder.
        readonly : bool
            Open without the write lock (any number of readers may do so).

        Raises
        ------
        ProjectLockedError
            When another process holds the project open for writing.
        ProjectError
            When the folder is not a project or its config is unreadable.
        """
        root = Path(root)
        config = read_config(root)
        lock = None if readonly else ProjectLock.acquire(root)
        project = cls(root, config, readonly=readonly, lock=lock)
        if not readonly:
            remove_stale_temporaries(root)
        project._load_state()
        return project

    def close(self) -> None:
        """Release the write lock (idempotent); a write in progress in another thread ends first."""
        with self._gate:
            if self._lock is not None:
                self._lock.release()
                self._lock = None
            self.readonly = True

    def __enter__(self) -> Project:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()

    # ------------------------------------------------------------ the write gate and events

    @contextlib.contextmanager
    def _write_gate(self) -> Iterator[None]:
        """Hold the one write gate; every change of state, and its write, happens inside it."""
        with self._gate:
            self._check_writable()  # inside: close() in another thread cannot slip in between
            yield

    def subscribe(self, callback: Callable[[ProjectEvent], None]) -> Callable[[], None]:
        """Call ``callback(event)`` after each change of the project is on disk.

        The callback runs in the thread that made the change (a round's worker thread, say),
        after the write gate is released; a GUI hops to its own thread itself. An exception it
        raises is logged (``logging``), never passed to the writer.

        Parameters
        ----------
        callback : callable
            Receives a :class:`ProjectEvent` (kind "label", "status", "queue", "round" or
            "cache", and the frame keys concerned).

        Returns
        -------
        callable
            Call it (no arguments) to unsubscribe.
        """
        return self._events.subscribe(callback)

    def _check_writable(self) -> None:
        if self.readonly:
            raise ProjectError(f"project {self.root} is open read-only")

    # ------------------------------------------------------------ labels

    def accept_label(
        self,
        key: str,
        mask: np.ndarray,
        seconds: float | None = None,
        effort: Effort | None = None,
        origin: dict[str, str] | None = None,
        replace: bool = True,
    ) -> Path:
        """Store ``mask`` as the accepted label of ``key``; durable on disk before returning.

        Parameters
        ----------
        key : str
            Frame key.
        mask : ndarray (H, W)
            Class indices, 255 = ignore; the frame's size.
        seconds : float, optional
            Time spent annotating, added to the frame's total.
        effort : Effort, optional
            Pixels changed and edit actions, added to the frame's totals with the round (see
            :mod:`.effort`). The frame's draft, if any, is dropped: it is a label now.
        origin : dict of str to str, optional
            Where a label made elsewhere came from (``{"format", "file", "name"}``: see
            :mod:`.label_import`); kept in the frame's entry of ``state.json`` until the frame
            is accepted again without one.
        replace : bool
            False: refuse (:class:`LabelExistsError`) when the frame already has an accepted
            label, checked inside the write gate, so a label accepted meanwhile in another
            thread is never overwritten (imports use it).

        Returns
        -------
        Path
            The label file. Accepting again overwrites it (re-opened, edited labels).

        Raises
        ------
        ProjectError
            The mask labels no pixel (all 255): an empty label would train on nothing.
        LabelExistsError
            ``replace`` is False and the frame has an accepted label (nothing was saved).
        """
        from alges_napari.core.data.masks import validate_mask

        self._check_writable()
        self._check_key(key)
        mask = validate_mask(
            np.asarray(mask), self.schema, shape=tuple(self.frames.shape), name=key
        )
        if not (mask != IGNORE_INDEX).any():
            raise ProjectError(
                f"the label of {key!r} labels no pixel (every pixel is 255, ignore): paint its "
                "classes first, or skip the frame; nothing was saved"
            )
        data = encode_index_png(mask)  # outside the gate: it changes nothing
        path = self.label_path(key)
        with self._write_gate():
            if not replace and self._statuses.has_label(key):
                raise LabelExistsError(f"frame {key!r} already has an accepted label; kept")
            makedirs(path.parent)
            atomic_write_bytes(path, data)
            # The effort goes with the round whose model made the frame's prediction.
            last = max((r.round for r in self._rounds), default=0)
            kept = {} if effort is None else {"effort": effort.to_json(), "round_": last}
            self._statuses.accept(key, now_iso(), seconds, origin=origin, **kept)
            self._save_state()
        self.drafts.discard(key, announce=False)  # after the label: see drafts.py
        self._events.emit(ProjectEvent("label", (key,)))
        return path

    def skip(self, key: str, flag: bool = True) -> None:
        """Mark (or unmark) ``key`` as skipped: it leaves the pool and the queue."""
        self._set_mark(key, "skipped", flag)

    def set_validation(self, key: str, flag: bool = True) -> None:
        """Mark (or unmark) ``key`` as a validation frame: held out from training and selection."""
        self._set_mark(key, "validation", flag)

    def _set_mark(self, key: str, name: str, flag: bool) -> None:
        self._check_writable()
        self._check_key(key)
        with self._write_gate():
            self._statuses.mark(key, name, flag)
            self._save_state()
        self._events.emit(ProjectEvent("status", (key,)))

    # ------------------------------------------------------------ queue and rounds

    def set_queue(self, entries: Iterable[QueueEntry]) -> None:
        """Replace the queue and persist it."""
        queue = [
            dataclasses.replace(e, rank=int(e.rank))
            if isinstance(e, QueueEntry)
            else QueueEntry(e.key, int(e.rank), e.score)
            for e in entries
        ]
        with self._write_gate():
            self._queue = queue
            self._save_state()
        self._events.emit(ProjectEvent("queue"))

    def record_round(self, record: RoundRecord) -> None:
        """Append a round's record to the history and persist it.

        Its checkpoint (written before) becomes :meth:`latest_checkpoint`.
        """
        if not isinstance(record, RoundRecord):
            raise TypeError(f"record_round takes a RoundRecord, got {type(record).__name__}")
        with self._write_gate():
            self._rounds = [*self._rounds, record]
            self._checkpoints.forget()
            self._save_state()
        self._events.emit(ProjectEvent("round"))

    # ------------------------------------------------------------ cache

    #: The acquisition step hands the project each frame's heat map with its prediction (the
    #: widget's heat-map overlay reads them from the cache).
    keeps_heat = True

    def clear_cache(self) -> None:
        """Delete everything under ``cache/`` (it is rebuilt by the next scoring pass)."""
        with self._write_gate():
            self._cache.clear()
        self._events.emit(ProjectEvent("cache"))

    def write_cache(self, key: str, prediction: np.ndarray, heat: np.ndarray | None = None) -> None:
        """Store a frame's predicted mask (uint8) and heat map (scaled to uint8) in ``cache/``."""
        with self._write_gate():
            self._cache.write(key, prediction, heat)
        self._events.emit(ProjectEvent("cache", (key,)))

    # ------------------------------------------------------------ state file

    def _load_state(self) -> None:
        labels = scan_labels(self.root / LABELS_DIR)
        self._statuses = FrameStatuses(labels)
        try:
            self._statuses, self._queue, self._rounds = read_state(self.root, labels)
        except StateUnreadable as exc:
            self._rebuild_state(str(exc))

    def _rebuild_state(self, why: str) -> None:
        self._queue, self._rounds = [], rounds_from_checkpoints(self.root)
        self.recovery = (
            f"{why}; rebuilt from {LABELS_DIR}/: {len(self._statuses)} labels and "
            f"{len(self._rounds)} checkpoints recovered; validation/skip marks, annotation times "
            "and the queue were lost"
        )
        warnings.warn(self.recovery, ProjectRecoveryWarning, stacklevel=3)
        if not self.readonly:
            with self._write_gate():
                self._save_state()

    def _save_state(self) -> None:
        # Called inside the write gate only: the snapshot and its write are one step, so no
        # other thread's older snapshot can land after this one.
        state = state_json(self._statuses, self._queue, self._rounds)
        atomic_write_json(self.root / STATE_FILE, state)


def _encoder_init(
    config: dict[str, Any], schema: Any, source: str | os.PathLike[str]
) -> tuple[dict[str, Any], dict[str, str]]:
    """Read encoder weights for a new project's model and check they fit it (keys, shapes)."""
    from alges_napari.core.learn.encoder_weights import load_encoder_state, read_encoder_weights
    from alges_napari.core.learn.model import build_model

    train = config["train"]
    state, record = read_encoder_weights(source, train["encoder"])
    model = build_model(train["arch"], train["encoder"], num_classes=schema.num_classes)
    load_encoder_state(model, state, str(source))
    return state, record


def open_project(root: str | os.PathLike[str], readonly: bool = False) -> Project:
    """Shorthand for :meth:`Project.open`."""
    return Project.open(root, readonly=readonly)


__all__ = [
    "FORMAT_VERSION",
    "STATUSES",
    "Project",
    "ProjectEvent",
    "ProjectRecoveryWarning",
    "QueueEntry",
    "RoundRecord",
    "key_to_relpath",
    "relpath_to_key",
    "encode_index_png",
    "decode_index_png",
    "open_project",
]
