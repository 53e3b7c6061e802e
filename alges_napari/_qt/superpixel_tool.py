"""Edge-aware painting: a click (or drag) paints the superpixel under the cursor.

The tool is a mode of the annotation layer that the user switches on and off with a button; it
never replaces napari's own tools. While it is on, the layer is in napari's pan/zoom mode with
mouse panning off (``Layer.mouse_pan``, public), and the tool's callback in the layer's public
``mouse_drag_callbacks`` paints:

- a click paints the whole superpixel under the cursor with the selected class; a drag paints
  every superpixel it crosses: all those on the straight segment between two consecutive mouse
  events (:func:`~alges_napari.core.data.superpixels.superpixels_along`), so a fast drag, whose
  events lie far apart, leaves no superpixel out;
- with **Shift** held, the same gesture is napari's plain brush (``Labels.paint``, the layer's
  brush size) for the places where a superpixel straddles a boundary. Shift is free in napari's
  pan/zoom mode of a Labels layer (napari binds Shift only to keys: Shift-V, Shift-A, ...).

Holding napari's pan key (**Space**, ``napari:hold_for_pan_zoom``) pans while the mode is on,
as it does with napari's own tools (bound on the layer's keymap by
:class:`~._qt.layer_mode.LayerMode`, shared with the GrabCut box): held, the tool paints
nothing; released, painting resumes.

**G** (:data:`COARSENESS_KEY`, bound on the layer's keymap while the mode is on) switches
between fine and coarse superpixels; the panel's list follows.

A whole gesture is one undo step and one ``layer.events.paint``: its writes go through the
public ``Labels.data_setitem`` / ``Labels.paint`` inside the public ``Labels.block_history()``
context, which commits them as one history item (napari 0.9.2). Picking another napari tool
(paint, fill, erase ...) turns the superpixel mode off.

Superpixels are computed per frame in a napari thread worker, never in the GUI thread, and kept
in a :class:`~alges_napari.core.data.superpixels.SuperpixelCache` per (frame key, coarseness),
with their boundaries, which :class:`~._qt.superpixel_overlay.BoundaryOverlay` shows.
A click before the current frame's superpixels are ready paints nothing and says so.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Generator
from typing import Any

import numpy as np
from napari.qt.threading import create_worker
from napari.utils.notifications import show_info
from qtpy.QtCore import Signal

from alges_napari._qt.grabcut_tool import attach_grabcut
from alges_napari._qt.layer_mode import CurrentFrame, LayerMode
from alges_napari._qt.scissors_tool import attach_scissors
from alges_napari._qt.superpixel_overlay import BoundaryOverlay
from alges_napari.core.data.superpixels import (
    SuperpixelCache,
    check_coarseness,
    superpixels_along,
)

#: Modifier that turns a superpixel gesture into a plain brush stroke.
BRUSH_MODIFIER = "Shift"
#: Switches between fine and coarse superpixels while the mode is on (free in napari 0.9.2:
#: tests/qt/test_correction_tools.py checks it against every key napari binds).
COARSENESS_KEY = "G"


class SuperpixelTool(LayerMode):
    """The superpixel painting mode of one annotation Labels layer (switching: :class:`LayerMode`).

    Parameters
    ----------
    layer : napari.layers.Labels
        The annotation layer (2-D, the frame on screen).
    current : callable
        ``current()`` -> ``(key, read)`` for the frame on screen, where ``read()`` returns its
        image (called in a worker thread), or None when no frame is shown.
    cache : SuperpixelCache, optional
        Where superpixels are kept (a new one of 16 maps by default).

    Attributes
    ----------
    coarseness_changed : Signal(str)
        The coarseness is now this one (the panel's list, or :data:`COARSENESS_KEY`).
    ready : Signal(str)
        The superpixels of the frame with this key are ready.
    updated : Signal()
        While the mode is on, the frame on screen or the coarseness changed.
    panning : bool
        True while napari's pan key is held in the mode (a drag pans, it does not paint;
        :class:`LayerMode` binds the key).
    """

    coarseness_changed = Signal(str)
    ready = Signal(str)
    updated = Signal()

    def __init__(self, layer: Any, current: CurrentFrame, cache: SuperpixelCache | None = None):
        super().__init__(layer)
        self._current = current
        self.cache = cache if cache is not None else SuperpixelCache()
        self.coarseness = "fine"
        self._coarseness_key = False
        self._pending: set[tuple[str, str]] = set()
        self._workers: list[Any] = []
        self.overlay: Any = None  # the BoundaryOverlay showing our boundaries, if any
        self.grabcut: Any = None  # the layer's GrabCut box mode (attach_tool), shut down with us
        self.scissors: Any = None  # the layer's scissors mode (attach_tool), likewise

    # ------------------------------------------------------------ mode

    def _switched_on(self) -> None:
        self._bind_coarseness_key()
        self.frame_changed()

    def _switching_off(self) -> None:
        if self._coarseness_key:
            self.layer.bind_key(COARSENESS_KEY, None)
            self._coarseness_key = False

    def _bind_coarseness_key(self) -> None:
        ref = weakref.ref(self)

        def alges_switch_coarseness(_layer: Any) -> None:
            tool = ref()
            if tool is not None and tool.enabled:
                tool.set_coarseness("coarse" if tool.coarseness == "fine" else "fine")

        try:
            self.layer.bind_key(COARSENESS_KEY, alges_switch_coarseness)
        except ValueError:  # bound on this layer by someone else: theirs stays
            return
        self._coarseness_key = True

    def set_coarseness(self, coarseness: str) -> None:
        """Paint ``"fine"`` or ``"coarse"`` superpixels from now on."""
        if check_coarseness(coarseness) == self.coarseness:
            return
        self.coarseness = coarseness
        self.coarseness_changed.emit(coarseness)
        if self.enabled:
            self.frame_changed()

    # ------------------------------------------------------------ superpixels

    def labels(self) -> np.ndarray | None:
        """Superpixels of the frame on screen at the current coarseness, if computed."""
        current = self._current()
        return None if current is None else self.cache.get(current[0], self.coarseness)

    def boundaries(self) -> np.ndarray | None:
        """Boundaries of :meth:`labels` (bool (H, W)), if computed."""
        current = self._current()
        return None if current is None else self.cache.boundaries(current[0], self.coarseness)

    def frame_changed(self) -> None:
        """Compute the on-screen frame's superpixels in a worker, unless cached or under way."""
        if not self.enabled:
            return
        self.updated.emit()
        current = self._current()
        if current is None:
            return
        key, read = current
        item = (key, self.coarseness)
        if item in self._pending or self.cache.get(*item) is not None:
            return
        self._pending.add(item)
        cache, coarseness = self.cache, self.coarseness
        worker = create_worker(lambda: (key, cache.compute(key, read(), coarseness)))
        ref = weakref.ref(self)

        def finished(*_: Any) -> None:
            tool = ref()
            if tool is not None:
                tool._pending.discard(item)
                if worker in tool._workers:
                    tool._workers.remove(worker)

        worker.returned.connect(lambda result: (ref() is not None) and ref().ready.emit(result[0]))
        worker.finished.connect(finished)
        self._workers.append(worker)
        worker.start()

    def wait(self, timeout_ms: int = 30000) -> None:
        """Block until the running superpixel workers are done (tests and scripts)."""
        from qtpy.QtCore import QCoreApplication, QElapsedTimer

        timer = QElapsedTimer()
        timer.start()
        while self._pending and timer.elapsed() < timeout_ms:
            QCoreApplication.processEvents()

    # ------------------------------------------------------------ painting

    def paint_at(self, position: Any) -> bool:
        """Paint the superpixel at world ``position`` with the selected class (one undo step).

        Returns False (nothing painted) outside the frame or before its superpixels are ready.
        """
        seen: set[int] = set()
        with self.layer.block_history():
            return self._paint_path(position, position, seen)

    def _paint_path(self, start: Any, end: Any, seen: set[int]) -> bool:
        # Every superpixel the straight segment between two mouse events crosses, not only
        # the one under each event: a fast drag's events lie far apart (core function
        # superpixels_along, tested against a brute force). ``seen`` holds the gesture's
        # superpixels painted already, so each is written once.
        labels = self.labels()
        if labels is None:
            return False
        a = np.asarray(self.layer.world_to_data(start), float)[-2:]
        b = np.asarray(self.layer.world_to_data(end), float)[-2:]
        crossed = [int(i) for i in superpixels_along(labels, [a, b]) if int(i) not in seen]
        if not crossed:
            return False
        seen.update(crossed)
        self.layer.data_setitem(np.nonzero(np.isin(labels, crossed)), int(self.layer.selected_label))
        return True

    def _brush(self, start: Any, end: Any) -> None:
        # Napari's brush at points along the segment, one brush radius apart, so a fast drag
        # leaves no gaps between mouse events.
        layer = self.layer
        a = np.asarray(layer.world_to_data(start), float)
        b = np.asarray(layer.world_to_data(end), float)
        steps = max(1, int(np.ceil(np.linalg.norm(b - a) / max(1.0, layer.brush_size / 2))))
        for t in np.linspace(0.0, 1.0, steps + 1):
            layer.paint(tuple(a + t * (b - a)), int(layer.selected_label), refresh=False)
        layer.refresh()

    def on_drag(self, layer: Any, event: Any) -> Generator[None, None, None]:
        """The layer's mouse-drag callback: paint superpixels (or brush, with Shift)."""
        if getattr(event, "button", 1) != 1 or layer is not self.layer or self.panning:
            return
        brush = BRUSH_MODIFIER in event.modifiers
        if not brush and self.labels() is None:
            show_info("ALGES: superpixels of this frame are still being computed; try again")
            return
        seen: set[int] = set()
        last = event.position
        with layer.block_history():  # the whole gesture is one undo step
            if brush:
                self._brush(last, last)
            else:
                self._paint_path(last, last, seen)
            yield
            while event.type == "mouse_move":
                if self.panning:  # the pan key went down mid-gesture: napari pans from here
                    return
                if brush:
                    self._brush(last, event.position)
                else:
                    self._paint_path(last, event.position, seen)
                last = event.position
                yield

    def shutdown(self) -> None:
        """Switch the mode off (its overlay goes), leave the panel, stop waiting for workers.

        The layer's GrabCut box and scissors modes (:attr:`grabcut`, :attr:`scissors`, if
        attached) shut down with it.
        """
        for mode in (self.grabcut, self.scissors):
            if mode is not None:
                mode.shutdown()
        super().shutdown()
        self._pending.clear()


