"""Decode the neighbours of the frame on screen in the background, within a memory budget.

The core half of scrubbing (issue 26, item 3): a viewer tells :class:`NeighbourPrefetcher` which
frame it shows and its Next/Previous step; a worker thread decodes ``index +- step * k``
(``k = 1..radius``, nearest first) and, in the direction of the step, on to ``k = ahead``,
through :meth:`~alges_napari.core.data.frames.base.FrameSource.iter_frames` (a video: one
forward decode of the wanted frames, its own decoder, so the viewer's own reads are not
disturbed), and keeps them in a least-recently-used store bounded by ``budget_bytes``.

Why further ahead than the next step: a strided frame of a video costs the decode of its GOP up
to it (at 1 frame/s with a keyframe every 10 s, up to 250 frames for one). Asking for one new
neighbour per step would pay that on every step, in the background but on the same CPU as the
viewer. Asking for the frames up to ``ahead`` steps on, and only once the near neighbours are
missing or half of those further ahead are, decodes each GOP about once per pass of the slider.
A newer :meth:`show` abandons the fetch under way at the first frame it decodes that the newer
request does not want (one that still wants it lets it go on). The store only answers
:meth:`get`; it never blocks the caller.
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
    ahead : int
        Steps decoded ahead in the direction of the last step (at least ``radius``), as far as
        the budget holds them besides the neighbours behind.
    budget_bytes : int
        Most bytes of decoded frames kept (the oldest go first); 128 MB is 21 frames of 1080p.
    """

    def __init__(
        self, source: FrameSource, radius: int = 2, budget_bytes: int = 128 << 20, ahead: int = 8
    ):
        self.source, self.radius, self.budget = source, max(0, int(radius)), int(budget_bytes)
        h, w = source.shape
        per_frame = max(1, int(h) * int(w) * 3)
        # The neighbours behind and ahead must fit the store together, with the one on screen.
        room = max(0, self.budget // per_frame - 1 - self.radius)
        self.ahead = max(self.radius, min(int(ahead), room))
        self._store: OrderedDict[int, np.ndarray] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._request: tuple[int, int] | None = None
        self._latest: tuple[int, int] | None = None  # the newest request, kept while fetching
        self._generation = 0
        self._closed = False
        self._worker = threading.Thread(target=self._run, daemon=True, name="prefetch")
        self._worker.start()

    def wanted(self, index: int, step: int) -> list[int]:
        """The neighbours of ``index`` at ``step``, nearest first, inside the source.

        ``radius`` steps on each side, then on to ``ahead`` steps in the direction of ``step``
        (a positive or zero step: forward).
        """
        n, size = len(self.source), max(1, abs(int(step)))
        sign = -1 if int(step) < 0 else 1
        out = []
        for k in range(1, self.radius + 1):
            out += [j for j in (index + k * sign * size, index - k * sign * size) if 0 <= j < n]
        for k in range(self.radius + 1, self.ahead + 1):
            j = index + k * sign * size
            if 0 <= j < n:
                out.append(j)
        return out

    def due(self, index: int, step: int, have: set[int]) -> list[int]:
        """The frames to fetch now for ``show(index, step)`` when the store holds ``have``.

        All the missing :meth:`wanted` frames, once a near neighbour (``radius`` steps either
        side) is missing or half of those further ahead are; otherwise none (see the module).
        """
        wanted = self.wanted(index, step)
        reach = self.radius * max(1, abs(int(step)))
        near = [j for j in wanted if abs(j - index) <= reach]
        far = [j for j in wanted if abs(j - index) > reach]
        missing_far = sum(j not in have for j in far)
        if any(j not in have for j in near) or (far and 2 * missing_far >= len(far)):
            return [j for j in wanted if j not in have]
        return []

    def show(self, index: int, step: int = 1) -> None:
        """The viewer now shows frame ``index`` and steps by ``step``: prefetch around it."""
        with self._wake:
            self._request = self._latest = (int(index), int(step))
            self._generation += 1
            self._wake.notify()

    def get(self, index: int) -> np.ndarray | None:
        """The prefetched frame ``index``, or None (then read it from the source)."""
        with self._lock:
            frame = self._store.get(int(index))
            if frame is not None:
                self._store.move_to_end(int(index))
            return frame

    def keep(self, index: int, frame: np.ndarray) -> None:
        """Hold ``frame``, which the viewer read itself, as frame ``index``.

        A frame read on demand is the one on screen; kept here, a step back to it is served
        from memory like a prefetched one. This lets the viewer's layer run without napari's
        own chunk cache, so each frame is held once, inside this store's budget.
        """
        self._put(int(index), np.asarray(frame))

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
            todo = self.due(index, step, have)
            if todo:
                self._fetch(todo, generation)

    def _fetch(self, todo: list[int], generation: int) -> None:
        frames = self.source.iter_frames(todo)
        try:
            for j, frame in frames:
                if self._closed:
                    return
                if self._generation != generation:
                    latest = self._latest
                    if latest is None or j not in self.wanted(*latest):
                        return  # the viewer moved on: its new neighbours come first
                self._put(j, frame)
        except Exception:  # noqa: BLE001 - a frame that fails here fails again, visibly, on show
            return
        finally:
            close = getattr(frames, "close", None)
            if close is not None:
                close()
