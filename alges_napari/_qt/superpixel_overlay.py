"""The superpixel boundaries of the frame on screen, drawn over it while superpixel mode is on.

Painting a whole superpixel is only predictable when the superpixels can be seen: while the
mode is on, a thin overlay shows where the regions a click would paint meet (the cached
superpixels' :func:`~alges_napari.core.data.superpixels.superpixel_boundaries`, at the selected
coarseness). It is an Image layer above the annotation, a half-transparent colour on the
boundary pixels and nothing elsewhere; it is no label (an Image, which napari's brush and fill
cannot paint; never saved nor exported), it is taken out of the viewer when the mode goes off, and it follows the frame and
the coarseness. Until the worker has the on-screen frame's superpixels it shows nothing, never
another frame's boundaries.

The annotation layer stays the active layer (napari makes a new layer the active one), since
superpixel clicks, the brush and the shortcuts act on the active layer.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from napari.utils.colormaps import Colormap

from alges_napari._qt.overlay_layer import add_overlay, remove_overlay

#: The overlay's layer name and its ``metadata["alges"]`` tag.
OVERLAY = "ALGES superpixel boundaries"
TAG = "superpixel-boundaries"
#: Boundary pixels in a light cyan, half transparent: visible on red tissue and on the
#: annotation's class colours, and the frame stays readable through it.
COLOUR = (0.55, 0.95, 1.0)
OPACITY = 0.45


class BoundaryOverlay:
    """Shows the :class:`~._qt.superpixel_tool.SuperpixelTool`'s boundaries in ``viewer``.

    Parameters
    ----------
    viewer : napari.Viewer
        Where the overlay layer goes.
    tool : SuperpixelTool
        Its ``enabled``, ``boundaries()`` and ``layer`` (the annotation) are read; its
        ``toggled``, ``updated`` and ``ready`` signals refresh the overlay.

    Attributes
    ----------
    layer : napari.layers.Image or None
        The overlay layer while the mode is on.
    """

    def __init__(self, viewer: Any, tool: Any):
        self.viewer, self.tool = viewer, tool
        self.layer: Any = None
        self._colormap = Colormap(
            [[0.0, 0.0, 0.0, 0.0], [*COLOUR, 1.0]], name="alges_superpixel_boundaries"
        )
        for signal in (tool.toggled, tool.updated, tool.ready):
            tool.connect_panel(signal, self.refresh)

    def refresh(self, *_: Any) -> None:
        """Show the boundaries of the frame on screen while the mode is on; remove them otherwise."""
        tool = self.tool
        if not tool.enabled:
            self.remove()
            return
        edges = tool.boundaries()
        shape = tuple(tool.layer.data.shape)
        data = np.zeros(shape, np.uint8) if edges is None else edges.astype(np.uint8)
        if self.layer is not None and self.layer in self.viewer.layers:
            self.layer.data = data
            return
        self._add(data)

    def _add(self, data: np.ndarray) -> None:
        self.layer = add_overlay(
            self.viewer,
            self.tool.layer,
            lambda: self.viewer.add_image(
                data,
                name=OVERLAY,
                colormap=self._colormap,
                contrast_limits=(0, 1),
                opacity=OPACITY,
                blending="translucent",
                interpolation2d="nearest",
                metadata={"alges": TAG},
            ),
        )

    def remove(self) -> None:
        """Take the overlay out of the viewer (also when the user already removed it)."""
        layer, self.layer = self.layer, None
        remove_overlay(self.viewer, layer)
