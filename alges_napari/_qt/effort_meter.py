"""What correcting a frame costs, measured as the surgeon works: time, edits, pixels changed.

napari's Labels layer emits ``events.paint`` once per undoable edit: one brush stroke (press to
release), one fill, one ``data_setitem`` or ``paint`` call, one ``block_history()`` gesture
(the superpixel tool's click). Replacing the layer's data (opening a frame, "Start from
prediction") emits none. :class:`EffortMeter` counts those events for the frame on screen and
remembers what the annotation held when the frame was opened, so an accept can say how many
pixels changed and in how many edits (:class:`~alges_napari.core.project.effort.Effort`).

An undo takes its edit back: the count goes down by one (never below 0) and a redo puts it
back. napari 0.9.2 gives no public way to observe an undo: ``Labels.undo()`` / ``redo()`` emit
no ``paint`` event nor an event of their own (only the generic ``set_data`` of a refresh, which
every slice change emits too), and the undo and redo stacks are private. Their only callers in
napari are the Labels layer's key bindings, Ctrl+Z and Ctrl+Shift+Z
(``napari/layers/labels/_labels_key_bindings.py``, on the Labels class keymap). So the meter
binds the same keys on the annotation layer's own keymap, which napari consults before the
class keymap (``Layer.bind_key``, public): the binding calls the public ``Labels.undo()`` /
``redo()``, exactly as napari's does, and counts the step when the annotation changed. An
undo called from a script (``layer.undo()``) is not seen.

The time is that of the frame's visits since it was opened (or last accepted): a frame left
with unaccepted edits keeps its time, count and starting content until the surgeon comes back
and accepts it (or skips it); a frame left untouched is forgotten.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Callable
from typing import Any

import numpy as np

from alges_napari.core.project.effort import Effort

_clock = time.monotonic  # a module attribute, so tests can drive the time

#: napari 0.9.2's undo / redo keys of a Labels layer (the class keymap's ``undo`` / ``redo``).
UNDO_KEYS = {"undo": "Control-Z", "redo": "Control-Shift-Z"}


class EffortMeter:
    """Edit actions and the starting content of each frame being corrected.

    Parameters
    ----------
    layer : napari.layers.Labels
        The annotation layer; its ``events.paint`` is counted, and its undo / redo keys
        (:data:`UNDO_KEYS`) take their edit back / put it back, until :meth:`close`.
    """

    def __init__(self, layer: Any):
        self._layer = layer
        self.key: str | None = None  # the frame on screen
        self._start: dict[str, np.ndarray] = {}
        self._actions: dict[str, int] = {}
        self._seconds: dict[str, float] = {}  # of earlier visits
        # Undos that found the count at 0 (edits from before an accept): their redos add nothing.
        self._uncounted: dict[str, int] = {}
        self._opened_at = _clock()
        layer.events.paint.connect(self._painted)
        self._keys: list[str] = []
        for name, key in UNDO_KEYS.items():
            try:
                layer.bind_key(key, _weak_history_key(self, name))
            except ValueError:  # someone else bound it on this layer: napari's own undo runs
                continue
            self._keys.append(key)

    def _painted(self, _event: Any = None) -> None:
        if self.key is not None:
            self._actions[self.key] = self._actions.get(self.key, 0) + 1
            self._uncounted.pop(self.key, None)  # a new edit ends napari's redo history

    def undone(self) -> None:
        """An edit of the frame on screen was undone: one action fewer (never below 0)."""
        self._shift(self._actions, self._uncounted)

    def redone(self) -> None:
        """An undone edit of the frame on screen was redone: one action more."""
        self._shift(self._uncounted, self._actions)

    def _shift(self, take: dict[str, int], otherwise: dict[str, int]) -> None:
        # Undo takes a counted edit off; one that undoes an edit from before the last accept
        # (nothing left to take) is remembered instead, so that its redo adds nothing back.
        key = self.key
        if key is None:
            return
        if take.get(key, 0) > 0:
            take[key] -= 1
        else:
            otherwise[key] = otherwise.get(key, 0) + 1

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
            self._uncounted.pop(self.key, None)
            self._seconds[self.key] = 0.0
            self._opened_at = _clock()

    def forget(self, key: str) -> None:
        """Drop what is kept of ``key`` (skipped, or left untouched)."""
        self._start.pop(key, None)
        self._actions.pop(key, None)
        self._seconds.pop(key, None)
        self._uncounted.pop(key, None)

    def close(self) -> None:
        """Stop counting the layer's edits (napari's undo keys are its own again)."""
        self._layer.events.paint.disconnect(self._painted)
        keys, self._keys = self._keys, []
        for key in keys:
            self._layer.bind_key(key, None)


def _weak_history_key(meter: EffortMeter, name: str) -> Callable[[Any], None]:
    """A key binding doing ``layer.undo()`` (``name`` "undo") or ``redo()`` and telling ``meter``.

    The step counts only when the annotation changed (napari's history may be empty).
    """
    ref = weakref.ref(meter)

    def step(layer: Any) -> None:
        before = np.array(layer.data, copy=True)
        getattr(layer, name)()
        meter = ref()
        if meter is None or np.array_equal(before, layer.data):
            return
        if name == "undo":
            meter.undone()
        else:
            meter.redone()

    step.__name__ = step.__qualname__ = f"alges_{name}"
    return step
