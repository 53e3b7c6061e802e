"""What the dock holds for its open project, made when the project opens and closed with it.

Every object below lives exactly as long as one open project: its session, its layers (and the
:class:`~._qt.layers.LayerKeeper` that puts removed ones back), the tracker of its counts and
queue, the annotation loop, the superpixel tool on its annotation layer, and the bridge that
brings its change events to the GUI thread. The dock widget holds one :class:`OpenProject` or
None, instead of a field per object that is None while no project is open.

The objects that must be released even when the widget's Qt side is already gone (the
project's lock, its event subscription, the running jobs, the class keys bound on the viewer)
are recorded in the widget's :class:`~._qt.jobs.Resources` as well, so that the widget's
``destroyed`` clean-up reaches them without this object.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from alges_napari._qt.annotate_panel import AnnotatePanel
from alges_napari._qt.annotation import AnnotationController
from alges_napari._qt.jobs import Resources, release_project
from alges_napari._qt.layers import LayerKeeper, ProjectLayers
from alges_napari._qt.status_view import StatusPanel
from alges_napari._qt.superpixel_tool import attach_tool
from alges_napari._qt.tracker import EventBridge, ProjectTracker
from alges_napari.core.project.project import Project
from alges_napari.core.session import ActiveLearningSession


class OpenProject:
    """A project open in the dock, with everything made for it (see the module).

    Making one takes over ``project``: it is recorded in ``res`` (whose release closes it),
    its layers are added to the viewer, the class keys bound, its events subscribed to.
    :meth:`close` undoes all of that.

    Parameters
    ----------
    project : Project
        The project, open for writing.
    res : Resources
        The widget's resources: the project, its subscription and its key bindings are
        recorded there.
    annotate : AnnotatePanel
        The annotate panel: its queue table, palette, heat map switch and superpixel controls
        follow this project.
    status : StatusPanel
        Shows the project's counts.
    on_event : callable
        ``on_event(kind, keys)``, in the GUI thread, after the tracker has shown a change of
        the project.
    on_accepted : callable
        ``on_accepted(key)`` after a label was accepted.
    on_change : callable
        Called without arguments when what the buttons can do may have changed.
    engine : str
        The scoring engine the session starts with (each round takes the panel's choice
        again when it starts).
    parent : QObject
        Parent of the event bridge (it must live in the GUI thread).

    Attributes
    ----------
    project : Project
    session : ActiveLearningSession
        Runs the project's rounds.
    layers : ProjectLayers
        The frames, annotation, prediction and heat map layers.
    keeper : LayerKeeper
        Puts a removed layer back (a removed layer never closes the project).
    tracker : ProjectTracker
        The project's counts, queue and model, kept current by its events.
    annotation : AnnotationController
        The annotation loop on the project's layers.
    superpixels : SuperpixelTool
        Superpixel painting on the annotation layer.
    bridge : EventBridge
        Delivers the project's events to the tracker in the GUI thread.
    """

    def __init__(
        self,
        project: Project,
        res: Resources,
        annotate: AnnotatePanel,
        status: StatusPanel,
        on_event: Callable[[str, tuple[str, ...]], Any],
        on_accepted: Callable[[str], Any],
        on_change: Callable[[], Any],
        engine: str,
        parent: Any,
    ):
        viewer = res.viewer
        self._res, self._palette = res, annotate.palette
        res.project = project
        self.project = project
        self.session = ActiveLearningSession(project, engine=engine)
        self.layers = ProjectLayers(viewer, project.frames, project.schema, project.root.name)
        self.keeper = LayerKeeper(self.layers, annotate.heat)
        annotate.set_classes(project.schema.names, project.schema.colors)
        annotate.palette.select(self.layers.annotation.selected_label)
        self.tracker = ProjectTracker(project, annotate.queue, status, on_event)
        self.annotation = AnnotationController(
            project, self.layers, annotate, self.tracker, on_accepted, on_change
        )
        self.layers.annotation.events.selected_label.connect(self.annotation.sync_paint_class)
        self.superpixels = attach_tool(
            self.layers.annotation, project.frames, self.annotation, annotate
        )
        res.bound_keys.extend(annotate.palette.bind_keys(viewer))
        self.bridge = EventBridge(project, self.tracker.apply, parent)
        res.unsubscribe = self.bridge.unsubscribe

    def close(self) -> None:
        """Stop the project's jobs (a round within one batch), stop listening to it, release
        its lock, switch the superpixel tool off, unbind the class keys and remove the layers.

        The layers go last: removing them moves the viewer's frame slider, so whoever answered
        it must already have let go of this object.
        """
        res = self._res
        release_project(res)
        self.superpixels.shutdown()
        for key in self._palette.unbind_keys(res.viewer):
            res.bound_keys.remove(key)
        self.bridge.deleteLater()
        self.layers.remove()
