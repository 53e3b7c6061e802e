"""Change events of a project: what changed, for whoever shows it (the widget, a logger, a test).

A :class:`~alges_napari.core.project.project.Project` emits one :class:`ProjectEvent` after each
change is on disk, outside its write gate, in the thread that made the change. A subscriber that
lives in a GUI hops to its own thread itself; the core never knows a widget exists.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

#: The kinds of change, and what ``keys`` holds for each.
EVENT_KINDS = (
    "label",  # a label was accepted: keys = (the frame,)
    "status",  # a skip or validation mark was set or cleared: keys = (the frame,)
    "queue",  # the queue was replaced: keys = ()
    "round",  # a round was recorded (and its checkpoint is the latest): keys = ()
    "cache",  # a frame's prediction was cached: keys = (the frame,); the cache was cleared: ()
    "draft",  # propagated drafts were written or dropped: keys = those frames
)


@dataclass(frozen=True)
class ProjectEvent:
    """One change of a project, already on disk.

    Attributes
    ----------
    kind : str
        One of :data:`EVENT_KINDS`: "label", "status", "queue", "round", "cache" or "draft".
    keys : tuple of str
        The frames concerned; empty for "queue", "round" and a cleared cache.
    """

    kind: str
    keys: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in EVENT_KINDS:
            raise ValueError(f"unknown project event kind {self.kind!r}; one of {EVENT_KINDS}")


Subscriber = Callable[[ProjectEvent], None]


class Subscribers:
    """A thread-safe list of callbacks; :meth:`emit` calls each and logs what one raises."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._callbacks: dict[object, Subscriber] = {}  # token -> callback, in subscription order

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Add ``callback``; return a function that removes it again (idempotent)."""
        token = object()  # one per subscription: the same callback may be subscribed twice
        with self._lock:
            self._callbacks[token] = callback

        def unsubscribe() -> None:
            with self._lock:
                self._callbacks.pop(token, None)

        return unsubscribe

    def emit(self, event: ProjectEvent) -> None:
        """Call every subscriber with ``event``; a subscriber's error never reaches the writer."""
        # A copy: a callback may unsubscribe (or subscribe) while we iterate.
        with self._lock:
            callbacks = list(self._callbacks.values())
        for callback in callbacks:
            try:
                callback(event)
            except Exception:
                # The change is already on disk; a broken view must not turn it into an error.
                log.exception("project event subscriber %r failed on %s", callback, event)
