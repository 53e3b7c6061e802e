"""A mode of the annotation layer that owns its mouse drags: the superpixel and GrabCut tools.

While a mode is on, the layer is in napari's pan/zoom mode with mouse panning off
(``Layer.mouse_pan``, public), its cursor a cross, and the mode's drag callback sits in the
layer's public ``mouse_drag_callbacks``; the wheel still zooms. Picking one of napari's own
tools (paint, fill, erase ...) switches the mode off: theirs wins. Modes of one layer exclude
each other through :attr:`LayerMode.before_enable`. The layer holds the callback through a weak
reference to the mode, so a closed project's mode is collected with its layer.

Holding napari's pan key (**Space**, ``napari:hold_for_pan_zoom``) pans in every mode, as it
does with napari's own tools. napari's own binding switches the active layer to pan/zoom for
as long as the key is held, which changes nothing here since a mode already is pan/zoom, so
while a mode is on it binds the same key(s) on the annotation layer's own keymap
(``Layer.bind_key``; a layer's keymap comes before the viewer's): held, ``mouse_pan`` is back
on, :attr:`LayerMode.panning` is True and the mode's drag callback must do nothing; released,
the mode's drags resume. The keys are unbound when the mode goes off, so napari's own Space
works again.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Generator
from typing import Any

import numpy as np
from napari.settings import get_settings
from qtpy.QtCore import QObject, Signal

#: napari's "hold to pan/zoom" action; its keys pan while a mode is on, too.
PAN_ACTION = "napari:hold_for_pan_zoom"

#: ``current()`` returns (frame key, frame reader) for the frame on screen, or None.
CurrentFrame = Callable[[], "tuple[str, Callable[[], np.ndarray]] | None"]


class LayerMode(QObject):
    """The switching, panel wiring and drag plumbing every mode of a Labels layer shares.

    Subclasses implement :meth:`on_drag` (a napari drag generator; it must do nothing while
    :attr:`panning`) and may extend :meth:`_switched_on` / :meth:`_switching_off` with what
    they bind while on.

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
    panning : bool
        True while napari's pan key is held in the mode (a drag pans; the mode's drag does
        nothing).
    """

    toggled = Signal(bool)

    def __init__(self, layer: Any):
        super().__init__()
        self.layer = layer
        self.enabled = False
        self.before_enable: list[Callable[[], Any]] = []
        self.panning = False
        self._pan_keys: list[Any] = []
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
            self._bind_pan_keys()
            self._switched_on()
        else:
            self._switching_off()
            self._unbind_pan_keys()
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

    def _bind_pan_keys(self) -> None:
        keys = get_settings().shortcuts.shortcuts.get(PAN_ACTION) or ["Space"]
        hold = _weak_pan_key(self)
        for key in keys:
            try:
                self.layer.bind_key(key, hold)
            except ValueError:  # bound on this layer by someone else: theirs stays
                continue
            self._pan_keys.append(key)

    def _unbind_pan_keys(self) -> None:
        keys, self._pan_keys = self._pan_keys, []
        for key in keys:
            self.layer.bind_key(key, None)
        self._set_panning(False)

    def _set_panning(self, on: bool) -> None:
        self.panning = on
        if self.enabled:  # the mode's own state: a drag is the mode's, with the cross cursor
            self.layer.mouse_pan = on
            self.layer.cursor = "standard" if on else "cross"
        self._panning_changed(on)

    def _panning_changed(self, on: bool) -> None:
        """The pan key went down (``on``) or up; the mode may tidy up (nothing here)."""

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


def _weak_pan_key(mode: LayerMode) -> Callable[..., Any]:
    """A key callback for napari's pan key that holds ``mode`` weakly: pressed, the mode pans;
    released (napari resumes the generator), it does not."""
    ref = weakref.ref(mode)

    def alges_hold_to_pan(_layer: Any) -> Generator[None, None, None]:
        target = ref()
        if target is not None and target.enabled:
            target._set_panning(True)
        yield
        target = ref()
        if target is not None and target.panning:
            target._set_panning(False)

    return alges_hold_to_pan


def _weak_drag_callback(mode: LayerMode) -> Callable[..., Any]:
    """A drag callback for ``mode.layer`` that holds ``mode`` weakly (named after the mode)."""
    ref = weakref.ref(mode)

    def callback(layer: Any, event: Any) -> Generator[None, None, None]:
        target = ref()
        if target is not None:
            yield from target.on_drag(layer, event)

    callback.__name__ = callback.__qualname__ = f"alges_{type(mode).__name__}"
    return callback
