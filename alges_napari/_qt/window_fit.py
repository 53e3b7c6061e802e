"""A usable window and a frame that fills the canvas, through napari's public window API.

napari opens its window at whatever size Qt gives it and fits the camera when a layer is added,
before the dock widget has taken its width and before the frame slider has taken its height:
the frame then opens small or clipped. On a first launch napari's ``Window.show`` even resizes
the window to its layout's size hint *after* the window became visible (1580x700 on a
1600x1000 screen), so growing it from the dock's ``showEvent`` alone is undone at once. The
widget therefore grows the window once the event loop has finished showing it
(:func:`grow_window_soon`), and fits the camera again after the layout has settled.

Panels change the canvas's width later, too (superpixel mode widens napari's layer controls,
a dock is dragged): :class:`FrameRefit` refits the frame after such a resize, but only while
the camera is still where the last fit put it, so a zoom the annotator chose is never undone.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Callable
from typing import Any

from qtpy.QtCore import QEvent, QObject, QTimer
from qtpy.QtGui import QGuiApplication

#: The window size (logical pixels) the canvas, layer controls and the dock need side by side.
USABLE_SIZE = (1500, 950)
#: Camera margin around the frame: small, the frame is what the annotator looks at.
MARGIN = 0.02
#: Resize events within this many milliseconds are one resize (a dragged splitter sends many).
REFIT_DELAY_MS = 60


def _available() -> tuple[int, int, int, int] | None:
    screen = QGuiApplication.primaryScreen()
    if screen is None:
        return None
    avail = screen.availableGeometry()
    return avail.left(), avail.top(), avail.width(), avail.height()


def grow_window(viewer: Any) -> bool:
    """Enlarge ``viewer``'s window to :data:`USABLE_SIZE`, within the screen; never shrink it.

    A window that would then reach past the screen's available area is moved back into it.
    Returns True when the window was resized.
    """
    left, top, width, height = viewer.window.geometry()
    avail = _available()
    max_w, max_h = (10**6, 10**6) if avail is None else avail[2:]
    target = (
        max(width, min(USABLE_SIZE[0], max_w)),
        max(height, min(USABLE_SIZE[1], max_h)),
    )
    if target == (width, height):
        return False
    if avail is None:
        viewer.window.resize(*target)
        return True
    a_left, a_top, a_width, a_height = avail
    new_left = min(max(left, a_left), a_left + max(0, a_width - target[0]))
    new_top = min(max(top, a_top), a_top + max(0, a_height - target[1]))
    viewer.window.set_geometry(new_left, new_top, *target)
    return True


def grow_window_soon(viewer: Any, on_fit: Callable[[], Any] | None = None) -> None:
    """:func:`grow_window` once the event loop has finished showing the window, then fit.

    Called from the dock's first ``showEvent``, which napari's first-launch ``Window.show``
    follows with a resize to the layout's size hint: a zero-delay timer runs after it.
    ``on_fit`` is passed on to :func:`fit_frame`.
    """
    ref = weakref.ref(viewer)

    def grow() -> None:
        target = ref()
        if target is not None and grow_window(target):
            fit_frame(target, on_fit)

    QTimer.singleShot(0, grow)


def fit_frame(viewer: Any, on_fit: Callable[[], Any] | None = None) -> None:
    """Fit the camera to the layers now and once more after Qt has laid the window out.

    ``on_fit`` is called after each fit (:meth:`FrameRefit.remember_fit`).
    """
    viewer.reset_view(margin=MARGIN)
    if on_fit is not None:
        on_fit()
    ref = weakref.ref(viewer)

    def again() -> None:
        target = ref()
        if target is not None and len(target.layers):
            target.reset_view(margin=MARGIN)
            if on_fit is not None:
                on_fit()

    QTimer.singleShot(50, again)


def _camera(viewer: Any) -> tuple[float, ...]:
    camera = viewer.scene.camera  # napari 0.9: viewer.camera is deprecated
    return (float(camera.zoom), *(float(c) for c in camera.center))


class FrameRefit(QObject):
    """Refits the frame when the canvas area changes size, unless the user moved the camera.

    Watches a Qt widget whose size is the canvas's (the main window's central widget, found
    through Qt's own ``QMainWindow.centralWidget``), and after each resize calls
    ``viewer.reset_view`` when the camera is still where the last recorded fit left it
    (:meth:`remember_fit`, which :func:`fit_frame` calls through ``on_fit``; napari's home
    button gives the same camera on an unchanged canvas).

    Parameters
    ----------
    viewer : napari.Viewer
        The viewer whose camera is refitted.
    watched : QWidget
        The widget whose resizes mean the canvas changed size.
    """

    def __init__(self, viewer: Any, watched: Any):
        super().__init__(watched)
        self._viewer = weakref.ref(viewer)
        self._fitted: tuple[float, ...] | None = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(REFIT_DELAY_MS)
        self._timer.timeout.connect(self._refit)
        self._pending_fit = False
        watched.installEventFilter(self)

    def remember_fit(self) -> None:
        """Record the camera now as "fitted" (call right after a ``reset_view``)."""
        viewer = self._viewer()
        if viewer is not None:
            self._fitted = _camera(viewer)

    def at_fit(self) -> bool:
        """True when the camera is where the last recorded fit left it."""
        viewer = self._viewer()
        if viewer is None or self._fitted is None:
            return False
        now = _camera(viewer)
        return len(now) == len(self._fitted) and all(
            math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-6)
            for a, b in zip(now, self._fitted, strict=True)
        )

    def eventFilter(self, obj: Any, event: Any) -> bool:  # noqa: N802 - Qt override
        """On a resize of the watched widget, schedule a refit (once per burst of resizes)."""
        if event.type() == QEvent.Type.Resize:
            if not self._timer.isActive():
                # Decided before the resize moves anything: was the view the fitted one?
                self._pending_fit = self.at_fit()
            self._timer.start()
        return False

    def _refit(self) -> None:
        viewer = self._viewer()
        if viewer is None or not len(viewer.layers) or not self._pending_fit:
            return
        viewer.reset_view(margin=MARGIN)
        self.remember_fit()
