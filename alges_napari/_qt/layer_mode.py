"""A mode of the annotation layer that owns its mouse drags: the superpixel and GrabCut tools.

While a mode is on, the layer is in napari's pan/zoom mode with mouse panning off
(``Layer.mouse_pan``, public), its cursor a cross, and the mode's drag callback sits in the
layer's public ``mouse_drag_callbacks``; the wheel still zooms. Picking one of napari's own
tools (paint, fill, erase ...) switches the mode off: theirs wins. Modes of one layer exclude
each other through :attr:`LayerMode.before_enable`. The layer holds the callback through a weak
reference to the mode, so a closed project's mode is collected with its layer.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Generator
from typing import Any

import numpy as np
from qtpy.QtCore import QObject, Signal

#: ``current()`` returns (frame key, frame reader) for the frame on screen, or None.
CurrentFrame = Callable[[], "tuple[str, Callable[[], np.ndarray]] | None"]


class LayerMode(QObject):
    """The switching, panel wiring and drag plumbing every mode of a Labels layer shares.

    Subclasses implement :meth:`on_drag` (a napari drag generator) and may extend
    :meth:`_switched_on` / :meth:`_switching_off` with what they bind while on.

    Parameters
    ----------
    layer : napari.layers.Labels
        The annotation layer (2-D, the frame on screen).

    Attributes
    ----------
    toggled : Signal(bool)
        The mode was switched on or off (also when napari's tool buttons switched it off).
    enabled : bool
        Whether the mode is on.
    before_enable : list of callable
        Called (no arguments) just before the mode goes on: the layer's other modes switch
        themselves off there, before this one sets the layer's mouse state.
    """

    toggled = Signal(bool)

    def __init__(self, layer: Any):
        super().__init__()
        self.layer = layer
        self.enabled = False
        self.before_enable: list[Callable[[], Any]] = []
        self._panel_links: list[tuple[Any, Callable[..., Any]]] = []
        self._callback = _weak_drag_callback(self)

    def set_enabled(self, on: bool) -> None:
        """Switch the mode on (napari's pan/zoom without mouse panning) or off."""
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
            layer.mouse_pan = False  # a drag is the mode's; the wheel still zooms
            layer.cursor = "cross"
            layer.mouse_drag_callbacks.append(self._callback)
            layer.events.mode.connect(self._on_mode)
            self._switched_on()
        else:
            self._switching_off()
            layer.events.mode.disconnect(self._on_mode)
            if self._callback in layer.mouse_drag_callbacks:
                layer.mouse_drag_callbacks.remove(self._callback)
            if layer.mode == "pan_zoom":
                layer.mouse_pan, layer.cursor = True, "standard"
        self.toggled.emit(on)

    def _switched_on(self) -> None:
        """What the mode binds once the layer's mouse is its own (nothing here)."""

    def _switching_off(self) -> None:
        """What the mode unbinds before the layer's mouse goes back (nothing here)."""

    def _on_mode(self, *_: Any) -> None:
        # The user picked one of napari's own tools: theirs wins.
        self.set_enabled(False)

    def on_drag(self, layer: Any, event: Any) -> Generator[None, None, None]:
        """The layer's mouse-drag callback while the mode is on (napari's drag generator)."""
        raise NotImplementedError

    def connect_panel(self, signal: Any, slot: Callable[..., Any]) -> None:
        """Connect a panel ``signal`` to ``slot`` until :meth:`shutdown` (the panel outlives us)."""
        signal.connect(slot)
        self._panel_links.append((signal, slot))

    def shutdown(self) -> None:
        """Switch the mode off and leave the panel (its signals no longer reach us)."""
        if self.enabled:
            try:
                self.set_enabled(False)
            except (RuntimeError, ValueError):  # the layer or the viewer is already gone
                self.enabled = False
        for signal, slot in self._panel_links:
            signal.disconnect(slot)
        self._panel_links = []


def _weak_drag_callback(mode: LayerMode) -> Callable[..., Any]:
    """A drag callback for ``mode.layer`` that holds ``mode`` weakly (named after the mode)."""
    ref = weakref.ref(mode)

    def callback(layer: Any, event: Any) -> Generator[None, None, None]:
        target = ref()
        if target is not None:
            yield from target.on_drag(layer, event)

    callback.__name__ = callback.__qualname__ = f"alges_{type(mode).__name__}"
    return callback
