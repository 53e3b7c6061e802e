"""Decode the neighbours of the frame on screen in the background, within a memory budget.

The core half of scrubbing (issue 26, item 3): a viewer tells :class:`NeighbourPrefetcher` which
frame it shows and its Next/Previous step; a worker thread decodes ``index +- step * k``
(``k = 1..radius``, nearest first) through :meth:`~alges_napari.core.data.frames.base.
FrameSource.iter_frames` (a video: one forward decode of the wanted frames, its own decoder, so
the viewer's own reads are not disturbed) and keeps them in a least-recently-used store bounded
by ``budget_bytes``. A newer :meth:`show` abandons the older request at its next frame. The
store only answers :meth:`get`; it never blocks the caller.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np

from alges_napari.core.data.frames.base import FrameSource


class NeighbourPrefetcher:
    """Background decoding of the frames around the one on screen.

    Parameters
    ----------
    source : FrameSource
        The frames (not closed by the prefetcher).
    radius : int
        Neighbours decoded on each side.
    budget_bytes : int
        Most bytes of decoded frames kept (the oldest go first); 128 MB is 21 frames of 1080p.
    """

    def __init__(self, source: FrameSource, radius: int = 2, budget_bytes: int = 128 << 20):
        self.source, self.radius, self.budget = source, max(0, int(radius)), int(budget_bytes)
        self._store: OrderedDict[int, np.ndarray] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._request: tuple[int, int] | None = None
        self._generation = 0
        self._closed = False
        self._worker = threading.Thread(target=self._run, daemon=True, name="prefetch")
        self._worker.start()

    def wanted(self, index: int, step: int) -> list[int]:
        """The neighbours of ``index`` at ``step``, nearest first, inside the source."""
        n, step = len(self.source), max(1, abs(int(step)))
        out = []
        for k in range(1, self.radius + 1):
            out += [j for j in (index + k * step, index - k * step) if 0 <= j < n]
        return out

    def show(self, index: int, step: int = 1) -> None:
        """The viewer now shows frame ``index`` and steps by ``step``: prefetch around it."""
        with self._wake:
            self._request = (int(index), int(step))
            self._generation += 1
            self._wake.notify()

    def get(self, index: int) -> np.ndarray | None:
        """The prefetched frame ``index``, or None (then read it from the source)."""
        with self._lock:
            frame = self._store.get(int(index))
            if frame is not None:
                self._store.move_to_end(int(index))
            return frame

    @property
    def held_bytes(self) -> int:
        """Bytes of decoded frames held now (never above ``budget_bytes``)."""
        with self._lock:
            return self._bytes

    def close(self) -> None:
        """Stop the worker and drop the frames."""
        with self._wake:
            self._closed = True
            self._wake.notify()
        self._worker.join(timeout=5)
        with self._lock:
            self._store.clear()
            self._bytes = 0

    def _put(self, index: int, frame: np.ndarray) -> None:
        with self._lock:
            if index in self._store or frame.nbytes > self.budget:
                return
            self._store[index] = frame
            self._bytes += frame.nbytes
            while self._bytes > self.budget:
                _, old = self._store.popitem(last=False)
                self._bytes -= old.nbytes

    def _run(self) -> None:
        while True:
            with self._wake:
                while self._request is None and not self._closed:
                    self._wake.wait()
                if self._closed:
                    return
                (index, step), generation = self._request, self._generation
                self._request = None
                have = set(self._store)
            todo = [j for j in self.wanted(index, step) if j not in have]
            if todo:
                self._fetch(todo, generation)

    def _fetch(self, todo: list[int], generation: int) -> None:
        frames = self.source.iter_frames(todo)
        try:
            for j, frame in frames:
                if self._generation != generation or self._closed:
                    return  # the viewer moved on: its new neighbours come first
                self._put(j, frame)
        except Exception:  # noqa: BLE001 - a frame that fails here fails again, visibly, on show
            return
        finally:
            close = getattr(frames, "close", None)
            if close is not None:
                close()
