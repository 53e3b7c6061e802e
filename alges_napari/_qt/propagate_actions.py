"""Propagate: carry the accepted label on screen to its neighbouring frames as drafts.

:class:`PropagatePanel` is the dock's "Propagate" row (how many frames each way, the button,
Cancel, a progress bar); :class:`PropagateController` runs
:func:`~alges_napari.core.project.drafts.iter_propagate_drafts` in a thread worker for the frame
on screen, once it has an accepted label. The drafts are the project's (``drafts/``), never
labels: the annotation loop shows a frame's draft, marked as such, instead of the model's
prediction, and the surgeon's Accept makes it a label (:func:`read_propagated`,
:func:`propagated_note`).

Shortcut: **Ctrl+Shift+Enter** (:data:`PROPAGATE_KEY`; Accept is Ctrl+Enter), free in napari
0.9.2's keymaps, menus and layer tools (a test checks it against them); bound on the viewer by
:func:`~._qt.viewer_hooks.hook_viewer` and shown in the button's tooltip.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

from napari.utils.notifications import show_info, show_warning
from qtpy.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from alges_napari._qt.annotate_panel import key_label
from alges_napari._qt.jobs import BackgroundJob, JobStarter
from alges_napari._qt.queue_view import short_key
from alges_napari.core.errors import AlgesError
from alges_napari.core.progress import Progress
from alges_napari.core.project.drafts import Draft, PropagationResult, iter_propagate_drafts

#: The frame line's colours while it shows a draft: it is not a label yet.
DRAFT_COLOURS = "background-color:#8a5a00; color:white"
#: napari key name of Propagate (the frame on screen).
PROPAGATE_KEY = "Control-Shift-Enter"


def read_propagated(project: Any, key: str) -> Draft | None:
    """The draft of ``key`` to show, or None; an unreadable draft is named and left out."""
    try:
        return project.drafts.load(key)
    except AlgesError as exc:
        show_warning(f"ALGES: {exc}")
        return None


def marked(line: str) -> str:
    """``line`` as rich text on the draft colours (the frame line of a frame showing a draft)."""
    return f"<span style='{DRAFT_COLOURS}'>&nbsp;{html.escape(line)}&nbsp;</span>"


def propagated_note(draft: Draft) -> str:
    """The frame line's note for a frame showing ``draft``."""
    away = f"{draft.distance} frame{'s' * (draft.distance != 1)}"
    return f"DRAFT propagated from {short_key(draft.source)}, {away} away: correct it and Accept"


class PropagatePanel(QWidget):
    """The "Propagate" controls (the wiring lives in :class:`PropagateController`)."""

    def __init__(self, parent: Any = None):
        super().__init__(parent)
        self.frames = QSpinBox()
        self.frames.setRange(1, 100)
        self.frames.valueChanged.connect(self._name_unit)
        self.frames.setValue(5)
        self._name_unit(5)
        self.frames.setToolTip("How many frames before and after to reach, within the clip")
        self.propagate = QPushButton("Propagate")
        self.propagate.setToolTip(
            "Warp this frame's accepted label to its neighbouring frames with optical flow; "
            "they open with it as a draft, a label only once you accept it "
            f"[{key_label(PROPAGATE_KEY)}]"
        )
        self.cancel = QPushButton("Cancel")
        self.cancel.setToolTip("Stop after the frame being warped (its drafts so far stay)")
        self.progress = QProgressBar()
        self.progress.setTextVisible(False)
        self.progress.setMaximumHeight(10)
        self.text = QLabel("")
        self.text.setWordWrap(True)
        # The count on a row of its own, whole: squeezed beside the buttons it read "± 5 f".
        row = QHBoxLayout()
        row.addWidget(self.propagate, 2)
        row.addWidget(self.cancel, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.frames)
        layout.addLayout(row)
        layout.addWidget(self.progress)
        layout.addWidget(self.text)

    def _name_unit(self, value: int) -> None:
        self.frames.setSuffix(" frame each side" if value == 1 else " frames each side")

    def show_progress(self, p: Progress) -> None:
        """Move the bar to a "propagate" progress record."""
        self.progress.setRange(0, max(int(p.total), 1))
        self.progress.setValue(min(int(p.done), max(int(p.total), 1)))
        self.text.setText(f"Propagating: {p.done}/{p.total} frames ({short_key(p.detail)})")


