"""A usable window and a frame that fills the canvas, through napari's public window API.

napari opens its window at whatever size Qt gives it (small on a first launch) and fits the
camera when a layer is added, before the dock widget has taken its width and before the frame
slider has taken its height: the frame then opens small or clipped. The widget grows the
window once, when it is first shown, and fits the camera again after the layout has settled.
"""

from __future__ import annotations

import weakref
from typing import Any

from qtpy.QtCore import QTimer
from qtpy.QtGui import QGuiApplication

#: The window size (logical pixels) the canvas, layer controls and the dock need side by side.
USABLE_SIZE = (1500, 950)
#: Camera margin around the frame: small, the frame is what the annotator looks at.
MARGIN = 0.02


def grow_window(viewer: Any) -> bool:
    """Enlarge ``viewer``'s window to :data:`USABLE_SIZE`, within the screen; never shrink it.

    Returns True when the window was resized.
    """
    _left, _top, width, height = viewer.window.geometry()
    screen = QGuiApplication.primaryScreen()
    max_w, max_h = (10**6, 10**6)
    if screen is not None:
        avail = screen.availableGeometry()
        max_w, max_h = avail.width(), avail.height()
    target = (
        max(width, min(USABLE_SIZE[0], max_w)),
        max(height, min(USABLE_SIZE[1], max_h)),
    )
    if target == (width, height):
        return False
    viewer.window.resize(*target)
    return True


def fit_frame(viewer: Any) -> None:
    """Fit the camera to the layers now and once more after Qt has laid the window out."""
    viewer.reset_view(margin=MARGIN)
    ref = weakref.ref(viewer)

    def again() -> None:
        target = ref()
        if target is not None and len(target.layers):
            target.reset_view(margin=MARGIN)

    QTimer.singleShot(50, again)
