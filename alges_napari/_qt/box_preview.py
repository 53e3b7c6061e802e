"""What a gesture will cut, drawn over the frame: the GrabCut box being dragged, the scissors' outline.

A small Shapes layer above the annotation, in the viewer while the GrabCut box mode (or the
scissors mode) is on: empty between gestures; during a GrabCut drag one rectangle (an outline,
no fill) from the press to the cursor; while the scissors' anchors are being clicked, one path
(:class:`PathPreview`) through them and on to the cursor.
It is no label and holds no data of the project: nothing saves or exports it (the project reads
its own layers only), it is taken out of the viewer when the mode goes off or the project
closes, and its outline is :data:`EDGE_PX` screen pixels wide at any zoom.

The annotation layer stays the active layer: napari sends mouse drags, the tool buttons and the
shortcuts to the active layer, and the mode's drag callback and its "picking another tool turns
the mode off" watch sit on the annotation. napari makes a new layer the active one, so the
selection is given back when the preview is added, and given back again if the user clicks the
preview in the layer list (there is nothing to do with it there).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from alges_napari._qt.overlay_layer import add_overlay, remove_overlay

#: The preview's layer name and its ``metadata["alges"]`` tag (the box; the scissors' below).
PREVIEW = "ALGES GrabCut box"
TAG = "grabcut-box"
PATH_PREVIEW = "ALGES scissors outline"
PATH_TAG = "scissors-outline"
#: The outline: bright cyan (no tissue and none of the schema's class colours is cyan), this
#: many screen pixels wide.
COLOUR = "#00e5ff"
EDGE_PX = 2.0


class BoxPreview:
    """The rectangle of the box being dragged on ``annotation``, drawn in ``viewer``.

    Subclasses draw other shapes in a layer of their own (:attr:`name`, :attr:`tag`).

    Parameters
    ----------
    viewer : napari.Viewer
        Where the preview layer goes.
    annotation : napari.layers.Labels
        The annotation layer: box corners are in its data coordinates, the preview takes its
        scale and translation, and it stays the active layer.

    Attributes
    ----------
    layer : napari.layers.Shapes or None
        The preview layer while it is in the viewer (:meth:`add` to :meth:`remove`).
    """

    name, tag = PREVIEW, TAG

    def __init__(self, viewer: Any, annotation: Any):
        self.viewer, self.annotation = viewer, annotation
        self.layer: Any = None

    def add(self) -> None:
        """Put the (empty) preview layer in the viewer, above the others; the annotation stays active."""
        if self.layer is not None and self.layer in self.viewer.layers:
            return
        self.remove()  # one the user took out of the viewer: a fresh one, watched once
        viewer = self.viewer
        self.layer = add_overlay(
            viewer,
            self.annotation,
            lambda: viewer.add_shapes(
                ndim=2,
                name=self.name,
                scale=tuple(self.annotation.scale)[-2:],
                translate=tuple(self.annotation.translate)[-2:],
                edge_color=COLOUR,
                face_color="transparent",
                metadata={"alges": self.tag},
            ),
        )
        viewer.layers.selection.events.active.connect(self._keep_annotation_active)

    def _keep_annotation_active(self, *_: Any) -> None:
        layers = self.viewer.layers
        if self.layer is not None and layers.selection.active is self.layer:
            if self.annotation in layers:  # (while napari puts a removed annotation back, not)
                layers.selection.active = self.annotation

    def show(self, start: Any, end: Any) -> None:
        """Draw the box with opposite corners ``start`` and ``end`` ((row, col), data coordinates)."""
        if self.layer is None or self.layer not in self.viewer.layers:
            self.add()
        corners = np.array([np.asarray(start, float)[-2:], np.asarray(end, float)[-2:]])
        layer = self.layer
        layer.data = []
        layer.add_rectangles(corners, edge_width=self._width(), edge_color=COLOUR,
                             face_color="transparent")  # fmt: skip

    def _width(self) -> float:
        """:data:`EDGE_PX` screen pixels in data units at the current zoom."""
        # napari's camera zoom is screen pixels per world unit: a constant width on screen
        scale = float(np.min(np.abs(np.asarray(self.annotation.scale, float)[-2:])))
        zoom = float(self.viewer.scene.camera.zoom)  # napari 0.9: viewer.camera is deprecated
        return EDGE_PX / max(zoom * scale, 1e-6)

    def hide(self) -> None:
        """No rectangle (between gestures)."""
        if self.layer is not None and len(self.layer.data):
            self.layer.data = []

    @property
    def box(self) -> np.ndarray | None:
        """The rectangle drawn now ((4, 2) corners, data coordinates), or None."""
        if self.layer is None or self.layer not in self.viewer.layers or not len(self.layer.data):
            return None
        return np.asarray(self.layer.data[0], float)

    def remove(self) -> None:
        """Take the preview out of the viewer (also when the user already removed it)."""
        layer, self.layer = self.layer, None
        if layer is None:
            return
        self.viewer.layers.selection.events.active.disconnect(self._keep_annotation_active)
        remove_overlay(self.viewer, layer)


class PathPreview(BoxPreview):
    """The scissors' outline being clicked on ``annotation``: one open path, drawn in ``viewer``."""

    name, tag = PATH_PREVIEW, PATH_TAG

    def show_path(self, path: np.ndarray) -> None:
        """Draw the path through ``path``'s (N, 2) (row, col) data coordinates (N >= 2)."""
        if self.layer is None or self.layer not in self.viewer.layers:
            self.add()
        layer = self.layer
        layer.data = []
        points = np.asarray(path, float)[:, -2:]
        if len(points) < 2:  # napari's path needs two vertices: a dot is a step on the spot
            points = np.vstack([points, points])
        layer.add_paths(points, edge_width=self._width(), edge_color=COLOUR)

    @property
    def path(self) -> np.ndarray | None:
        """The path drawn now ((N, 2) data coordinates), or None."""
        return self.box
