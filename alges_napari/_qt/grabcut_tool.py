"""GrabCut: drag a box around an object (a mode), or refine one class's edges (an action).

The box tool is a mode of the annotation layer, switched on and off with the panel's *GrabCut
box* button, beside *Superpixel paint* (the two modes exclude each other). While it is on, the
layer is in napari's pan/zoom mode with mouse panning off (``Layer.mouse_pan``, public) and the
tool's callback sits in the layer's public ``mouse_drag_callbacks``: the press is one corner
of the box, the release the opposite one. While the mouse moves the box is drawn
(:class:`~._qt.box_preview.BoxPreview`, a Shapes layer in the viewer while the mode is on; the
annotation stays the active layer); on release the rectangle goes and the frame's object
inside the box (:func:`~alges_napari.core.data.grabcut.grabcut_box`: OpenCV's GrabCut on a
crop around the box, shrunk to at most 256 px, a few tens of milliseconds, so it runs on
release in the GUI thread) gets the selected class. Holding **Space** pans instead, as in
napari's own tools (:class:`~._qt.layer_mode.LayerMode` binds it); released, drags box again.

*Refine edges* (a panel button, no mode) runs
:func:`~alges_napari.core.data.grabcut.grabcut_refine` on the frame on screen for the selected
class: the class's region of the annotation is GrabCut's guess, and its edges move onto the
image's within 24 px. Pixels that join the region get the class; pixels of the class that
GrabCut leaves out become "not labelled" (the layer's background value, 255, what napari's
eraser paints), since refining says which pixels are not this class, not which class they are.

Every gesture and every refine is one undo step and one ``layer.events.paint``: the writes go
through the public ``Labels.data_setitem`` inside the public ``Labels.block_history()``
context, as the superpixel tool's gestures do. A box too small (a click), one where GrabCut
finds nothing, or a refine with no frame or no pixel of the class changes nothing and says why.
Picking another napari tool turns the box mode off.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import numpy as np
from napari.utils.notifications import show_info
from qtpy.QtCore import Signal

from alges_napari._qt.box_preview import BoxPreview
from alges_napari._qt.layer_mode import CurrentFrame, LayerMode
from alges_napari.core.data.grabcut import grabcut_box, grabcut_refine
from alges_napari.core.errors import AlgesError


class GrabCutTool(LayerMode):
    """The GrabCut box mode of one annotation Labels layer (switching: :class:`LayerMode`).

    Parameters
    ----------
    layer : napari.layers.Labels
        The annotation layer (2-D, the frame on screen).
    current : callable
        ``current()`` -> ``(key, read)`` for the frame on screen, where ``read()`` returns its
        image, or None when no frame is shown.
    viewer : napari.Viewer, optional
        Where the box is drawn while it is dragged (none drawn without one).

    Attributes
    ----------
    painted : Signal(int)
        A box gesture or a refine changed this many pixels.
    button : QAbstractButton or None
        The panel's toggle (:func:`attach_grabcut`), disabled again by :meth:`shutdown`.
    refine_button : QAbstractButton or None
        The panel's *Refine edges* button, disabled again by :meth:`shutdown`.
    preview : BoxPreview or None
        The rectangle of the box being dragged (with ``viewer``).
    """

    painted = Signal(int)

    def __init__(self, layer: Any, current: CurrentFrame, viewer: Any = None):
        super().__init__(layer)
        self._current = current
        self.button: Any = None
        self.refine_button: Any = None
        self.preview = None if viewer is None else BoxPreview(viewer, layer)

    def _switched_on(self) -> None:
        if self.preview is not None:
            self.preview.add()

    def _switching_off(self) -> None:
        if self.preview is not None:
            self.preview.remove()

    def _panning_changed(self, on: bool) -> None:
        if on and self.preview is not None:  # a box half drawn when Space went down is dropped
            self.preview.hide()

    def paint_box(self, start: Any, end: Any) -> int:
        """GrabCut the box between world positions ``start`` and ``end``; paint the object.

        The object gets the layer's selected class in one undo step. Returns the pixels
        painted (0, and a message, for a box too small, no frame, or no object found).
        """
        current = self._current()
        if current is None:
            return 0
        a = np.asarray(self.layer.world_to_data(start), float)[-2:]
        b = np.asarray(self.layer.world_to_data(end), float)[-2:]
        image = np.asarray(current[1]())
        try:
            region = grabcut_box(image, (a, b))
        except AlgesError as err:
            show_info(f"ALGES: {err}")
            return 0
        if not region.any():
            show_info("ALGES: GrabCut found no object in the box; drag a box around one")
            return 0
        with self.layer.block_history():  # one undo step, one paint event
            self.layer.data_setitem(np.nonzero(region), int(self.layer.selected_label))
        n = int(np.count_nonzero(region))
        self.painted.emit(n)
        return n

    def refine(self) -> int:
        """Refine the selected class's edges on the frame on screen by GrabCut (one undo step).

        Pixels GrabCut adds to the class's region get the class; pixels of the class it leaves
        out become the layer's background value ("not labelled", what the eraser paints).
        Returns the pixels changed (0, and a message, with no frame shown, no pixel of the
        class on it, or the class being the background value itself).
        """
        layer = self.layer
        cls = int(layer.selected_label)
        unlabelled = int(layer.colormap.background_value)
        current = self._current()
        if current is None:
            show_info("ALGES: no frame is shown: open a project and go to a frame to refine")
            return 0
        if cls == unlabelled:
            show_info("ALGES: the selected label is 'not labelled': pick a class to refine")
            return 0
        labels = np.asarray(layer.data)
        was = labels == cls
        if not was.any():
            show_info(
                f"ALGES: class {cls} has no pixel on this frame: paint it roughly (or start "
                "from the prediction), then Refine edges moves its edges onto the image's"
            )
            return 0
        try:
            region = grabcut_refine(np.asarray(current[1]()), labels, cls)
        except AlgesError as err:
            show_info(f"ALGES: {err}")
            return 0
        gained, lost = region & ~was, was & ~region
        n = int(np.count_nonzero(gained) + np.count_nonzero(lost))
        if n == 0:
            show_info(f"ALGES: class {cls}'s edges already lie on the image's: nothing changed")
            return 0
        with layer.block_history():  # one undo step, one paint event
            if gained.any():
                layer.data_setitem(np.nonzero(gained), cls)
            if lost.any():
                layer.data_setitem(np.nonzero(lost), unlabelled)
        self.painted.emit(n)
        return n

    def on_drag(self, layer: Any, event: Any) -> Generator[None, None, None]:
        """The layer's mouse-drag callback: press and release are the box's corners.

        The box is drawn from the press to the cursor while the mouse moves and taken away on
        release. While the pan key is held (:attr:`panning`) a drag is napari's pan: no box;
        a box begun before the key went down is dropped.
        """
        if getattr(event, "button", 1) != 1 or layer is not self.layer or self.panning:
            return
        preview = self.preview
        start = end = event.position
        yield
        try:
            while event.type == "mouse_move":
                if self.panning:
                    return
                end = event.position
                if preview is not None:
                    preview.show(layer.world_to_data(start), layer.world_to_data(end))
                yield
        finally:
            if preview is not None:
                preview.hide()
        # napari hands the release to the generator too: its position is the last corner
        end = event.position if event.type == "mouse_release" else end
        self.paint_box(start, end)

    def shutdown(self) -> None:
        """Switch the mode off and leave the panel (its button is off until the next project)."""
        super().shutdown()
        for button in (self.button, self.refine_button):
            if button is not None:
                button.setEnabled(False)
        self.button = self.refine_button = None


def attach_grabcut(
    layer: Any, current: CurrentFrame, panel: Any, superpixels: Any, viewer: Any = None
) -> GrabCutTool:
    """A :class:`GrabCutTool` on ``layer`` wired to ``panel.grabcut`` and ``panel.refine``.

    ``superpixels`` is the layer's :class:`~._qt.superpixel_tool.SuperpixelTool`: switching one
    mode on switches the other off first (both own the layer's mouse in pan/zoom mode).
    ``viewer`` is where the dragged box is drawn (:class:`~._qt.box_preview.BoxPreview`).
    """
    tool = GrabCutTool(layer, current, viewer)
    tool.toggled.connect(panel.grabcut.setChecked)
    tool.connect_panel(panel.grabcut.toggled, tool.set_enabled)
    tool.before_enable.append(lambda: superpixels.set_enabled(False))
    superpixels.before_enable.append(lambda: tool.set_enabled(False))
    tool.connect_panel(panel.refine.clicked, lambda *_: tool.refine())
    tool.button, tool.refine_button = panel.grabcut, panel.refine
    for button in (tool.button, tool.refine_button):
        button.setEnabled(True)
    return tool
