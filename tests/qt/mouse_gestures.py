"""Mouse gestures for the correction tools' tests: sent to a napari layer's own callbacks, as
napari's canvas sends them (:func:`gesture`), or as Qt mouse events on a widget, as a user's
mouse sends them (:func:`send_mouse`); and the check that a mode gave napari its pan key back."""

from __future__ import annotations

from types import SimpleNamespace

from napari.utils.interactions import (
    mouse_move_callbacks,
    mouse_press_callbacks,
    mouse_release_callbacks,
)
from qtpy.QtCore import QPointF, Qt
from qtpy.QtGui import QMouseEvent
from qtpy.QtWidgets import QApplication


class Persisted:
    """The event napari keeps for a drag generator (it swaps ``__wrapped__`` on each move)."""

    def __init__(self, event):
        self.__wrapped__ = event

    def __getattr__(self, name):
        return getattr(self.__wrapped__, name)


def mouse_event(kind: str, position, modifiers=(), dragging=False):
    """A left-button mouse event of ``kind`` at data ``position``."""
    return SimpleNamespace(
        type=kind,
        position=tuple(float(v) for v in position),
        modifiers=tuple(modifiers),
        button=1,
        is_dragging=dragging,
        handled=False,
    )


def gesture(layer, points, modifiers=()) -> None:
    """Press at the first point, move through the others, release at the last."""
    mouse_press_callbacks(layer, Persisted(mouse_event("mouse_press", points[0], modifiers)))
    for p in points[1:]:
        mouse_move_callbacks(layer, mouse_event("mouse_move", p, modifiers, dragging=True))
    mouse_release_callbacks(layer, mouse_event("mouse_release", points[-1], modifiers))


def send_mouse(widget, kind, pos, button, buttons) -> None:
    """One Qt mouse event of ``kind`` (a ``QEvent.Type``) on ``widget`` at widget position ``pos``."""
    point = QPointF(*pos)
    event = QMouseEvent(
        kind, point, QPointF(widget.mapToGlobal(point.toPoint())), button, buttons,
        Qt.KeyboardModifier.NoModifier,
    )  # fmt: skip
    QApplication.sendEvent(widget, event)


def shown_canvas(viewer, qtbot):
    """The viewer's canvas, on screen and focused (vispy's camera moves only on a drawn canvas)."""
    canvas = viewer.window._qt_viewer.canvas.native
    viewer.window.show()
    qtbot.waitExposed(canvas)
    qtbot.wait(100)  # the first draw sets up the camera's transforms
    canvas.setFocus()
    return canvas


def assert_napari_space_back(layer, tool, canvas, qtbot) -> None:
    """Switch ``tool``'s mode off by picking napari's brush; then the layer's keymap holds no
    Space of ours, and napari's own Space pans (pan/zoom while held, the brush after)."""
    layer.mode = "paint"
    assert not tool.enabled and all(str(k) != "Space" for k in layer.keymap)
    qtbot.keyPress(canvas, Qt.Key.Key_Space)
    assert layer.mode == "pan_zoom"
    qtbot.keyRelease(canvas, Qt.Key.Key_Space)
    assert layer.mode == "paint"
