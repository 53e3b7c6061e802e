"""What the dock shows of the open project, kept current by the project's change events.

The project is counted in full once, when it opens. After that every
:class:`~alges_napari.core.project.events.ProjectEvent` updates only what it concerns: a
"label" or "status" event the counts line, that frame's queue row and its labelled pixels; a
"draft" event the queue rows of the frames concerned ("draft" while one waits); a "queue"
event the queue table; a "round" event the round history and whether a model exists.
Moving between frames reads the cached summary (counts, pending frames, queue ranks), so it
never recounts the pool nor lists ``models/``.

Events come in the thread that made the change (a round's worker thread, too): the
:class:`EventBridge` re-emits them as a Qt signal, which Qt queues into the GUI thread when the
emitting thread is another one, and delivers at once when it is the GUI thread itself (an
accept through the dock is shown before the accept returns).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from qtpy.QtCore import QObject, Signal, Slot

from alges_napari._qt.jobs import BackgroundJob, JobStarter
from alges_napari._qt.queue_view import QueueTable
from alges_napari._qt.status_view import StatusPanel, class_pixels, iter_label_pixels
from alges_napari.core.errors import AlgesError
from alges_napari.core.project.drafts import shown_status
from alges_napari.core.project.effort import effort_by_round, effort_records
from alges_napari.core.project.events import ProjectEvent


class EventBridge(QObject):
    """Delivers a project's events to ``handler`` in the GUI thread (see the module).

    Parameters
    ----------
    project : Project
        The project to listen to; :meth:`unsubscribe` stops listening.
    handler : callable
        Called with each :class:`ProjectEvent`, in the GUI thread.
    parent : QObject, optional
        Lives in the GUI thread; the bridge lives there too.
    """

    _received = Signal(object)

    def __init__(self, project: Any, handler: Callable[[ProjectEvent], Any], parent: Any = None):
        super().__init__(parent)
        self._handler: Callable[[ProjectEvent], Any] | None = handler
        # AutoConnection to a slot of this object: queued when emitted from another thread.
        self._received.connect(self._deliver)
        self._unsubscribe = project.subscribe(self._forward)

    def _forward(self, event: ProjectEvent) -> None:  # any thread
        if self._handler is not None:
            try:
                self._received.emit(event)
            except RuntimeError:  # the Qt object is already deleted: nobody is listening
                pass

    @Slot(object)
    def _deliver(self, event: ProjectEvent) -> None:  # the GUI thread
        if self._handler is not None:  # events queued before unsubscribe are dropped
            self._handler(event)

    def unsubscribe(self) -> None:
        """Stop listening (idempotent); events already queued are dropped."""
        self._handler = None
        self._unsubscribe()


class ProjectTracker:
    """The counts, queue, round history and labelled pixels of the open project, as shown.

    Parameters
    ----------
    project : Project
        The open project.
    queue_table : QueueTable
        Shows the queue; updated row by row.
    status : StatusPanel
        Shows counts, pixels and the round history.
    on_change : callable
        Called as ``on_change(kind, keys)`` after each event was applied (buttons, frame line).

    Attributes
    ----------
    counts : dict
        ``Project.counts()`` as of the last label or status event.
    pending : list of str
        Queued frames still unlabelled, in queue order.
    ranks : dict
        Queue rank (0 = first) of each queued frame.
    has_model : bool
        True when a round left a checkpoint (export the model, predictions exist).
    """

    def __init__(
        self,
        project: Any,
        queue_table: QueueTable,
        status: StatusPanel,
        on_change: Callable[[str, tuple[str, ...]], Any],
    ):
        self.project = project
        self._table, self._status, self._on_change = queue_table, status, on_change
        self._total = len(project.keys)
        self.counts: dict[str, int] = project.counts()
        self.has_model = project.latest_checkpoint() is not None  # listed once, at open
        self.pixels: dict[str, np.ndarray] = {}
        self.order: list[str] = []
        self.ranks: dict[str, int] = {}
        self.pending: list[str] = []
        self._show_queue()
        self._show_rounds()
        self._show_pixels()
        self._show_effort()

    @property
    def labelled(self) -> int:
        """Training labels (the frames a round trains on)."""
        return self.counts.get("labelled", 0)

    def count_pixels(self, start_job: JobStarter) -> BackgroundJob:
        """Count the labelled pixels of every accepted label in a thread worker."""
        project = self.project
        keys = project.labelled_keys() + project.validation_keys(True)
        return start_job(
            lambda stop: iter_label_pixels(project, keys, stop), self._pixels_counted, name="count"
        )

    def _pixels_counted(self, counted: dict[str, np.ndarray]) -> None:
        counted.update(self.pixels)  # labels accepted while counting are newer
        self.pixels = counted
        self._show_pixels()

    # ------------------------------------------------------------ events

    def apply(self, event: ProjectEvent) -> None:
        """Update what ``event`` concerns, then call ``on_change``."""
        if event.kind in ("label", "status"):
            self._frames_changed(event.keys, read_labels=event.kind == "label")
        elif event.kind == "draft":
            for key in event.keys:
                if key in self.ranks:
                    self._table.set_status(key, shown_status(self.project, key))
        elif event.kind == "queue":
            self._show_queue()
        elif event.kind == "round":
            self.has_model = True  # a recorded round's checkpoint is the latest
            self._show_rounds()
            self._table.set_strategy(self.project.rounds[-1].strategy)
        self._on_change(event.kind, event.keys)

    def _frames_changed(self, keys: tuple[str, ...], read_labels: bool) -> None:
        project = self.project
        self.counts = project.counts()
        for key in keys:
            self._table.set_status(key, shown_status(project, key))
            if read_labels:
                try:
                    mask = project.load_label(key)
                except AlgesError:  # unusable: not counted (the frame names it when shown)
                    mask = None
                if mask is not None:
                    self.pixels[key] = class_pixels(mask, project.schema.num_classes)
        if any(key in self.ranks for key in keys):
            self.pending = [k for k in self.order if project.status(k) == "unlabelled"]
        self._show_counts()
        if read_labels:
            self._show_pixels()
            self._show_effort()

    def _show_queue(self) -> None:
        project = self.project
        queue = project.queue
        self.order = [e.key for e in queue]
        self.ranks = {e.key: e.rank for e in queue}
        self.pending = [k for k in self.order if project.status(k) == "unlabelled"]
        rounds = project.rounds
        strategy = rounds[-1].strategy if rounds else None
        self._table.set_entries(queue, lambda key: shown_status(project, key), strategy)
        self._show_counts()

    def _show_counts(self) -> None:
        self._status.show_counts(self.counts, self._total, len(self.pending))

    def _show_pixels(self) -> None:
        schema = self.project.schema
        total = np.zeros(schema.num_classes, np.int64)
        for counts in self.pixels.values():
            total += counts
        self._status.show_pixels(schema, total)

    def _show_rounds(self) -> None:
        self._status.show_rounds(self.project.rounds)

    def _show_effort(self) -> None:
        # From the statuses in memory: no file is read.
        self._status.show_effort(effort_by_round(effort_records(self.project)))
