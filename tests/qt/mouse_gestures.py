"""Mouse gestures sent to a napari layer's own callbacks, as napari's canvas sends them
(shared by the superpixel tool tests)."""

from __future__ import annotations

from types import SimpleNamespace

from napari.utils.interactions import (
    mouse_move_callbacks,
    mouse_press_callbacks,
    mouse_release_callbacks,
)


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
