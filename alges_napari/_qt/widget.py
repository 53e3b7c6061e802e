"""The "ALGES Active Learning" dock widget: buttons wired to the core, rounds in thread workers.

The widget holds no active-learning logic. It opens a :class:`~.core.project.Project`, shows it
through :class:`~._layers.ProjectLayers`, calls the project's methods on Next / Accept / Skip,
and runs :meth:`~.core.session.ActiveLearningSession.run_round` (and the other long jobs) in
napari thread workers via :class:`~._jobs.BackgroundJob`, so the GUI never waits on training.
"""

from __future__ import annotations

import time
import weakref
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from napari.utils.notifications import show_error, show_info, show_warning
from qtpy.QtCore import Qt
from qtpy.QtWidgets import (
    QComboBox,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from alges_napari._qt.annotate_panel import KEYS, AnnotatePanel
from alges_napari._qt.annotation import AnnotationLoop
from alges_napari._qt.export_actions import ExportActions
from alges_napari._qt.jobs import BackgroundJob, Resources, release, stop_jobs
from alges_napari._qt.layers import ProjectLayers
from alges_napari._qt.learn_panel import LearnPanel
from alges_napari._qt.project_form import ProjectForm
from alges_napari._qt.queue_view import spread_queue
from alges_napari._qt.status_view import StatusPanel, iter_label_pixels
from alges_napari._qt.torch_guard import prepare_model_stack
from alges_napari.core.acquire.queue import QueueEntry
from alges_napari.core.errors import AlgesError
from alges_napari.core.learn.train import TrainConfig
from alges_napari.core.progress import Progress
from alges_napari.core.project.project import Project
from alges_napari.core.session import ActiveLearningSession, RoundConfig


def _weak_call(widget: QWidget, method: str, name: str) -> Any:
    """A named function calling ``widget.method()`` while the widget lives.

    The viewer's keymap and events hold it, so it must not keep a closed widget alive; napari
    also wants key-binding functions to have a ``__name__``.
    """
    ref = weakref.ref(widget)

    def call(*_: Any) -> None:
        target = ref()
        if target is not None:
            getattr(target, method)()

    call.__name__ = call.__qualname__ = name
    return call


class AlgesWidget(AnnotationLoop, ExportActions, QWidget):
    """Dock widget for active-learning segmentation of a frame pool in napari.

    Parameters
    ----------
    napari_viewer : napari.viewer.Viewer
        The viewer (napari passes it when the widget is opened from the Plugins menu).
    """

    def __init__(self, napari_viewer: Any, parent: Any = None):
        super().__init__(parent)
        self.viewer = napari_viewer
        self._res = Resources(napari_viewer)
        self.session: ActiveLearningSession | None = None
        self.layers: ProjectLayers | None = None
        self._keys: list[str] = []
        self._key: str | None = None
        self._shown_at = time.monotonic()
        self._drafts: dict[str, np.ndarray] = {}
        self._pixels: dict[str, np.ndarray] = {}
        self._accepted_since_round = 0
        self._has_prediction = False  # whether the frame on screen has a cached prediction
        self._build()
        self._connect_viewer()
        # The widget dies with the viewer window; release without touching the dead Qt object.
        self.destroyed.connect(partial(release, self._res))
        self._update_buttons()

    # ------------------------------------------------------------ layout

    def _build(self) -> None:
        self.form = ProjectForm()
        self.close_button = QPushButton("Close")
        self.close_button.setToolTip("Close the project (accepted labels are already saved)")
        self.project_info = QLabel()
        self.project_info.setWordWrap(True)
        self.annotate = AnnotatePanel()
        self.learn = LearnPanel()
        self.status = StatusPanel()
        self.export_format = QComboBox()
        self.export_format.addItems(["index", "cholecseg8k"])
        self.export_format.setToolTip("index: one class-id PNG per frame; cholecseg8k: its tree")
        self.export_labels_button = QPushButton("Export labels...")
        self.export_model_button = QPushButton("Export model...")
        export = QHBoxLayout()
        for w in (self.export_format, self.export_labels_button, self.export_model_button):
            export.addWidget(w)
        info_row = QHBoxLayout()  # one row: the dock must fit a laptop screen without scrolling
        info_row.addWidget(self.project_info, 1)
        info_row.addWidget(self.close_button)
        project_box = self._group("Project", self.form, info_row)
        body = QWidget()
        column = QVBoxLayout(body)
        column.addWidget(project_box)
        column.addWidget(self._group("Annotate", self.annotate))
        column.addWidget(self._group("Learn", self.learn))
        column.addWidget(self._group("Status", self.status))
        column.addWidget(self._group("Export", export))
        column.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(body)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)
        self._scroll, self._body = scroll, body
        self.project_info.setVisible(False)
        self.close_button.setVisible(False)
        self._fit_width()

        self.form.create_requested.connect(lambda v: self.create_project(**v))
        self.form.open_requested.connect(self.open_project)
        self.close_button.clicked.connect(self.close_project)
        a = self.annotate
        a.queue.frame_chosen.connect(self.go_to_key)
        a.next.clicked.connect(self.next_frame)
        a.accept.clicked.connect(self.accept)
        a.skip.clicked.connect(self.skip)
        a.from_prediction.clicked.connect(self.start_from_prediction)
        a.paint_class.currentIndexChanged.connect(self._on_paint_class)
        a.heat.toggled.connect(lambda on: self.layers and self.layers.set_heat_visible(on))
        self.learn.retrain.clicked.connect(lambda: self.retrain())
        self.learn.cancel.clicked.connect(self.cancel)
        self.export_labels_button.clicked.connect(lambda: self._ask_export("labels"))
        self.export_model_button.clicked.connect(lambda: self._ask_export("model"))

    def _fit_width(self) -> None:
        # As wide as the panels' content (styles change it once shown), plus the scroll bar:
        # the dock never clips the right-hand side.
        bar = self._scroll.verticalScrollBar().sizeHint().width()
        self.setMinimumWidth(max(400, self._body.minimumSizeHint().width() + bar + 6))

    def showEvent(self, event: Any) -> None:  # noqa: N802 - Qt override
        """Fit the width to the styled content when first shown."""
        super().showEvent(event)
        self._fit_width()

    @staticmethod
    def _group(title: str, *items: Any) -> QGroupBox:
        box = QGroupBox(title)
        layout = QVBoxLayout(box)
        layout.setContentsMargins(6, 6, 6, 6)
        for item in items:
            (layout.addLayout if isinstance(item, QHBoxLayout) else layout.addWidget)(item)
        return box

    def _connect_viewer(self) -> None:
        for name, key in KEYS.items():
            method = {"next": "next_frame", "accept": "accept", "skip": "skip"}[name]
            try:
                self.viewer.bind_key(key, _weak_call(self, method, f"alges_{name}"))
                self._res.bound_keys.append(key)
            except ValueError:  # someone else holds the key: keep theirs, keep the button
                show_warning(f"ALGES: key {key} is already bound; use the {name} button")
        for emitter, method in (
            (self.viewer.dims.events.current_step, "_on_step"),
            (self.viewer.layers.events.removed, "_on_layer_removed"),
            (self.viewer.layers.events.inserted, "_suggest_source"),
        ):
            callback = _weak_call(self, method, method)
            emitter.connect(callback)
            self._res.callbacks.append((emitter, callback))

        self._suggest_source()

    def _suggest_source(self, *_: Any) -> None:
        # Frames the user already opened with the plugin's reader are the likely project source
        # (`napari -w alges-napari ... -- sample_data/cholecseg8k`): pre-fill the form with them.
        if self.project is not None:
            return
        for layer in self.viewer.layers:
            path = (layer.metadata.get("alges_source") or {}).get("path")
            if path:
                self.form.suggest_source(path)
                return

    # ------------------------------------------------------------ project

    @property
    def project(self) -> Project | None:
        """The open project, or None."""
        return self._res.project

    def create_project(
        self,
        source: str,
        root: str,
        schema: str | None = None,
        preset: str = "cpu",
        stride: int = 1,
        **overrides: Any,
    ) -> Project | None:
        """Create a project (see ``Project.create``) and open it here; errors are notified."""
        if not source or not root:
            show_error("ALGES: choose the frames and an empty project folder first")
            return None
        try:
            project = Project.create(root, source, schema, preset, stride, **overrides)
        except AlgesError as exc:
            show_error(f"ALGES: {exc}")
            return None
        return self._attach(project)

    def open_project(self, root: str | Path) -> Project | None:
        """Open an existing project folder here; errors (e.g. locked) are notified."""
        try:
            project = Project.open(root)
        except AlgesError as exc:
            show_error(f"ALGES: {exc}")
            return None
        return self._attach(project)

    def _attach(self, project: Project) -> Project:
        self.close_project()
        prepare_model_stack()  # in the GUI thread, before any worker needs it (see the module)
        self._res.project = project
        self.session = ActiveLearningSession(project)
        self._keys = project.keys
        self.layers = ProjectLayers(self.viewer, project.frames, project.schema, project.root.name)
        schema = project.schema
        self.annotate.set_classes(schema.names, schema.colors)
        self.annotate.paint_class.setCurrentIndex(self.layers.annotation.selected_label)
        self.layers.annotation.events.selected_label.connect(self._on_selected_label)
        self.learn.set_preset_epochs(TrainConfig.from_json(project.config["train"]).epochs)
        if not project.queue and not project.rounds:
            first = spread_queue(project.unlabelled_keys(), self.learn.query_size.value())
            project.set_queue(QueueEntry(k, r) for r, k in enumerate(first))
        if project.recovery:
            show_warning(f"ALGES: {project.recovery}")
        self._start_job(partial(iter_label_pixels, project, project.labelled_keys() +
                                project.validation_keys(True)), self._pixels_counted)  # fmt: skip
        self.form.setVisible(False)  # the form is for the next project: keep the dock short
        self.project_info.setText(
            f"{project.root.name}: {len(self._keys)} frames, {schema.num_classes} classes "
            f"({schema.name}), preset {project.config.get('preset', '?')}"
        )
        self.project_info.setToolTip(str(project.root))
        self.project_info.setVisible(True)
        self.close_button.setVisible(True)
        self._refresh_project()
        pending = project.pending_queue()
        if pending:
            self.go_to_key(pending[0].key)
        self._on_step()
        return project

    def close_project(self) -> None:
        """Stop running work, remove the layers and release the project's lock."""
        if self.project is None:
            return
        if self._drafts:
            show_warning(f"ALGES: {len(self._drafts)} edited frames were not accepted")
        res = self._res
        stop_jobs(res)
        layers, self.layers = self.layers, None
        if layers is not None:
            layers.remove()
        res.project.close()
        res.project, self.session = None, None
        self._key, self._keys, self._drafts, self._pixels = None, [], {}, {}
        self.annotate.queue.set_entries([], str)
        self.form.setVisible(True)
        self.project_info.setVisible(False)
        self.close_button.setVisible(False)
        self.status.clear()
        self.learn.show_idle()
        self._update_buttons()

    def _on_layer_removed(self, *_: Any) -> None:
        if self.layers is not None and any(
            layer not in self.viewer.layers for layer in self.layers.layers()
        ):
            show_warning(
                "ALGES: project layers were removed, so the project was closed (accepted labels are saved)"
            )
            self.close_project()

    # ------------------------------------------------------------ rounds

    @property
    def round_running(self) -> bool:
        """True while a round runs."""
        return self._res.round_job is not None

    def retrain(self, config: RoundConfig | None = None) -> BackgroundJob | None:
        """Start a round (train, score, select) in a thread worker; None when it cannot run."""
        if self.session is None or self.round_running or not self.project.labelled_keys():
            return None
        session, cfg = self.session, config or self.learn.round_config()
        self._accepted_since_round = 0
        self.learn.show_progress(Progress("train", epoch=0, epochs=cfg.epochs))
        job = self._start_job(
            lambda stop: session.run_round(cfg, stop),
            self._round_done,
            name="round",
            on_progress=self.learn.show_progress,
            on_error=self._round_failed,
        )
        self._res.round_job = job
        self._update_buttons()
        return job

    def cancel(self) -> None:
        """Stop the running round within one batch."""
        if self._res.round_job is not None:
            self._res.round_job.cancel()
            self.learn.progress_text.setText("Stopping after this batch...")
            self._update_buttons()

    def _round_done(self, result: Any) -> None:
        self._res.round_job = None
        if result.stopped:
            self.learn.show_idle(f"Round {result.round} stopped: {result.message}")
        else:
            dice = "n/a" if np.isnan(result.mean_dice) else f"{result.mean_dice:.3f}"
            text = f"Round {result.round} done: {len(result.queue)} frames queued, Dice {dice}"
            self.learn.show_idle(text)
            show_info(f"ALGES: {text}")
        self._refresh_project()
        if self.layers is not None and self._key is not None:
            key = self._key
            prediction = self.project.prediction(key)
            self.layers.set_prediction(prediction, self.project.heat_map(key))
            self._has_prediction = prediction is not None
            fresh = not self.layers.edited and key not in self._drafts
            if (
                fresh
                and self.project.load_label(key) is None
                and self.annotate.auto_prediction.isChecked()
            ):
                self.layers.set_annotation(prediction)  # fmt: skip
            self._refresh_frame()

    def _round_failed(self, exc: BaseException) -> None:
        # BackgroundJob has already shown the error as a napari notification.
        self._res.round_job = None
        self.learn.show_idle(f"Round failed: {exc}")
        self._update_buttons()

    # ------------------------------------------------------------ side jobs

    def _start_job(
        self, work: Any, on_done: Any, name: str = "job", **callbacks: Any
    ) -> BackgroundJob:
        jobs = self._res.jobs

        def forget() -> None:
            if job in jobs:
                jobs.remove(job)
            self._update_buttons()

        job = BackgroundJob(work, on_done=on_done, on_finished=forget, name=name, **callbacks)
        jobs.append(job)
        return job.start()

    def _pixels_counted(self, counted: dict[str, np.ndarray]) -> None:
        counted.update(self._pixels)  # labels accepted while counting are newer
        self._pixels = counted
        self._refresh_project()

    # ------------------------------------------------------------ refresh

    def _refresh_project(self) -> None:
        project = self.project
        if project is None:
            return
        self.annotate.queue.set_entries(project.queue, project.status)
        pending = len(project.pending_queue())
        self.status.show_counts(project.counts(), len(self._keys), pending)
        total = np.zeros(project.schema.num_classes, np.int64)
        for counts in self._pixels.values():
            total += counts
        self.status.show_pixels(project.schema, total)
        self.status.show_rounds(project.rounds)
        self._refresh_frame()

    def _update_buttons(self) -> None:
        project, key, running = self.project, self._key, self.round_running
        has = project is not None and key is not None
        pending = [e.key for e in project.pending_queue()] if project is not None else []
        counts = project.counts() if project is not None else {}
        a = self.annotate
        a.next.setEnabled(any(k != key for k in pending))
        a.accept.setEnabled(has)
        a.skip.setEnabled(has and project.status(key) == "unlabelled")
        a.from_prediction.setEnabled(has and self._has_prediction)
        for w in (a.paint_class, a.validation, a.heat, a.auto_prediction):
            w.setEnabled(project is not None)
        self.learn.retrain.setEnabled(not running and counts.get("labelled", 0) > 0)
        self.learn.cancel.setEnabled(running and not self._res.round_job.stop.is_set())
        self.form.setEnabled(not running)
        self.close_button.setEnabled(project is not None and not running)
        self.export_labels_button.setEnabled(
            counts.get("labelled", 0) + counts.get("validation", 0) > 0
        )
        self.export_model_button.setEnabled(
            project is not None and project.latest_checkpoint() is not None
        )

    def shutdown(self) -> None:
        """Stop all work and release the project and key bindings (also done on destruction)."""
        release(self._res)
        self.layers, self.session = None, None
