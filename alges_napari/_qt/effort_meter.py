"""What correcting a frame costs, measured as the surgeon works: time, edits, pixels changed.

napari's Labels layer emits ``events.paint`` once per undoable edit: one brush stroke (press to
release), one fill, one ``data_setitem`` or ``paint`` call, one ``block_history()`` gesture
(the superpixel tool's click). Replacing the layer's data (opening a frame, "Start from
prediction") emits none. :class:`EffortMeter` counts those events for the frame on screen and
remembers what the annotation held when the frame was opened, so an accept can say how many
pixels changed and in how many edits (:class:`~alges_napari.core.project.effort.Effort`).

The time is that of the frame's visits since it was opened (or last accepted): a frame left
with unaccepted edits keeps its time, count and starting content until the surgeon comes back
and accepts it (or skips it); a frame left untouched is forgotten.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from alges_napari.core.project.effort import Effort

_clock = time.monotonic  # a module attribute, so tests can drive the time


class EffortMeter:
    """Edit actions and the starting content of each frame being corrected.

    Parameters
    ----------
    layer : napari.layers.Labels
        The annotation layer; its ``events.paint`` is counted until :meth:`close`.
    """

    def __init__(self, layer: Any):
        self._layer = layer
        self.key: str | None = None  # the frame on screen
        self._start: dict[str, np.ndarray] = {}
        self._actions: dict[str, int] = {}
        self._seconds: dict[str, float] = {}  # of earlier visits
        self._opened_at = _clock()
        layer.events.paint.connect(self._painted)

    def _painted(self, _event: Any = None) -> None:
        if self.key is not None:
            self._actions[self.key] = self._actions.get(self.key, 0) + 1

    def actions(self, key: str) -> int:
        """Edits counted on ``key`` since it was opened or last accepted."""
        return self._actions.get(key, 0)

    def open(self, key: str, content: np.ndarray) -> None:
        """Frame ``key`` is on screen holding ``content`` (kept when edits of it are pending)."""
        self.key = key
        self._opened_at = _clock()
        if key not in self._start:
            self._start[key] = np.array(content, dtype=np.uint8)
            self._actions[key] = 0
            self._seconds[key] = 0.0

    def leave(self, edited: bool) -> None:
        """The frame on screen is left; its count is kept only when it has unaccepted edits."""
        if self.key is not None and not edited:
            self.forget(self.key)
        elif self.key is not None:
            self._seconds[self.key] = self.seconds()
        self.key = None

    def seconds(self) -> float:
        """Time spent on the frame on screen since it was opened or last accepted."""
        if self.key is None:
            return 0.0
        return self._seconds.get(self.key, 0.0) + _clock() - self._opened_at

    def restart(self, content: np.ndarray) -> None:
        """The frame on screen starts again from ``content`` (a prediction or draft put in)."""
        if self.key is not None:
            self._start[self.key] = np.array(content, dtype=np.uint8)

    def measure(self, accepted: np.ndarray) -> Effort:
        """The effort of turning the starting content of the frame on screen into ``accepted``."""
        start = self._start.get(self.key)
        if start is None:  # not opened through this meter: nothing known of its start
            start = np.asarray(accepted)
        return Effort.measure(start, accepted, self.actions(self.key))

    def accepted(self, content: np.ndarray) -> None:
        """The frame on screen was accepted as ``content``: further edits count from there."""
        if self.key is not None:
            self._start[self.key] = np.array(content, dtype=np.uint8)
            self._actions[self.key] = 0
            self._seconds[self.key] = 0.0
            self._opened_at = _clock()

    def forget(self, key: str) -> None:
        """Drop what is kept of ``key`` (skipped, or left untouched)."""
        self._start.pop(key, None)
        self._actions.pop(key, None)
        self._seconds.pop(key, None)

    def close(self) -> None:
        """Stop counting the layer's edits."""
        self._layer.events.paint.disconnect(self._painted)
