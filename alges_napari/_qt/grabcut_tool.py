"""GrabCut box: drag a box around an object; on release the object gets the selected class.

The tool is a mode of the annotation layer, switched on and off with the panel's *GrabCut box*
button, beside *Superpixel paint* (the two modes exclude each other). While it is on, the layer
is in napari's pan/zoom mode with mouse panning off (``Layer.mouse_pan``, public) and the
tool's callback sits in the layer's public ``mouse_drag_callbacks``: the press is one corner
of the box, the release the opposite one. On release the frame's object inside the box
(:func:`~alges_napari.core.data.grabcut.grabcut_box`: OpenCV's GrabCut on a crop around the
box, shrunk to at most 256 px, a few tens of milliseconds, so it runs on release in the GUI
thread) gets the selected class.

The whole gesture is one undo step and one ``layer.events.paint``: the write goes through the
public ``Labels.data_setitem`` inside the public ``Labels.block_history()`` context, as the
superpixel tool's gestures do. A box too small (a click) or one where GrabCut finds nothing
paints nothing and says why. Picking another napari tool turns the mode off.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import numpy as np
from napari.utils.notifications import show_info
from qtpy.QtCore import Signal

from alges_napari._qt.layer_mode import CurrentFrame, LayerMode
from alges_napari.core.data.grabcut import grabcut_box
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

    Attributes
    ----------
    painted : Signal(int)
        A box gesture painted this many pixels.
    button : QAbstractButton or None
        The panel's toggle (:func:`attach_grabcut`), disabled again by :meth:`shutdown`.
    """

    painted = Signal(int)

    def __init__(self, layer: Any, current: CurrentFrame):
        super().__init__(layer)
        self._current = current
        self.button: Any = None

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

    def on_drag(self, layer: Any, event: Any) -> Generator[None, None, None]:
        """The layer's mouse-drag callback: press and release are the box's corners."""
        if getattr(event, "button", 1) != 1 or layer is not self.layer:
            return
        start = end = event.position
        yield
        while event.type == "mouse_move":
            end = event.position
            yield
        # napari hands the release to the generator too: its position is the last corner
        end = event.position if event.type == "mouse_release" else end
        self.paint_box(start, end)

    def shutdown(self) -> None:
        """Switch the mode off and leave the panel (its button is off until the next project)."""
        super().shutdown()
        if self.button is not None:
            self.button.setEnabled(False)
            self.button = None


def attach_grabcut(layer: Any, current: CurrentFrame, panel: Any, superpixels: Any) -> GrabCutTool:
    """A :class:`GrabCutTool` on ``layer`` wired to ``panel.grabcut``, exclusive with ``superpixels``.

    ``superpixels`` is the layer's :class:`~._qt.superpixel_tool.SuperpixelTool`: switching one
    mode on switches the other off first (both own the layer's mouse in pan/zoom mode).
    """
    tool = GrabCutTool(layer, current)
    tool.toggled.connect(panel.grabcut.setChecked)
    tool.connect_panel(panel.grabcut.toggled, tool.set_enabled)
    tool.before_enable.append(lambda: superpixels.set_enabled(False))
    superpixels.before_enable.append(lambda: tool.set_enabled(False))
    tool.button = panel.grabcut
    tool.button.setEnabled(True)
    return tool
