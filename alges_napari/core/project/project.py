"""The on-disk project: a folder a person can read, that never loses an accepted label.

Layout of a project folder::

    alges_project.json   config: format version, frame source, class schema, model/training settings
    state.json           queue, rounds history, per-frame status and annotation time
    labels/              one index PNG per accepted frame -- the source of truth
    models/              round_0001.safetensors (+ metadata JSON) per training round
    cache/               predictions and heat maps of the last scoring pass; may be deleted any time
    .alges.lock          held (fcntl.flock) by the one process that opened the project for writing

Frame keys may contain ``/`` (a CholecSeg8k key is ``video01/video01_00080/frame_80_endo``). Such
keys are mirrored as sub-folders: ``labels/video01/video01_00080/frame_80_endo.png``, so the label
tree reads like the source tree. Inside each path component, characters other than letters,
digits and ``_.-~`` are percent-escaped (``%`` itself included), and the components ``.`` and
``..`` become ``%2E`` and ``%2E%2E``; the mapping is therefore reversible and never leaves
``labels/``. Keys that differ only by letter case collide on case-insensitive file systems.

Every write goes through :mod:`alges_napari.core.atomic` (temporary file, fsync, rename, fsync of
the directory): a label is durable before :meth:`Project.accept_label` returns, and a reader sees
the old state file or the new one, never half of either. ``labels/`` wins over ``state.json``:
opening a project re-reads the label tree, and a missing or corrupt state file is rebuilt from it
(with a :class:`ProjectRecoveryWarning` and :attr:`Project.recovery` set for the UI to show).
"""

from __future__ import annotations

import contextlib
import json
import os
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from alges_napari.core.acquire.queue import QueueEntry
from alges_napari.core.atomic import atomic_write_bytes, atomic_write_json
from alges_napari.core.errors import ProjectError
from alges_napari.core.project.files import (
    CACHE_DIR,
    CONFIG_FILE,
    LABELS_DIR,
    MODELS_DIR,
    STATE_FILE,
    FrameCache,
    decode_index_png,
    encode_index_png,
    key_to_relpath,
    lock_project,
    makedirs,
    now_iso,
    relpath_to_key,
    remove_stale_temporaries,
    scan_labels,
)

FORMAT_VERSION = 1
STATUSES = ("unlabelled", "labelled", "skipped", "validation")


class ProjectRecoveryWarning(UserWarning):
    """The state file was missing or corrupt and was rebuilt from ``labels/``."""


# ---------------------------------------------------------------- the project


