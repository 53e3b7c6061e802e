"""The GrabCut box being dragged, drawn over the frame so the user sees what the release will cut.

A small Shapes layer above the annotation, in the viewer while the GrabCut box mode is on: empty
between gestures, one rectangle (an outline, no fill) from the press to the cursor during a drag.
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

#: The preview's layer name and its ``metadata["alges"]`` tag.
PREVIEW = "ALGES GrabCut box"
TAG = "grabcut-box"
#: The outline: bright cyan (no tissue and none of the schema's class colours is cyan), this
#: many screen pixels wide.
COLOUR = "#00e5ff"
EDGE_PX = 2.0


class BoxPreview:
    """The rectangle of the box being dragged on ``annotation``, drawn in ``viewer``.

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
                name=PREVIEW,
                scale=tuple(self.annotation.scale)[-2:],
                translate=tuple(self.annotation.translate)[-2:],
                edge_color=COLOUR,
                face_color="transparent",
                metadata={"alges": TAG},
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
        # napari's camera zoom is screen pixels per world unit: a constant width on screen
        scale = float(np.min(np.abs(np.asarray(self.annotation.scale, float)[-2:])))
        zoom = float(self.viewer.scene.camera.zoom)  # napari 0.9: viewer.camera is deprecated
        width = EDGE_PX / max(zoom * scale, 1e-6)
        layer = self.layer
        layer.data = []
        layer.add_rectangles(corners, edge_width=width, edge_color=COLOUR, face_color="transparent")

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
