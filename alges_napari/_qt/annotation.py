"""The annotation loop of one open project: frame changes, drafts, Next / Accept / Skip.

Only the frame on screen is in the annotation layer. Edits of a frame the user leaves without
accepting are kept as drafts (one array per edited frame, dropped on accept or skip), so moving
around the video never loses work; accepted labels live on disk only. A frame with neither
opens with its propagated draft (``drafts/``, see ``_qt/propagate_actions.py``), marked as
such, before the model's prediction. Each accept carries its effort (``_qt/effort_meter.py``).

:class:`AnnotationController` is handed everything it uses: the project, its layers, the
annotate panel, the :class:`~._qt.tracker.ProjectTracker` (queue order and pending frames, no
recount) and a callback for each accepted label. It changes the project only through the
project's own methods; what the change means for the dock arrives as a project event.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from napari.utils.notifications import show_error, show_warning

from alges_napari._qt.annotate_panel import AnnotatePanel
from alges_napari._qt.effort_meter import EffortMeter
from alges_napari._qt.layers import IGNORE, ProjectLayers, empty_mask
from alges_napari._qt.propagate_actions import marked, propagated_note, read_propagated
from alges_napari._qt.queue_view import short_key
from alges_napari._qt.tracker import ProjectTracker
from alges_napari.core.errors import AlgesError
from alges_napari.core.project.autofill import decide_autofill, round_quality

#: Why an Accept with nothing painted saves nothing (the frame stays unlabelled).
NOTHING_PAINTED = (
    "nothing is painted on this frame, so nothing was saved. Paint its classes "
    "(or Start from prediction) and Accept, or Skip it."
)


class AnnotationController:
    """Frame navigation and the Next / Accept / Skip / start-from-prediction actions.

    Parameters
    ----------
    project : Project
        The open project (labels are read and accepted through it).
    layers : ProjectLayers
        Its layers in the viewer.
    panel : AnnotatePanel
        The annotate controls (read: auto-fill, validation; written: frame line, queue row).
    tracker : ProjectTracker
        The queue order, pending frames and ranks as of the last project event.
    on_accepted : callable
        Called with the key of each label accepted here (auto-retrain counts them).
    on_change : callable
        Called without arguments when the frame on screen or its state changed (buttons).
    """

    def __init__(
        self,
        project: Any,
        layers: ProjectLayers,
        panel: AnnotatePanel,
        tracker: ProjectTracker,
        on_accepted: Callable[[str], Any],
        on_change: Callable[[], Any],
    ):
        self.project, self.layers, self.panel, self.tracker = project, layers, panel, tracker
        self._on_accepted, self._on_change = on_accepted, on_change
        self._keys = project.keys
        self.key: str | None = None  # the frame on screen
        self.drafts: dict[str, np.ndarray] = {}
        self.has_prediction = False  # whether the frame on screen has a cached prediction
        self.propagated: Any = None  # the propagated draft on screen (a core Draft), if any
        self.effort = EffortMeter(layers.annotation)  # also the time spent on each frame
        self.autofill_note = ""  # why the frame on screen was (not) pre-filled, for its line
        self._pasted = False  # the annotation on screen is an auto-filled prediction
        # The queue was replaced (a round) since this frame opened: its rank in the new queue
        # says nothing about where the user was going, so Next starts at the new queue's top.
        self._new_queue = False
        self._quality = self._latest_quality()  # refreshed by each "round" event

    # ------------------------------------------------------------ moving between frames

    def go_to_key(self, key: str) -> None:
        """Show frame ``key`` (the viewer's slider moves; :meth:`on_step` follows)."""
        self.layers.go_to(self.project.frames.index_of(key))

    def on_step(self) -> None:
        """The viewer's frame changed: keep the old frame's edits as a draft, show the new one."""
        index = self.layers.current_index()
        key = self._keys[index]
        if key == self.key:
            return
        if self.key is not None and self.layers.edited:
            self.drafts[self.key] = self.layers.annotation_mask()  # keep unaccepted edits
        self.effort.leave(self.key is not None and self.layers.edited)
        self.key = key
        self._new_queue = False
        project = self.project
        prediction, heat = project.prediction(key), project.heat_map(key)
        annotation = self.drafts.get(key)
        if annotation is None:
            annotation = self._read_label(key)
        self.propagated = None if annotation is not None else read_propagated(project, key)
        if self.propagated is not None:
            annotation = self.propagated.mask  # a draft, shown instead of the prediction
        decision = self._autofill(prediction is not None, touched=annotation is not None)
        if decision.paste:
            annotation = prediction
        self.autofill_note, self._pasted = decision.reason, decision.paste
        self.layers.show(index, annotation, prediction, heat)
        self.effort.open(key, self.layers.annotation_mask())
        self.has_prediction = prediction is not None
        self.panel.validation.setChecked(project.status(key) == "validation")
        self.refresh()

    def _read_label(self, key: str) -> Any:
        # A label file the project refuses (ids outside the schema, wrong size, damaged) is
        # named, and the frame opens without it: painting and accepting replaces the file.
        try:
            return self.project.load_label(key)
        except AlgesError as exc:
            show_warning(f"ALGES: {exc}")
            return None

    def next_frame(self) -> None:
        """Go to the next unlabelled frame of the queue (after the current one, wrapping).

        The first Next after a round replaced the queue goes to the new queue's top (#1, or
        #2 when #1 is the frame on screen), wherever the frame on screen ranks in it.
        """
        pending = [k for k in self.tracker.pending if k != self.key]
        if not pending:
            return
        ranks = self.tracker.ranks
        here = ranks.get(self.key, -1) if self.key is not None and not self._new_queue else -1
        later = [k for k in pending if ranks[k] > here]
        self.go_to_key((later or pending)[0])

    def project_changed(self, kind: str, keys: tuple[str, ...]) -> None:
        """A project event (see ``ProjectEvent``): update what it means for the frame on screen."""
        if kind == "cache":
            self.reload_prediction(keys)
        elif kind == "round":  # a new quality figure: decide auto-fill of this frame again
            self._quality = self._latest_quality()
            self.reload_prediction(())
        elif kind == "draft" and self.key in keys and self._untouched():
            self.propagated = read_propagated(self.project, self.key)
            if self.propagated is not None:  # made while the frame was on screen, untouched
                self.layers.set_annotation(self.propagated.mask)
                self.effort.restart(self.propagated.mask)
            self.refresh()
        elif kind == "queue" or self.key in keys:  # its queue rank, or its status, changed
            self._new_queue = self._new_queue or kind == "queue"
            if kind == "status":
                self.panel.validation.setChecked(self.project.status(self.key) == "validation")
            self.refresh()

    def reload_prediction(self, keys: tuple[str, ...]) -> None:
        """The cached predictions of ``keys`` changed (all of them when empty): show the new one.

        A frame the user has not touched (no edit, draft or label) that opened with the old
        prediction opens with the new one when auto-fill is on and the latest round's quality
        reaches the floor (``core.project.autofill``); otherwise it is shown as the overlay only.
        """
        key = self.key
        if key is None or (keys and key not in keys):
            return
        prediction = self.project.prediction(key)
        self.layers.set_prediction(prediction, self.project.heat_map(key))
        self.has_prediction = prediction is not None
        untouched = self._untouched()
        decision = self._autofill(prediction is not None, touched=not untouched)
        if decision.paste or (untouched and self._pasted):
            # A new round whose model is below the floor takes back the old round's paste.
            fill = prediction if decision.paste else None
            self.layers.set_annotation(fill if fill is not None else empty_mask(self.layers.shape))
            self.effort.restart(self.layers.annotation_mask())
        if untouched:  # a touched frame's line keeps what it said when it opened
            self.autofill_note, self._pasted = decision.reason, decision.paste
        self.refresh()

    def _autofill(self, has_prediction: bool, touched: bool) -> Any:
        """The core's auto-fill decision for the frame on screen (``project.autofill``)."""
        return decide_autofill(
            self._quality,
            enabled=self.panel.auto_prediction.isChecked(),
            has_prediction=has_prediction,
            touched=touched,
        )

    def _latest_quality(self) -> Any:
        """The latest round's quality figure (read once per round, not on every frame)."""
        rounds = self.project.rounds
        return round_quality(rounds[-1] if rounds else None)

    def _untouched(self) -> bool:
        """The frame on screen has no edit, no kept draft, no label and no propagated draft."""
        key = self.key
        return not (
            self.layers.edited
            or key in self.drafts
            or self.project.has_label(key)
            or self.propagated is not None
        )

    # ------------------------------------------------------------ actions

    def start_from_prediction(self) -> None:
        """Copy the model's prediction of this frame into the annotation."""
        if self.key is None:
            return
        prediction = self.project.prediction(self.key)
        if prediction is None:
            show_warning("ALGES: no prediction for this frame yet: run Retrain and rank")
            return
        self.layers.set_annotation(prediction, baseline=False)
        self.effort.restart(prediction)  # the correction starts from the model's prediction

    def accept(self) -> Path | None:
        """Save the annotation as the current frame's label (durable before this returns).

        Refused, with a notification, when nothing is painted (all pixels "ignore") or when the
        project refuses the label (an ``AlgesError``); the annotation stays as it is.
        """
        project, key = self.project, self.key
        if key is None:
            return None
        mask = self.layers.annotation_mask()
        if (mask == IGNORE).all():
            # An all-ignore label would mark the frame labelled and teach the model nothing.
            show_warning(f"ALGES: {NOTHING_PAINTED}")
            return None
        validation = self.panel.validation.isChecked()
        seconds, effort = self.effort.seconds(), self.effort.measure(mask)
        try:
            path = project.accept_label(key, mask, seconds=seconds, effort=effort)
            if validation != (project.status(key) == "validation"):
                project.set_validation(key, validation)
        except AlgesError as exc:
            show_error(f"ALGES: {exc}")
            return None
        self.drafts.pop(key, None)
        self.layers.mark_saved()
        self.effort.accepted(mask)
        self.propagated = None  # a label now
        self.refresh()
        self._on_accepted(key)
        return path

    def skip(self) -> None:
        """Mark the current frame as skipped and go to the next queued one."""
        if self.key is None:
            return
        try:
            self.project.skip(self.key)
        except AlgesError as exc:
            show_error(f"ALGES: {exc}")
            return
        self.drafts.pop(self.key, None)
        self.effort.forget(self.key)
        self.refresh()
        self.next_frame()

    def set_paint_class(self, index: int) -> None:
        """Paint with class ``index`` (chosen in the panel's palette)."""
        if index >= 0:
            self.layers.annotation.selected_label = index

    def sync_paint_class(self, *_: Any) -> None:
        """Show the annotation layer's selected class in the panel's palette."""
        self.panel.palette.select(int(self.layers.annotation.selected_label))

    # ------------------------------------------------------------ display

    def refresh(self) -> None:
        """The frame line (status, draft, queue rank) and the queue's highlighted row."""
        key = self.key
        if key is not None:
            notes = [self.project.status(key)]
            if key in self.drafts:
                notes.append("edited, not accepted")
            if key in self.tracker.ranks:
                notes.append(f"queue #{self.tracker.ranks[key] + 1}")
            if self.propagated is not None:
                notes.append(propagated_note(self.propagated))
            if self.autofill_note and not self.layers.edited:
                notes.append(self.autofill_note)
            index = self.layers.current_index()
            line = f"Frame {index + 1}/{len(self._keys)}: {short_key(key)} ({', '.join(notes)})"
            self.panel.frame_info.setText(marked(line) if self.propagated is not None else line)
            self.panel.frame_info.setToolTip(key)
        self.panel.queue.highlight(key)
        self._on_change()