class PropagateController:
    """Starts, cancels and reports propagations of the frame on screen.

    Parameters
    ----------
    annotation : callable
        Returns the :class:`~._qt.annotation.AnnotationController` of the open project, or None.
    start_job : callable
        Runs a core generator in a thread worker (:func:`~alges_napari._qt.jobs.start_job`).
    log : callable, optional
        Called with one line per finished propagation, frame names in full (the Status
        panel's log); the toast only points there.

    Attributes
    ----------
    panel : PropagatePanel
        Its controls, made and wired here (the dock lays them out).
    """

    def __init__(
        self,
        annotation: Callable[[], Any],
        start_job: JobStarter,
        log: Callable[[str], Any] | None = None,
    ):
        self.panel, self._annotation, self._start_job = PropagatePanel(), annotation, start_job
        self._log = log or (lambda _text: None)
        self.job: BackgroundJob | None = None
        panel = self.panel
        panel.propagate.clicked.connect(lambda: self.start())
        panel.cancel.clicked.connect(self.cancel)

    @property
    def running(self) -> bool:
        """True while a propagation runs (a job stopped with the project is over, too)."""
        return self.job is not None and self.job.running

    def start(self, k: int | None = None, method: str = "dis") -> BackgroundJob | None:
        """Propagate the frame on screen ``k`` frames each way (default: the panel's value).

        None, with a notification, when the frame has no accepted label or one runs already.
        """
        annotation = self._annotation()
        if annotation is None or annotation.key is None or self.running:
            return None
        project, key = annotation.project, annotation.key
        if not project.has_label(key):
            show_warning("ALGES: accept this frame first: Propagate carries its accepted label")
            return None
        k = self.panel.frames.value() if k is None else int(k)
        self.panel.show_progress(Progress("propagate", 0, 0, detail=key))
        self.job = self._start_job(
            lambda stop: iter_propagate_drafts(project, key, k, method, stop),
            self._done,
            name="propagate",
            on_progress=self.panel.show_progress,
            on_error=lambda exc: self.panel.text.setText(f"Propagation failed: {exc}"),
        )
        self.update()
        return self.job

    def cancel(self) -> None:
        """Stop after the frame being warped; the drafts made so far stay."""
        if self.running:
            self.job.cancel()
            self.panel.text.setText("Stopping after this frame...")
            self.update()

    def _done(self, result: PropagationResult) -> None:
        n, kept = len(result.written), len(result.kept)
        text = f"{n} draft{'s' * (n != 1)} from {short_key(result.source)}"
        if kept:
            text += f"; {kept} frame{'s' * (kept != 1)} kept a label or a nearer draft"
        if result.stopped:
            text = "Stopped: " + text
        self.panel.text.setText(text)
        full = f"{n} draft{'s' * (n != 1)} propagated from {result.source}"
        if result.written:
            full += f" to {', '.join(result.written)}"
        if kept:
            full += f"; kept their label or a nearer draft: {', '.join(result.kept)}"
        self._log(("Stopped: " if result.stopped else "") + full)
        show_info(f"ALGES: {n} draft{'s' * (n != 1)} propagated (see Status)")

    def update(self) -> None:
        """Enable Propagate for an accepted frame on screen, Cancel while one runs."""
        annotation, running = self._annotation(), self.running
        if annotation is None and not running:  # no project: nothing of the last one shown
            self.panel.text.setText("")
            self.panel.progress.reset()
        key = None if annotation is None else annotation.key
        labelled = key is not None and annotation.project.has_label(key)
        self.panel.propagate.setEnabled(labelled and not running)
        self.panel.frames.setEnabled(annotation is not None)
        self.panel.cancel.setEnabled(running and not self.job.stop.is_set())
