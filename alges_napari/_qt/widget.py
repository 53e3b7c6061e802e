"""The "ALGES Active Learning" dock widget: buttons wired to the core, rounds in thread workers.

The widget holds no active-learning logic and no mixins: it lays out the panels and composes
child objects, each handed what it needs.

- :class:`~._qt.open_project.OpenProject` holds what exists only while a project is open (its
  session, layers, tracker, annotation loop, superpixel tool and event bridge), made when the
  project opens and closed with it: the widget holds one or None;
- :class:`~._qt.tracker.ProjectTracker` shows the open project (counts, queue, rounds, pixels),
  kept current by the project's change events, which :class:`~._qt.tracker.EventBridge`
  delivers in the GUI thread whichever thread made the change;
- :class:`~._qt.annotation.AnnotationController` runs the annotation loop (frame changes,
  drafts, Next / Accept / Skip) on the project's layers (:class:`~._qt.layers.ProjectLayers`);
- :class:`~._qt.rounds.RoundRunner` runs :meth:`ActiveLearningSession.run_round` in a napari
  thread worker (:class:`~._qt.jobs.BackgroundJob`), so the GUI never waits on training;
- :class:`~._qt.export_actions.ExportController` exports labels and the model.

:class:`~._qt.dock_layout.DockLayout` lays the panels out (the loop always in view, the rest in
tabs); :mod:`~._qt.window_fit` sizes the window and keeps the frame fitted to the canvas.
Results of rounds, exports and propagations go to the Status panel's log, in full.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

from napari.utils.notifications import show_error, show_warning
from qtpy.QtWidgets import QWidget

from alges_napari._qt.annotate_panel import AnnotatePanel
from alges_napari._qt.dock_layout import DockLayout
from alges_napari._qt.export_actions import ExportController, ExportPanel
from alges_napari._qt.jobs import BackgroundJob, Resources, release, release_project, start_job
from alges_napari._qt.layers import ProjectLayers
from alges_napari._qt.learn_panel import LearnPanel
from alges_napari._qt.open_project import OpenProject
from alges_napari._qt.project_form import ProjectForm
from alges_napari._qt.propagate_actions import PropagateController
from alges_napari._qt.rounds import RoundRunner
from alges_napari._qt.status_view import StatusPanel
from alges_napari._qt.superpixel_tool import SuperpixelTool
from alges_napari._qt.torch_guard import prepare_model_stack
from alges_napari._qt.viewer_hooks import hook_viewer, source_in_viewer
from alges_napari._qt.window_fit import fit_frame
from alges_napari.core.acquire.queue import initial_queue
from alges_napari.core.errors import AlgesError, ProjectLockedError
from alges_napari.core.learn.config import TrainConfig
from alges_napari.core.project.project import Project
from alges_napari.core.session import ActiveLearningSession, RoundConfig


class AlgesWidget(QWidget):
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
        #: The open project and everything made for it; None while no project is open.
        self.opened: OpenProject | None = None
        self._accepted_since_round = 0
        self._start_job = partial(start_job, self._res, on_finished=self._update_buttons)
        self._build()
        log = self.status.add_log  # results in full, in the Status panel
        self.rounds = RoundRunner(self.learn, self._start_job, self._update_buttons, log)
        self.exports = ExportController(lambda: self.project, self._start_job, self, log)
        self._wire()
        self._connect_viewer()
        # The widget dies with the viewer window; release without touching the dead Qt object.
        self.destroyed.connect(partial(release, self._res))
        self._update_buttons()

    # ------------------------------------------------------------ layout

    def _build(self) -> None:
        self.form = ProjectForm()
        self.close_button = self.form.close_button
        self.annotate = AnnotatePanel()
        self.learn = LearnPanel()
        self.status = StatusPanel()
        self.export = ExportPanel()
        self.export_labels_button = self.export.labels_button
        self.export_model_button = self.export.model_button
        self.propagator = PropagateController(
            lambda: None if self.opened is None else self.opened.annotation,
            self._start_job,
            self.status.add_log,
        )
        panels = (self.form, self.annotate, self.propagator.panel, self.learn, self.status)
        self.dock = DockLayout(self, *panels, self.export)

    def _wire(self) -> None:
        self.form.create_requested.connect(lambda v: self.create_project(**v))
        self.form.open_requested.connect(self.open_project)
        self.close_button.clicked.connect(self.close_project)
        a = self.annotate
        a.queue.frame_chosen.connect(self.go_to_key)
        a.next.clicked.connect(self.next_frame)
        a.accept.clicked.connect(self.accept)
        a.skip.clicked.connect(self.skip)
        a.from_prediction.clicked.connect(self.start_from_prediction)
        a.palette.class_chosen.connect(self.choose_class)
        a.heat.toggled.connect(self._show_heat)
        self.learn.retrain.clicked.connect(lambda: self.retrain())
        self.learn.cancel.clicked.connect(self.cancel)
        for button, what in (
            (self.export_labels_button, "labels"),
            (self.export_model_button, "model"),
        ):
            button.clicked.connect(
                partial(lambda w, *_: self.exports.ask_and_export(w, self.export.format), what)
            )
        self.export.import_button.clicked.connect(lambda *_: self.exports.ask_and_import())

    def showEvent(self, event: Any) -> None:  # noqa: N802 - Qt override
        """Fit the width to the styled content when shown; grow the window, fit the frame.

        The frame is refitted from then on whenever the canvas area changes size (a panel
        widens, a dock moves) while the camera is still fitted (see ``window_fit``).
        """
        super().showEvent(event)
        self.dock.shown(self.viewer)

    def _connect_viewer(self) -> None:
        viewer = self.viewer
        hook_viewer(
            self,
            self._res,
            {
                "_on_step": viewer.dims.events.current_step,
                "_on_layer_removed": viewer.layers.events.removed,
                "_suggest_source": viewer.layers.events.inserted,
            },
        )
        self._suggest_source()

    def _suggest_source(self) -> None:
        # Frames the user already opened with the plugin's reader are the likely project source
        # (`napari -w alges-napari ... -- sample_data/cholecseg8k`): pre-fill the form with them.
        path = None if self.project is not None else source_in_viewer(self.viewer)
        if path:
            self.form.suggest_source(path)

    # ------------------------------------------------------------ project

    @property
    def project(self) -> Project | None:
        """The open project, or None."""
        # From the resources, which hold it from the first moment of opening (before the
        # OpenProject exists): the layers it adds must not be offered as a new project's source.
        return self._res.project

    @property
    def session(self) -> ActiveLearningSession | None:
        """The open project's session, or None."""
        return None if self.opened is None else self.opened.session

    @property
    def layers(self) -> ProjectLayers | None:
        """The open project's layers, or None."""
        return None if self.opened is None else self.opened.layers

    @property
    def superpixels(self) -> SuperpixelTool | None:
        """The superpixel tool on the open project's annotation layer, or None."""
        return None if self.opened is None else self.opened.superpixels

    def create_project(
        self,
        source: str,
        root: str,
        schema: str | None = None,
        preset: str = "cpu",
        stride: int = 1,
        **overrides: Any,
    ) -> Project | None:
        """Create a project (see ``Project.create``) and open it here; errors are notified.

        The first queue holds as many frames as the learn panel's "frames per round" unless
        ``first_queue`` says otherwise.
        """
        if not source or not root:
            self._refused("choose the frames and an empty project folder first")
            return None
        overrides.setdefault("first_queue", self.learn.query_size.value)
        if overrides.get("encoder_weights"):
            prepare_model_stack()  # the weights are checked on a model: smp imports now
        try:
            project = Project.create(root, source, schema, preset, stride, **overrides)
        except AlgesError as exc:
            self._refused(str(exc))
            return None
        return self._attach(project)

    def open_project(self, root: str | Path) -> Project | None:
        """Open an existing project folder here; errors (e.g. locked) are notified."""
        try:
            project = Project.open(root)
        except ProjectLockedError as exc:
            # The core's advice names a read-only open, which the dock cannot do.
            held = str(exc).split(";")[0]
            self._refused(
                f"{held}. Close it there (its napari window, or the alges command), then open "
                "it here again; or create a new project from the same frames in another folder."
            )
            return None
        except AlgesError as exc:
            self._refused(str(exc))
            return None
        return self._attach(project)

    def _refused(self, reason: str) -> None:
        # A toast is cut off and gone in seconds: the project panel keeps the whole reason.
        show_error(f"ALGES: {reason}")
        self.form.show_problem(reason)

    def _attach(self, project: Project) -> Project:
        self.close_project()
        prepare_model_stack()  # in the GUI thread, before any worker needs it (see the module)
        self.learn.set_preset_epochs(TrainConfig.from_json(project.config["train"]).epochs)
        try:
            self.opened = OpenProject(
                project,
                self._res,
                self.annotate,
                self.status,
                on_event=self._on_project_event,
                on_accepted=self._label_accepted,
                on_change=self._update_buttons,
                engine=self.learn.engine_choice(),
                parent=self,
            )
        except BaseException:
            release_project(self._res)  # a project that failed to open holds no lock here
            raise
        tracker = self.opened.tracker
        if not project.queue and not project.rounds:  # a project made before Project.create did
            project.set_queue(initial_queue(project.unlabelled_keys(), self.learn.query_size.value))
        if project.recovery:
            show_warning(f"ALGES: {project.recovery}")
        tracker.count_pixels(self._start_job)
        schema = project.schema
        self.form.show_project(
            f"{project.root.name}: {len(project.keys)} frames, {schema.num_classes} classes "
            f"({schema.name}), preset {project.config.get('preset', '?')}",
            str(project.root),
        )
        if tracker.pending:
            self.go_to_key(tracker.pending[0])
        self._on_step()
        fit_frame(self.viewer, self.dock.remember_fit)
        self.dock.show_tab("Correct")
        self.status.add_log(f"Opened {project.root}")
        return project

    def choose_class(self, index: int) -> None:
        """Paint with class ``index`` from now on (palette button or its shortcut)."""
        if self.opened is not None:
            self.opened.annotation.set_paint_class(index)

    def close_project(self) -> None:
        """Stop running work, remove the layers and release the project's lock."""
        opened = self.opened
        if opened is None:
            return
        if opened.annotation.drafts:
            show_warning(f"ALGES: {len(opened.annotation.drafts)} edited frames were not accepted")
        # Let go first: removing the layers moves the viewer's frame slider, and nothing here
        # may answer it any more.
        self.opened = None
        opened.close()  # stops the jobs (a round within one batch), unsubscribes, unlocks
        self.rounds.forget()
        self.annotate.queue.set_entries([], str)
        self.annotate.frame_info.setText("No frame")
        self.form.show_project(None)
        self.status.clear()
        self._update_buttons()

    def _on_layer_removed(self) -> None:
        # Never closes the project (see LayerKeeper).
        if self.opened is not None:
            self.opened.keeper.removed()

    def _show_heat(self, on: bool) -> None:
        if self.opened is not None:
            layers = self.opened.layers
            if on:
                layers.put_back(layers.heat)
            layers.set_heat_visible(on)

    def _on_project_event(self, kind: str, keys: tuple[str, ...]) -> None:
        # The tracker has shown the change in the queue table and the status panel already.
        opened = self.opened
        if opened is not None:
            if kind == "cache":
                opened.layers.put_back(opened.layers.prediction)  # new predictions: show again
            opened.annotation.project_changed(kind, keys)
        self._update_buttons()

    # ------------------------------------------------------------ annotation

    @property
    def current_key(self) -> str | None:
        """Key of the frame on screen."""
        return None if self.opened is None else self.opened.annotation.key

    def go_to_key(self, key: str) -> None:
        """Show frame ``key``."""
        if self.opened is not None:
            layers = self.opened.layers
            layers.put_back(layers.frames, layers.annotation)
            self.opened.annotation.go_to_key(key)

    def _on_step(self) -> None:
        opened = self.opened
        if opened is None:
            return
        if opened.layers.frames not in self.viewer.layers:
            return  # the frame axis went with the frames layer: no frame change to follow
        opened.annotation.on_step()
        opened.superpixels.frame_changed()

    def next_frame(self) -> None:
        """Go to the next unlabelled frame of the queue (after the current one, wrapping)."""
        if self.opened is not None:
            self.opened.annotation.next_frame()

    def accept(self) -> Path | None:
        """Save the annotation as the current frame's label (durable before this returns).

        None, with a notification, when nothing is painted or the project refuses the label.
        """
        return None if self.opened is None else self.opened.annotation.accept()

    def skip(self) -> None:
        """Mark the current frame as skipped and go to the next queued one."""
        if self.opened is not None:
            self.opened.annotation.skip()

    def start_from_prediction(self) -> None:
        """Copy the model's prediction of this frame into the annotation."""
        if self.opened is not None:
            self.opened.annotation.start_from_prediction()

    def _label_accepted(self, _key: str) -> None:
        self._accepted_since_round += 1
        every = self.learn.auto_every.value
        if every and self._accepted_since_round >= every and not self.rounds.running:
            self.retrain()

    # ------------------------------------------------------------ rounds

    @property
    def round_running(self) -> bool:
        """True while a round runs."""
        return self.rounds.running

    def retrain(self, config: RoundConfig | None = None) -> BackgroundJob | None:
        """Start a round (train, score, select) in a thread worker; None when it cannot run."""
        if self.opened is None or self.rounds.running or not self.opened.tracker.labelled:
            return None
        self._accepted_since_round = 0
        return self.rounds.start(self.opened.session, config or self.learn.round_config())

    def cancel(self) -> None:
        """Stop the running round within one batch."""
        self.rounds.cancel()

    # ------------------------------------------------------------ export

    def export_labels(self, out: str | Path, fmt: str = "index") -> BackgroundJob | None:
        """Export the accepted labels to a new folder ``out`` in a thread worker."""
        return self.exports.export_labels(out, fmt)

    def export_model(self, out: str | Path) -> BackgroundJob | None:
        """Export the latest model to a new folder ``out`` in a thread worker."""
        return self.exports.export_model(out)

    # ------------------------------------------------------------ buttons

    def _update_buttons(self) -> None:
        opened, running = self.opened, self.rounds.running
        tracker = None if opened is None else opened.tracker
        annotation = None if opened is None else opened.annotation
        key = None if annotation is None else annotation.key
        a = self.annotate
        a.next.setEnabled(tracker is not None and any(k != key for k in tracker.pending))
        a.accept.setEnabled(key is not None)
        a.skip.setEnabled(key is not None and annotation.project.status(key) == "unlabelled")
        a.from_prediction.setEnabled(key is not None and annotation.has_prediction)
        for w in (a.palette, a.superpixels, a.coarseness, a.validation, a.heat, a.auto_prediction):
            w.setEnabled(tracker is not None)
        labelled = 0 if tracker is None else tracker.labelled
        self.learn.retrain.setEnabled(not running and labelled > 0)
        self.learn.cancel.setEnabled(running and not self.rounds.stopping)
        self.form.setEnabled(not running)  # no new project, no Close, while a round runs
        done = 0 if tracker is None else labelled + tracker.counts.get("validation", 0)
        self.export_labels_button.setEnabled(done > 0)
        self.export_model_button.setEnabled(tracker is not None and tracker.has_model)
        self.export.import_button.setEnabled(self.project is not None)
        self.propagator.update()

    def shutdown(self) -> None:
        """Stop all work and release the project and key bindings (also done on destruction)."""
        release(self._res)
        self.opened = None  # its layers stay: the frame on screen stays what it was
