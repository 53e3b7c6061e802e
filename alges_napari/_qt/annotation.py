"""The annotation loop of the dock widget: frame changes, drafts, Next / Accept / Skip.

A mixin of :class:`~._widget.AlgesWidget`, kept in its own file so each stays readable. It
uses the widget's ``project``, ``layers`` (:class:`~._layers.ProjectLayers`), ``annotate``
(:class:`~._annotate_panel.AnnotatePanel`) and ``learn`` panels, and its ``_refresh_project``,
``_update_buttons`` and ``retrain`` methods.

Only the frame on screen is in the annotation layer. Edits of a frame the user leaves without
accepting are kept as drafts (one array per edited frame, dropped on accept or skip), so moving
around the video never loses work; accepted labels live on disk only.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from napari.utils.notifications import show_error, show_warning

from alges_napari._qt.queue_view import short_key
from alges_napari._qt.status_view import class_pixels
from alges_napari.core.errors import AlgesError


class AnnotationLoop:
    """Frame navigation and the Next / Accept / Skip / start-from-prediction actions."""

    @property
    def current_key(self) -> str | None:
        """Key of the frame on screen."""
        return self._key

    def go_to_key(self, key: str) -> None:
        """Show frame ``key``."""
        if self.layers is not None and self.project is not None:
            self.layers.go_to(self.project.frames.index_of(key))

    def _on_step(self, *_: Any) -> None:
        if self.layers is None or self.project is None:
            return
        index = self.layers.current_index()
        key = self._keys[index]
        if key == self._key:
            return
        if self._key is not None and self.layers.edited:
            self._drafts[self._key] = self.layers.annotation_mask()  # keep unaccepted edits
        self._key = key
        self._show(key, index)

    def _show(self, key: str, index: int) -> None:
        project = self.project
        prediction, heat = project.prediction(key), project.heat_map(key)
        annotation = self._drafts.get(key)
        if annotation is None:
            annotation = project.load_label(key)
        if annotation is None and self.annotate.auto_prediction.isChecked():
            annotation = prediction
        self.layers.show(index, annotation, prediction, heat)
        self._has_prediction = prediction is not None
        self.annotate.validation.setChecked(project.status(key) == "validation")
        self._shown_at = time.monotonic()
        self._refresh_frame()

    def start_from_prediction(self) -> None:
        """Copy the model's prediction of this frame into the annotation."""
        if self.layers is None or self._key is None:
            return
        prediction = self.project.prediction(self._key)
        if prediction is None:
            show_warning("ALGES: no prediction for this frame yet: run Retrain and rank")
            return
        self.layers.set_annotation(prediction, baseline=False)

    def _on_paint_class(self, index: int) -> None:
        if self.layers is not None and index >= 0:
            self.layers.annotation.selected_label = index

    def _on_selected_label(self, event: Any = None) -> None:
        label = int(self.layers.annotation.selected_label) if self.layers else -1
        if 0 <= label < self.annotate.paint_class.count():
            self.annotate.paint_class.setCurrentIndex(label)

    # ------------------------------------------------------------ next / accept / skip

    def next_frame(self) -> None:
        """Go to the next unlabelled frame of the queue (after the current one, wrapping)."""
        if self.project is None:
            return
        pending = [e.key for e in self.project.pending_queue() if e.key != self._key]
        if not pending:
            return
        order = [e.key for e in self.project.queue]
        here = order.index(self._key) if self._key in order else -1
        later = [k for k in pending if order.index(k) > here]
        self.go_to_key((later or pending)[0])

    def accept(self) -> Path | None:
        """Save the annotation as the current frame's label (durable before this returns)."""
        project, key = self.project, self._key
        if project is None or key is None or self.layers is None:
            return None
        mask = self.layers.annotation_mask()
        try:
            path = project.accept_label(key, mask, seconds=time.monotonic() - self._shown_at)
            if self.annotate.validation.isChecked() != (project.status(key) == "validation"):
                project.set_validation(key, self.annotate.validation.isChecked())
        except AlgesError as exc:
            show_error(f"ALGES: {exc}")
            return None
        self._drafts.pop(key, None)
        self.layers.mark_saved()
        self._pixels[key] = class_pixels(mask, project.schema.num_classes)
        self._shown_at = time.monotonic()
        self._accepted_since_round += 1
        self._refresh_project()
        every = self.learn.auto_every.value()
        if every and self._accepted_since_round >= every and self._res.round_job is None:
            self.retrain()
        return path

    def skip(self) -> None:
        """Mark the current frame as skipped and go to the next queued one."""
        if self.project is None or self._key is None:
            return
        try:
            self.project.skip(self._key)
        except AlgesError as exc:
            show_error(f"ALGES: {exc}")
            return
        self._drafts.pop(self._key, None)
        self._refresh_project()
        self.next_frame()

    def _refresh_frame(self) -> None:
        project, key = self.project, self._key
        if project is not None and key is not None:
            index = self.layers.current_index() if self.layers else 0
            notes = [project.status(key)]
            if key in self._drafts:
                notes.append("edited, not accepted")
            ranks = {e.key: e.rank for e in project.queue}
            if key in ranks:
                notes.append(f"queue #{ranks[key] + 1}")
            self.annotate.frame_info.setText(
                f"Frame {index + 1}/{len(self._keys)}: {short_key(key)} ({', '.join(notes)})"
            )
            self.annotate.frame_info.setToolTip(key)
        self.annotate.queue.highlight(key)
        self._update_buttons()
