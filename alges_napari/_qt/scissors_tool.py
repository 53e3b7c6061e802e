"""Intelligent scissors: click anchors along an object's outline; the outline snaps to the edges.

A mode of the annotation layer, switched with the panel's *Scissors* button (it excludes
*Superpixel paint* and the *GrabCut box*, :class:`~._qt.layer_mode.LayerMode`). While it is on:

- a **click** puts an anchor on the frame; from the second on, the leg from the previous anchor
  is the cheapest path along the image's edges
  (:class:`~alges_napari.core.data.scissors.LiveWire`, OpenCV's ``IntelligentScissorsMB``:
  about 0.1 s per click on a 480 x 854 frame, run in the GUI thread as GrabCut's box is);
- **moving** the mouse draws the outline so far and the leg on to the cursor
  (:class:`~._qt.box_preview.PathPreview`), so the user sees where the next click snaps;
- a **double-click** (its first click is the last anchor) or **Enter** closes the outline back
  to the first anchor and paints what it encloses, outline included, with the selected class:
  one undo step and one ``layer.events.paint`` (``Labels.data_setitem`` inside
  ``Labels.block_history()``, as the other tools' gestures), exactly
  :func:`~alges_napari.core.data.scissors.scissors_region` of the anchors clicked;
- **Backspace** takes the last anchor back, **Escape** drops the outline; **Space** pans.

An outline of fewer than three anchors, or one begun on another frame, paints nothing and says
why. napari's own double-click (``double_click_to_zoom``, which zooms in whenever the active
layer is in pan/zoom mode, as a mode's layer is) is taken out of the viewer's public
``mouse_double_click_callbacks`` while the mode is on and put back where it was after, so
closing an outline does not zoom the view. The mouse-move and double-click callbacks and the
keys sit on the layer (its public ``mouse_move_callbacks``, ``mouse_double_click_callbacks``,
``bind_key``) only while the mode is on, through weak references, as the drag callback.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Generator
from typing import Any

import numpy as np
from napari.utils.notifications import show_info
from qtpy.QtCore import Signal

from alges_napari._qt.box_preview import PathPreview
from alges_napari._qt.layer_mode import CurrentFrame, LayerMode
from alges_napari.core.data.scissors import MIN_ANCHORS, LiveWire, fill_outline
from alges_napari.core.errors import AlgesError

#: The name of napari's viewer callback that zooms in on a double-click in pan/zoom mode.
ZOOM_CALLBACK = "double_click_to_zoom"
#: The keys bound on the layer while the mode is on, and what each does.
KEYS = {"Enter": "close", "Escape": "cancel", "Backspace": "drop_last"}


class ScissorsTool(LayerMode):
    """The scissors mode of one annotation Labels layer (switching: :class:`LayerMode`).

    Parameters
    ----------
    layer : napari.layers.Labels
        The annotation layer (2-D, the frame on screen).
    current : callable
        ``current()`` -> ``(key, read)`` for the frame on screen, where ``read()`` returns its
        image, or None when no frame is shown.
    viewer : napari.Viewer, optional
        Where the outline is drawn while it is clicked (none drawn without one), and whose
        double-click zoom is off while the mode is on.

    Attributes
    ----------
    painted : Signal(int)
        A closed outline painted this many pixels.
    anchors : list of (int, int)
        The anchors clicked so far (pixels, data coordinates), in order.
    button : QAbstractButton or None
        The panel's toggle (:func:`attach_scissors`), disabled again by :meth:`shutdown`.
    preview : PathPreview or None
        The outline being clicked (with ``viewer``).
    """

    painted = Signal(int)

    def __init__(self, layer: Any, current: CurrentFrame, viewer: Any = None):
        super().__init__(layer)
        self._current = current
        self.button: Any = None
        self.viewer = viewer
        self.preview = None if viewer is None else PathPreview(viewer, layer)
        self._zoom_callbacks: list[tuple[int, Any]] = []  # napari's, out while the mode is on
        self.anchors: list[tuple[int, int]] = []
        self._legs: list[np.ndarray] = []  # leg i runs from anchor i to i + 1, its end left out
        self._wire: LiveWire | None = None
        self._key: Any = None  # the frame the anchors lie on
        self._keys: list[str] = []
        self._move = _weak_layer_callback(self, "_on_move")
        self._double = _weak_layer_callback(self, "_on_double_click")

    # ------------------------------------------------------------------ switching
    def _switched_on(self) -> None:
        layer = self.layer
        layer.mouse_move_callbacks.append(self._move)
        layer.mouse_double_click_callbacks.append(self._double)
        for key, action in KEYS.items():
            try:
                layer.bind_key(key, _weak_key(self, action))
            except ValueError:  # bound on this layer by someone else: theirs stays
                continue
            self._keys.append(key)
        if self.viewer is not None:
            callbacks = self.viewer.mouse_double_click_callbacks
            self._zoom_callbacks = [(i, cb) for i, cb in enumerate(callbacks)
                                    if getattr(cb, "__name__", "") == ZOOM_CALLBACK]  # fmt: skip
            for _, cb in self._zoom_callbacks:
                callbacks.remove(cb)
        if self.preview is not None:
            self.preview.add()

    def _switching_off(self) -> None:
        self.cancel()
        layer = self.layer
        for callbacks, callback in ((layer.mouse_move_callbacks, self._move),
                                    (layer.mouse_double_click_callbacks, self._double)):  # fmt: skip
            if callback in callbacks:
                callbacks.remove(callback)
        keys, self._keys = self._keys, []
        for key in keys:
            layer.bind_key(key, None)
        if self.preview is not None:
            self.preview.remove()
        zoom, self._zoom_callbacks = self._zoom_callbacks, []
        if self.viewer is not None:
            callbacks = self.viewer.mouse_double_click_callbacks
            for i, cb in zoom:
                if cb not in callbacks:
                    callbacks.insert(min(i, len(callbacks)), cb)

    # ------------------------------------------------------------------ the outline
    def _pixel(self, position: Any) -> tuple[float, float]:
        data = np.asarray(self.layer.world_to_data(position), float)[-2:]
        return float(data[0]), float(data[1])

    def add_anchor(self, position: Any) -> bool:
        """Put an anchor at world ``position`` (the leg from the previous one snaps to edges).

        Returns whether an anchor was added (not with no frame shown, or on a frame other than
        the outline's, which drops the outline and says so).
        """
        current = self._current()
        if current is None:
            return False
        key, read = current
        if self.anchors and key != self._key:
            self.cancel()
            show_info("ALGES: the frame changed: the scissors' outline was dropped")
            return False
        try:
            if not self.anchors:
                self._wire, self._key = LiveWire(np.asarray(read())), key
            else:
                assert self._wire is not None
                self._legs.append(self._wire.path_to(self._pixel(position))[:-1])
            self.anchors.append(self._wire.set_anchor(self._pixel(position)))
        except AlgesError as err:
            show_info(f"ALGES: {err}")
            return False
        self._draw(None)
        return True

    def drop_last(self) -> None:
        """Take the last anchor back (the outline goes when none is left)."""
        if len(self.anchors) <= 1:
            self.cancel()
            return
        self.anchors.pop()
        self._legs.pop()
        assert self._wire is not None
        self._wire.set_anchor(self.anchors[-1])
        self._draw(None)

    def cancel(self) -> None:
        """Drop the outline being clicked; nothing is painted."""
        self.anchors, self._legs, self._wire, self._key = [], [], None, None
        if self.preview is not None:
            self.preview.hide()

    def outline(self) -> np.ndarray | None:
        """The closed outline through the anchors ((N, 2) row, col), or None below three."""
        if len(self.anchors) < MIN_ANCHORS or self._wire is None:
            return None
        closing = self._wire.path_to(self.anchors[0])[:-1]  # the map is the last anchor's
        return np.concatenate([*self._legs, closing])

    def close(self) -> int:
        """Close the outline and paint what it encloses with the selected class (one undo step).

        Returns the pixels painted (0, and a message, below three anchors or on another frame).
        """
        current = self._current()
        if not self.anchors:
            return 0
        if current is None or current[0] != self._key:
            self.cancel()
            show_info("ALGES: the frame changed: the scissors' outline was dropped")
            return 0
        outline = self.outline()
        if outline is None:
            show_info(
                f"ALGES: the scissors need at least {MIN_ANCHORS} anchors to enclose a region: "
                f"{len(self.anchors)} clicked; click more along the outline, then double-click"
            )
            return 0
        layer = self.layer
        region = fill_outline(np.shape(layer.data)[-2:], outline)
        self.cancel()
        with layer.block_history():  # one undo step, one paint event
            layer.data_setitem(np.nonzero(region), int(layer.selected_label))
        n = int(np.count_nonzero(region))
        self.painted.emit(n)
        return n

    def preview_to(self, position: Any) -> None:
        """Draw the outline so far and the leg from the last anchor to world ``position`` (what
        a mouse move shows; nothing before the first anchor)."""
        self._draw(position)

    def _draw(self, cursor: Any) -> None:
        if self.preview is None or not self.anchors:
            return
        pieces = list(self._legs)
        if cursor is not None and self._wire is not None:
            pieces.append(self._wire.path_to(self._pixel(cursor)))
        else:
            pieces.append(np.asarray([self.anchors[-1]]))
        self.preview.show_path(np.concatenate(pieces))

    # ------------------------------------------------------------------ mouse
    def on_drag(self, layer: Any, event: Any) -> Generator[None, None, None]:
        """The layer's mouse-drag callback: a press puts an anchor (a drag does nothing more)."""
        if getattr(event, "button", 1) != 1 or layer is not self.layer or self.panning:
            return
        self.add_anchor(event.position)
        yield
        while event.type == "mouse_move":
            yield

    def _on_move(self, layer: Any, event: Any) -> None:
        if self.anchors and not self.panning and layer is self.layer:
            self.preview_to(event.position)

    def _on_double_click(self, layer: Any, event: Any) -> None:
        # the double-click's first click was a press, so its anchor is already in
        if layer is self.layer and not self.panning:
            self.close()

    def shutdown(self) -> None:
        """Switch the mode off and leave the panel (its button is off until the next project)."""
        super().shutdown()
        if self.button is not None:
            self.button.setEnabled(False)
        self.button = None


def _weak_layer_callback(tool: ScissorsTool, method: str) -> Callable[..., Any]:
    """A layer mouse callback calling ``tool.<method>(layer, event)``, holding ``tool`` weakly."""
    ref = weakref.ref(tool)

    def callback(layer: Any, event: Any) -> None:
        target = ref()
        if target is not None:
            getattr(target, method)(layer, event)

    callback.__name__ = callback.__qualname__ = f"alges_scissors{method}"
    return callback


def _weak_key(tool: ScissorsTool, action: str) -> Callable[..., Any]:
    """A key callback calling ``tool.<action>()``, holding ``tool`` weakly."""
    ref = weakref.ref(tool)

    def alges_scissors_key(_layer: Any) -> None:
        target = ref()
        if target is not None and target.enabled:
            getattr(target, action)()

    return alges_scissors_key


def attach_scissors(
    layer: Any, current: CurrentFrame, panel: Any, others: tuple[Any, ...], viewer: Any = None
) -> ScissorsTool:
    """A :class:`ScissorsTool` on ``layer`` wired to ``panel.scissors``.

    ``others`` are the layer's other modes (the superpixel tool, the GrabCut box): switching
    one on switches the scissors off first, and the other way round. ``viewer`` is where the
    outline is drawn (:class:`~._qt.box_preview.PathPreview`).
    """
    tool = ScissorsTool(layer, current, viewer)
    tool.toggled.connect(panel.scissors.setChecked)
    tool.connect_panel(panel.scissors.toggled, tool.set_enabled)
    for other in others:
        tool.before_enable.append(lambda other=other: other.set_enabled(False))
        other.before_enable.append(lambda: tool.set_enabled(False))
    tool.button = panel.scissors
    tool.button.setEnabled(True)
    return tool
