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

import weakref
from collections.abc import Callable, Generator
from typing import Any

import numpy as np
from napari.utils.notifications import show_info
from qtpy.QtCore import QObject, Signal

from alges_napari.core.data.grabcut import grabcut_box
from alges_napari.core.errors import AlgesError

#: ``current()`` returns (frame key, frame reader) for the frame on screen, or None.
CurrentFrame = Callable[[], "tuple[str, Callable[[], np.ndarray]] | None"]


class GrabCutTool(QObject):
    """The GrabCut box mode of one annotation Labels layer.

    Parameters
    ----------
    layer : napari.layers.Labels
        The annotation layer (2-D, the frame on screen).
    current : callable
        ``current()`` -> ``(key, read)`` for the frame on screen, where ``read()`` returns its
        image, or None when no frame is shown.

    Attributes
    ----------
    toggled : Signal(bool)
        The mode was switched on or off (also when napari's tool buttons switched it off).
    painted : Signal(int)
        A box gesture painted this many pixels.
    before_enable : list of callable
        Called (no arguments) just before the mode goes on: other modes of the layer switch
        themselves off there, before this one sets the layer's mouse state.
    button : QAbstractButton or None
        The panel's toggle (:func:`attach_grabcut`), disabled again by :meth:`shutdown`.
    """

    toggled = Signal(bool)
    painted = Signal(int)

    def __init__(self, layer: Any, current: CurrentFrame):
        super().__init__()
        self.layer = layer
        self._current = current
        self.enabled = False
        self.before_enable: list[Callable[[], Any]] = []
        self.button: Any = None
        self._panel_links: list[tuple[Any, Callable[..., Any]]] = []
        self._callback = self._weak_drag_callback()

    def set_enabled(self, on: bool) -> None:
        """Switch the GrabCut box mode on (napari's pan/zoom without panning) or off."""
        on = bool(on)
        if on == self.enabled:
            return
        layer = self.layer
        if on:
            for switch_off in self.before_enable:
                switch_off()
        self.enabled = on
        if on:
            layer.mode = "pan_zoom"
            layer.mouse_pan = False  # a drag draws the box; the wheel still zooms
            layer.cursor = "cross"
            layer.mouse_drag_callbacks.append(self._callback)
            layer.events.mode.connect(self._on_mode)
        else:
            layer.events.mode.disconnect(self._on_mode)
            if self._callback in layer.mouse_drag_callbacks:
                layer.mouse_drag_callbacks.remove(self._callback)
            if layer.mode == "pan_zoom":
                layer.mouse_pan, layer.cursor = True, "standard"
        self.toggled.emit(on)

    def _on_mode(self, *_: Any) -> None:
        # The user picked one of napari's own tools: theirs wins.
        self.set_enabled(False)

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

    def _weak_drag_callback(self) -> Callable[..., Any]:
        ref = weakref.ref(self)

        def alges_grabcut_box(layer: Any, event: Any) -> Generator[None, None, None]:
            tool = ref()
            if tool is not None:
                yield from tool.on_drag(layer, event)

        return alges_grabcut_box

    def connect_panel(self, signal: Any, slot: Callable[..., Any]) -> None:
        """Connect a panel ``signal`` to ``slot`` until :meth:`shutdown` (the panel outlives us)."""
        signal.connect(slot)
        self._panel_links.append((signal, slot))

    def shutdown(self) -> None:
        """Switch the mode off and leave the panel (its button is off until the next project)."""
        if self.enabled:
            try:
                self.set_enabled(False)
            except (RuntimeError, ValueError):  # the layer or the viewer is already gone
                self.enabled = False
        for signal, slot in self._panel_links:
            signal.disconnect(slot)
        self._panel_links = []
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