class Project:
    """An active-learning project folder (see the module docstring for its layout).

    Create one with :meth:`create`, open an existing one with :meth:`open`; both return a
    project opened for writing (holding the lock) unless ``readonly=True``. Use it as a context
    manager or call :meth:`close` to release the lock.

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

    def __init__(self, root: Path, config: dict[str, Any], readonly: bool, lock_fd: int | None):
        self.root = root
        self.config = config
        self.readonly = readonly
        self.recovery: str | None = None
        self._lock_fd = lock_fd
        self._frames: Any = None
        self._schema: Any = None
        self._key_set: set[str] | None = None
        self._labels: set[str] = set()
        self._meta: dict[str, dict[str, Any]] = {}
        self._queue: list[QueueEntry] = []
        self._rounds: list[dict[str, Any]] = []
        self._cache = FrameCache(root / CACHE_DIR)

    # ------------------------------------------------------------ create / open / close

    @classmethod
    def create(
        cls,
        root: str | os.PathLike[str],
        source: Any,
        schema: Any = None,
        preset: str = "cpu",
        stride: int = 1,
        **model_overrides: Any,
    ) -> Project:
        """Create a new project folder and open it for writing.

        Parameters
        ----------
        root : path-like
            Folder to create; it must not exist or be empty.
        source : path-like or FrameSource
            The frames: a folder, a CholecSeg8k tree, a video, a TIFF stack (see ``frames.py``).
        schema : ClassSchema, str or None
            Class schema, a schema name/JSON path, or None for the source's own schema
            (CholecSeg8k trees) falling back to CholecSeg8k's 13 classes.
        preset : {"cpu", "gpu"}
            Model and training settings from ``train.PRESETS``.
        stride : int
            Use every ``stride``-th frame of a path source.
        **model_overrides
            Fields of ``TrainConfig`` to change (``epochs=3``, ``input_size=(64, 64)``...).

        Returns
        -------
        Project
        """
        from alges_napari.core.data import classes, frames
        from alges_napari.core.learn.train import preset_config

        root = Path(root)
        if root.exists() and (not root.is_dir() or any(root.iterdir())):
            raise ProjectError(f"cannot create a project in {root}: it exists and is not empty")
        if isinstance(source, (str, os.PathLike)):
            source = frames.open_frames(source, stride=stride)
        if schema is None:
            schema = getattr(source, "schema", None) or classes.CHOLECSEG8K
        elif not isinstance(schema, classes.ClassSchema):
            schema = classes.get_schema(schema)
        train_cfg = preset_config(preset, **model_overrides)
        config = {
            "format": "alges-project",
            "version": FORMAT_VERSION,
            "created": now_iso(),
            "source": source.describe(),
            "classes": schema.to_json(),
            "preset": preset,
            "train": train_cfg.to_json(),
        }
        try:
            for sub in ("", LABELS_DIR, MODELS_DIR, CACHE_DIR):
                (root / sub).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ProjectError(f"cannot create project {root}: {exc.strerror or exc}") from exc
        atomic_write_json(root / CONFIG_FILE, config)
        project = cls(root, config, readonly=False, lock_fd=lock_project(root))
        project._frames, project._schema = source, schema
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
        cfg_path = root / CONFIG_FILE
        try:
            config = json.loads(cfg_path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ProjectError(f"{root} is not an alges project (no {CONFIG_FILE})") from exc
        except (OSError, ValueError) as exc:
            raise ProjectError(f"cannot read project config {cfg_path}: {exc}") from exc
        if not isinstance(config, dict) or config.get("format") != "alges-project":
            raise ProjectError(f"{cfg_path} is not an alges project config")
        if int(config.get("version", 0)) > FORMAT_VERSION:
            raise ProjectError(
                f"{cfg_path} has format version {config.get('version')}; this alges-napari "
                f"reads up to {FORMAT_VERSION}: upgrade alges-napari"
            )
        lock_fd = None if readonly else lock_project(root)
        project = cls(root, config, readonly=readonly, lock_fd=lock_fd)
        if not readonly:
            remove_stale_temporaries(root)
        project._load_state()
        return project

    def close(self) -> None:
        """Release the write lock (idempotent)."""
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None
        self.readonly = True

    def __enter__(self) -> Project:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()

    def __repr__(self) -> str:
        mode = "read-only" if self.readonly else "writable"
        return f"Project({str(self.root)!r}, {mode}, {len(self._labels)} labels)"

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

    def _check_writable(self) -> None:
        if self.readonly:
            raise ProjectError(f"project {self.root} is open read-only")

    # ------------------------------------------------------------ status

    def status(self, key: str) -> str:
        """Return "unlabelled", "labelled", "skipped" or "validation" for a frame."""
        meta = self._meta.get(key, {})
        if meta.get("validation"):
            return "validation"
        if key in self._labels:
            return "labelled"
        return "skipped" if meta.get("skipped") else "unlabelled"

    def counts(self) -> dict[str, int]:
        """Number of frames in each status (all four keys present)."""
        out = dict.fromkeys(STATUSES, 0)
        for key in self.keys:
            out[self.status(key)] += 1
        return out

    def labelled_keys(self) -> list[str]:
        """Keys with an accepted label that are not validation frames (the training set)."""
        return [k for k in self.keys if self.status(k) == "labelled"]

    def unlabelled_keys(self) -> list[str]:
        """Keys with status "unlabelled" (the active-learning pool)."""
        return [k for k in self.keys if self.status(k) == "unlabelled"]

    def skipped_keys(self) -> list[str]:
        """Keys the user chose to skip."""
        return [k for k in self.keys if self.status(k) == "skipped"]

    def validation_keys(self, labelled_only: bool = False) -> list[str]:
        """Keys marked as validation frames (held out from training, used for metrics)."""
        keys = [k for k in self.keys if self.status(k) == "validation"]
        return [k for k in keys if k in self._labels] if labelled_only else keys

    def has_label(self, key: str) -> bool:
        """True when an accepted label for ``key`` is on disk."""
        return key in self._labels

    def annotation_seconds(self, key: str) -> float:
        """Total time spent annotating ``key`` over all its accepts (0 when unknown)."""
        return float(self._meta.get(key, {}).get("seconds", 0.0))

    # ------------------------------------------------------------ labels

    def label_path(self, key: str) -> Path:
        """Path of the index PNG for ``key`` (it may not exist)."""
        return self.root / LABELS_DIR / f"{key_to_relpath(key)}.png"

    def accept_label(self, key: str, mask: np.ndarray, seconds: float | None = None) -> Path:
        """Store ``mask`` as the accepted label of ``key``; durable on disk before returning.

        Parameters
        ----------
        key : str
            Frame key.
        mask : ndarray (H, W)
            Class indices, 255 = ignore; the frame's size.
        seconds : float, optional
            Time spent annotating, added to the frame's total.

        Returns
        -------
        Path
            The label file. Accepting again overwrites it (re-opened, edited labels).
        """
        from alges_napari.core.data.masks import validate_mask

        self._check_writable()
        self._check_key(key)
        mask = validate_mask(
            np.asarray(mask), self.schema, shape=tuple(self.frames.shape), name=key
        )
        path = self.label_path(key)
        makedirs(path.parent)
        atomic_write_bytes(path, encode_index_png(mask))
        self._labels.add(key)
        meta = self._meta.setdefault(key, {})
        meta.pop("skipped", None)
        meta["accepted"] = now_iso()
        if seconds is not None:
            meta["seconds"] = float(meta.get("seconds", 0.0)) + float(seconds)
        self._save_state()
        return path

    def load_label(self, key: str) -> np.ndarray | None:
        """Return the accepted label of ``key`` as uint8 (H, W), or None."""
        if key not in self._labels:
            return None
        return decode_index_png(self.label_path(key))

    def skip(self, key: str, flag: bool = True) -> None:
        """Mark (or unmark) ``key`` as skipped: it leaves the pool and the queue."""
        self._set_flag(key, "skipped", flag)

    def set_validation(self, key: str, flag: bool = True) -> None:
        """Mark (or unmark) ``key`` as a validation frame: held out from training and selection."""
        self._set_flag(key, "validation", flag)

    def _set_flag(self, key: str, name: str, flag: bool) -> None:
        self._check_writable()
        self._check_key(key)
        meta = self._meta.setdefault(key, {})
        if flag:
            meta[name] = True
        else:
            meta.pop(name, None)
        self._save_state()

    # ------------------------------------------------------------ queue and rounds

    @property
    def queue(self) -> list[QueueEntry]:
        """The frames to label next, best first, as selected by the last round."""
        return list(self._queue)

    def pending_queue(self) -> list[QueueEntry]:
        """Queue entries whose frame is still unlabelled (not labelled, skipped or held out)."""
        return [e for e in self._queue if self.status(e.key) == "unlabelled"]

    def set_queue(self, entries: Iterable[QueueEntry]) -> None:
        """Replace the queue and persist it."""
        self._check_writable()
        self._queue = [QueueEntry(e.key, int(e.rank), e.score) for e in entries]
        self._save_state()

    @property
    def rounds(self) -> list[dict[str, Any]]:
        """History of rounds: round, n_labelled, val_dice, mean_dice, checkpoint, timings."""
        return [dict(r) for r in self._rounds]

    def record_round(self, info: dict[str, Any]) -> None:
        """Append a round's summary (JSON-serialisable dict) to the history and persist it."""
        self._check_writable()
        self._rounds.append(dict(info))
        self._save_state()

    def next_round(self) -> int:
        """Number of the next round (1 for the first)."""
        done = [int(r.get("round", 0)) for r in self._rounds]
        return max(done, default=0) + 1

    def checkpoint_path(self, round_index: int) -> Path:
        """Where the checkpoint of round ``round_index`` lives."""
        return self.root / MODELS_DIR / f"round_{round_index:04d}.safetensors"

    def latest_checkpoint(self) -> Path | None:
        """The newest checkpoint on disk, or None."""
        found = sorted((self.root / MODELS_DIR).glob("round_*.safetensors"))
        return found[-1] if found else None

    # ------------------------------------------------------------ cache

    def clear_cache(self) -> None:
        """Delete everything under ``cache/`` (it is rebuilt by the next scoring pass)."""
        self._check_writable()
        self._cache.clear()

    def write_cache(self, key: str, prediction: np.ndarray, heat: np.ndarray | None = None) -> None:
        """Store a frame's predicted mask (uint8) and heat map (scaled to uint8) in ``cache/``."""
        self._check_writable()
        self._cache.write(key, prediction, heat)

    def prediction(self, key: str) -> np.ndarray | None:
        """The last scoring pass's predicted mask for ``key``, or None when not cached."""
        return self._cache.read("pred", key)

    def heat_map(self, key: str) -> np.ndarray | None:
        """The last scoring pass's heat map for ``key`` (uint8, 255 = hottest), or None."""
        return self._cache.read("heat", key)

    # ------------------------------------------------------------ state file

    def _load_state(self) -> None:
        self._labels = scan_labels(self.root / LABELS_DIR)
        path = self.root / STATE_FILE
        try:
            state = json.loads(path.read_text(encoding="utf-8"))
            self._parse_state(state)
        except ProjectError:
            raise
        except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
            self._rebuild_state(f"{path} was {'missing' if not path.exists() else 'corrupt'}", exc)

    def _parse_state(self, state: dict[str, Any]) -> None:
        if state.get("format") != "alges-state":
            raise ValueError("not an alges state file")
        if int(state.get("version", 1)) > FORMAT_VERSION:
            # Rebuilding would throw away what a newer alges-napari wrote: refuse instead.
            raise ProjectError(f"{self.root / STATE_FILE} is from a newer alges-napari: upgrade it")
        meta = {}
        for key, entry in state["frames"].items():
            status = entry.get("status", "unlabelled")
            if status not in STATUSES:
                raise ValueError(f"unknown status {status!r}")
            m = {k: entry[k] for k in ("seconds", "accepted") if k in entry}
            if status in ("validation", "skipped"):
                m[status] = True
            meta[str(key)] = m
        queue = [QueueEntry(str(q["key"]), int(q["rank"]), q.get("score")) for q in state["queue"]]
        rounds = [dict(r) for r in state["rounds"]]
        self._meta, self._queue, self._rounds = meta, queue, rounds

    def _rebuild_state(self, why: str, exc: BaseException) -> None:
        self._meta, self._queue = {}, []
        self._rounds = [
            {"round": int(p.stem.split("_")[1]), "checkpoint": p.relative_to(self.root).as_posix()}
            for p in sorted((self.root / MODELS_DIR).glob("round_*.safetensors"))
            if p.stem.split("_")[1].isdigit()
        ]
        self.recovery = (
            f"{why} ({exc}); rebuilt from {LABELS_DIR}/: {len(self._labels)} labels and "
            f"{len(self._rounds)} checkpoints recovered; validation/skip marks, annotation times "
            "and the queue were lost"
        )
        warnings.warn(self.recovery, ProjectRecoveryWarning, stacklevel=3)
        if not self.readonly:
            self._save_state()

    def _state_dict(self) -> dict[str, Any]:
        frames = {}
        for key in sorted(set(self._meta) | self._labels):
            entry: dict[str, Any] = {"status": self.status(key)}
            entry.update(
                {k: v for k, v in self._meta.get(key, {}).items() if k in ("seconds", "accepted")}
            )
            frames[key] = entry
        return {
            "format": "alges-state",
            "version": FORMAT_VERSION,
            "saved": now_iso(),
            "frames": frames,
            "queue": [{"key": e.key, "rank": e.rank, "score": e.score} for e in self._queue],
            "rounds": self._rounds,
        }

    def _save_state(self) -> None:
        self._check_writable()
        atomic_write_json(self.root / STATE_FILE, self._state_dict())


def open_project(root: str | os.PathLike[str], readonly: bool = False) -> Project:
    """Shorthand for :meth:`Project.open`."""
    return Project.open(root, readonly=readonly)


__all__ = [
    "Project",
    "ProjectRecoveryWarning",
    "QueueEntry",
    "key_to_relpath",
    "relpath_to_key",
    "encode_index_png",
    "decode_index_png",
    "open_project",
]
