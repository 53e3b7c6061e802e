"""Adding and removing the tools' overlay layers (superpixel boundaries, the GrabCut box).

An overlay is a layer the plugin puts above the annotation while a tool's mode is on. napari
makes a newly added layer the active one, but mouse drags, napari's tool buttons and the
shortcuts act on the active layer, and the modes' callbacks sit on the annotation: so the
selection is given back as soon as the overlay is in the viewer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def add_overlay(viewer: Any, annotation: Any, add: Callable[[], Any]) -> Any:
    """Add a layer with ``add()`` and give the selection back; returns the new layer.

    Parameters
    ----------
    viewer : napari.Viewer
        The viewer ``add`` adds to.
    annotation : napari.layers.Layer
        Made active when no layer was active before (else the layer that was stays active).
    add : callable
        ``add()`` adds the overlay to ``viewer`` (``viewer.add_image(...)``, ...) and returns it.
    """
    active = viewer.layers.selection.active
    layer = add()
    viewer.layers.selection.active = annotation if active is None else active
    return layer


def remove_overlay(viewer: Any, layer: Any) -> None:
    """Take ``layer`` out of ``viewer``; nothing when it is None or the user already removed it."""
    if layer is not None and layer in viewer.layers:
        viewer.layers.remove(layer)