def attach_tool(layer: Any, frames: Any, annotation: Any, panel: Any) -> SuperpixelTool:
    """A :class:`SuperpixelTool` on ``layer`` for the frame ``annotation`` shows, wired to ``panel``.

    ``frames`` is the project's frame source (``frames.frame(key)`` reads frame ``key``);
    ``annotation`` the :class:`~._qt.annotation.AnnotationController` (its ``key`` and layers'
    current index); ``panel`` the :class:`~._qt.annotate_panel.AnnotatePanel` (its superpixel
    button and coarseness list). The boundary overlay goes in the viewer of ``annotation.layers``.
    The layer's :class:`~._qt.grabcut_tool.GrabCutTool`, on the panel's GrabCut button and
    exclusive with the superpixel mode, is attached too (the tool's ``grabcut``), and the
    :class:`~._qt.scissors_tool.ScissorsTool` on the panel's Scissors button, exclusive with
    both (the tool's ``scissors``).
    """

    def current() -> tuple[str, Callable[[], np.ndarray]] | None:
        key = annotation.key
        if key is None:
            return None
        return key, lambda: np.asarray(frames.frame(key))

    tool = SuperpixelTool(layer, current)
    tool.set_coarseness(panel.coarseness.currentData())
    tool.toggled.connect(panel.superpixels.setChecked)

    def coarseness(*_: Any) -> None:
        tool.set_coarseness(panel.coarseness.currentData())

    tool.connect_panel(panel.superpixels.toggled, tool.set_enabled)
    tool.connect_panel(panel.coarseness.currentIndexChanged, coarseness)

    def show_coarseness(value: str) -> None:  # the key switched it: the list follows
        panel.coarseness.setCurrentIndex(panel.coarseness.findData(value))

    tool.connect_panel(tool.coarseness_changed, show_coarseness)
    viewer = annotation.layers.viewer
    tool.overlay = BoundaryOverlay(viewer, tool)
    # the GrabCut box mode shares the frame and the panel's row; it lives and dies with us
    tool.grabcut = attach_grabcut(layer, current, panel, tool, viewer)
    tool.scissors = attach_scissors(layer, current, panel, (tool, tool.grabcut), viewer)
    return tool
