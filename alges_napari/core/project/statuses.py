"""Per-frame status of a project, in memory: accepted labels, skip and validation marks, times.

:class:`FrameStatuses` is the ``"frames"`` part of ``state.json`` plus the set of label files.
The project changes it only inside its write gate; any thread may read it at any time, and a
read sees a whole change or none of it (a short lock of its own, never held over file I/O, so
the GUI thread's reads never wait for a writer's fsync). Per-status counts are kept up to date
with each change instead of being recounted over every frame.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any

STATUSES = ("unlabelled", "labelled", "skipped", "validation")
MARKS = ("skipped", "validation")
# What state.json stores of a frame besides its status (the effort: see effort.py).
_KEPT = ("seconds", "accepted", "pixels_changed", "edit_actions", "round", "origin")


class FrameStatuses:
    """Which frames are labelled, skipped or held out for validation, and their annotation time.

    Parameters
    ----------
    labels : iterable of str
        Keys that have a label file under ``labels/`` (the source of truth).
    meta : dict
        Per-key ``{"skipped": True, "validation": True, "seconds": float, "accepted": iso}``.
    """

    def __init__(self, labels: Iterable[str] = (), meta: dict[str, dict[str, Any]] | None = None):
        self._lock = threading.Lock()
        self._labels = set(labels)
        self._meta = dict(meta or {})
        self._counts: dict[str, int] | None = None  # over the keys counted first; built lazily
        self._counted: frozenset[str] = frozenset()

    @classmethod
    def from_json(cls, frames: dict[str, Any], labels: Iterable[str]) -> FrameStatuses:
        """Read the ``"frames"`` object of a state file (raises ValueError on unknown statuses)."""
        meta = {}
        for key, entry in frames.items():
            status = entry.get("status", "unlabelled")
            if status not in STATUSES:
                raise ValueError(f"unknown status {status!r}")
            m = {k: entry[k] for k in _KEPT if k in entry}
            if status in MARKS:
                m[status] = True
            meta[str(key)] = m
        return cls(labels, meta)

    def to_json(self) -> dict[str, dict[str, Any]]:
        """The ``"frames"`` object of the state file: every key with a label or a mark, sorted."""
        with self._lock:
            out = {}
            for key in sorted(set(self._meta) | self._labels):
                entry: dict[str, Any] = {"status": self._status(key)}
                entry.update({k: v for k, v in self._meta.get(key, {}).items() if k in _KEPT})
                out[key] = entry
            return out

    # ------------------------------------------------------------ reading

    def _status(self, key: str) -> str:
        meta = self._meta.get(key, {})
        if meta.get("validation"):
            return "validation"
        if key in self._labels:
            return "labelled"
        return "skipped" if meta.get("skipped") else "unlabelled"

    def status(self, key: str) -> str:
        """The status of ``key``: "unlabelled", "labelled", "skipped" or "validation"."""
        with self._lock:
            return self._status(key)

    def has_label(self, key: str) -> bool:
        """True when ``key`` has an accepted label."""
        with self._lock:
            return key in self._labels

    def labelled(self) -> set[str]:
        """Every key with an accepted label (a copy), whether or not the source lists it."""
        with self._lock:
            return set(self._labels)

    def seconds(self, key: str) -> float:
        """Total annotation time of ``key`` (0 when unknown)."""
        with self._lock:
            return float(self._meta.get(key, {}).get("seconds", 0.0))

    def kept(self, key: str) -> dict[str, Any]:
        """What is kept of ``key`` besides its status (seconds, accepted, effort), a copy."""
        with self._lock:
            return {k: v for k, v in self._meta.get(key, {}).items() if k in _KEPT}

    def select(self, keys: Iterable[str], status: str, labelled_only: bool = False) -> list[str]:
        """The ``keys`` (in their order) whose status is ``status`` (and that have a label)."""
        with self._lock:
            return [
                k
                for k in keys
                if self._status(k) == status and (not labelled_only or k in self._labels)
            ]

    def counts(self, keys: Sequence[str]) -> dict[str, int]:
        """Frames of ``keys`` in each status; ``keys`` must be the same (the source's) every call."""
        with self._lock:
            if self._counts is None:
                counts = dict.fromkeys(STATUSES, 0)
                for key in keys:
                    counts[self._status(key)] += 1
                self._counts, self._counted = counts, frozenset(keys)
            return dict(self._counts)

    def __len__(self) -> int:
        with self._lock:
            return len(self._labels)

    # ------------------------------------------------------------ changing (inside the gate)

    def accept(
        self,
        key: str,
        accepted: str,
        seconds: float | None,
        effort: dict[str, int] | None = None,
        round_: int | None = None,
        origin: dict[str, str] | None = None,
    ) -> None:
        """Record an accepted label of ``key`` (clears a skip mark, adds ``seconds``).

        ``effort`` (pixels changed, edit actions) adds up like the seconds; ``round_`` is kept
        from the frame's first accept that gives one. ``origin`` says where an imported label
        came from; an accept without one (the label is now the user's) forgets it.
        """

        def edit(meta: dict[str, Any]) -> None:
            meta.pop("skipped", None)
            meta["accepted"] = accepted
            if seconds is not None:
                meta["seconds"] = float(meta.get("seconds", 0.0)) + float(seconds)
            for name, value in (effort or {}).items():
                meta[name] = int(meta.get(name, 0)) + int(value)
            if round_ is not None:
                meta.setdefault("round", int(round_))
            if origin is None:
                meta.pop("origin", None)
            else:
                meta["origin"] = {str(k): str(v) for k, v in origin.items()}

        self._change(key, edit, label=True)

    def mark(self, key: str, name: str, flag: bool) -> None:
        """Set or clear the ``name`` mark ("skipped" or "validation") of ``key``."""
        if name not in MARKS:
            raise ValueError(f"unknown mark {name!r}; one of {MARKS}")

        def edit(meta: dict[str, Any]) -> None:
            if flag:
                meta[name] = True
            else:
                meta.pop(name, None)

        self._change(key, edit)

    def _change(
        self, key: str, edit: Callable[[dict[str, Any]], None], label: bool = False
    ) -> None:
        with self._lock:
            before = self._status(key)
            meta = dict(self._meta.get(key, {}))
            edit(meta)
            self._meta[key] = meta
            if label:
                self._labels.add(key)
            after = self._status(key)
            if self._counts is not None and key in self._counted and before != after:
                self._counts[before] -= 1
                self._counts[after] += 1
