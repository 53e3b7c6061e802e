"""Reading frames by key, for passes: random access for one frame, stream order for many.

:class:`KeyReader` is the ``frame_of`` the acquisition step and the session hand around: called
with a key it reads that frame; its :meth:`KeyReader.iter_keys` reads many in the order cheapest
for the source (:meth:`~alges_napari.core.data.frames.base.FrameSource.iter_frames`: a video
decodes them forward once, in stream order). :class:`KeyedFrames` is the sequence a pass
iterates: the frames of a key list, from any ``frame_of``, passing such a stream order on to
the scoring pass. :meth:`FrameSource.keyed(keys) <alges_napari.core.data.frames.base.
FrameSource.keyed>` is one over a source's own frames.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Protocol

import numpy as np


class KeyedSource(Protocol):
    """What a reader here asks of a source: :class:`~alges_napari.core.data.frames.base.
    FrameSource` has it. Spelt out here, not imported, because base imports this module
    (``FrameSource.keyed``) and imports run one way."""

    def index_of(self, key: str) -> int: ...

    def frame(self, key: str) -> np.ndarray: ...

    def iter_frames(self, indices: Iterable[int]) -> Iterator[tuple[int, np.ndarray]]: ...


def positions_by_index(source: KeyedSource, keys: Sequence[str]) -> dict[int, list[int]]:
    """Each source index of ``keys`` with the positions in ``keys`` that ask for it."""
    out: dict[int, list[int]] = {}
    for pos, key in enumerate(keys):
        out.setdefault(source.index_of(key), []).append(pos)
    return out


class KeyReader:
    """``reader(key)`` is the frame of ``key``; ``reader.iter_keys(keys)`` streams many.

    Parameters
    ----------
    source : KeyedSource
        The frames (not closed by the reader).
    """

    def __init__(self, source: KeyedSource) -> None:
        self.source = source

    def __call__(self, key: str) -> np.ndarray:
        return self.source.frame(key)

    def iter_keys(self, keys: Sequence[str]) -> Iterator[tuple[int, np.ndarray]]:
        """``(position in keys, frame)`` for every key, in the order cheapest for the source.

        A frame asked for twice is decoded once and handed out for both positions.
        """
        where = positions_by_index(self.source, keys)
        frames = self.source.iter_frames(list(where))
        try:
            for i, frame in frames:
                for pos in where[i]:
                    yield pos, frame
        finally:
            close = getattr(frames, "close", None)
            if close is not None:
                close()


class KeyedFrames(Sequence):
    """The frames of ``keys``, decoded on demand (what the scoring pass iterates).

    When ``frame_of`` also has ``iter_keys(keys)`` (yielding ``(position in keys, frame)`` in
    the order cheapest for its source, e.g. :class:`KeyReader` or the pool cache's reader),
    :meth:`iter_frames` passes it on, so the scoring pass reads a video in stream order; its
    ``frame_size``, when it has one, is the size the frames stand for (they may come resized to
    the model's input).

    Parameters
    ----------
    frame_of : callable
        ``frame_of(key)`` returns the frame (uint8 H x W x 3) of a key.
    keys : sequence of str
        The frames of the view, in its order (a key may repeat).
    """

    def __init__(self, frame_of: Callable[[str], np.ndarray], keys: Sequence[str]):
        self._frame_of, self._keys = frame_of, list(keys)

    def __len__(self) -> int:
        return len(self._keys)

    def __getitem__(self, i: int) -> np.ndarray:  # type: ignore[override]
        return self._frame_of(self._keys[i])

    @property
    def keys(self) -> list[str]:
        """The view's keys, in its order (a copy owned by the view: do not modify it)."""
        return self._keys

    @property
    def frame_size(self) -> tuple[int, int] | None:
        """The size of the frames these stand for (``frame_of.frame_size``), or None."""
        return getattr(self._frame_of, "frame_size", None)

    def iter_frames(self, indices: Iterable[int]) -> Iterator[tuple[int, np.ndarray]]:
        """``(index, frame)`` for ``indices``, in ``frame_of.iter_keys``' order when it has one."""
        idx = [int(i) for i in indices]
        stream = getattr(self._frame_of, "iter_keys", None)
        if stream is None:
            for i in idx:
                yield i, self[i]
            return
        inner = stream([self._keys[i] for i in idx])
        try:
            for pos, frame in inner:
                yield idx[pos], frame
        finally:
            close = getattr(inner, "close", None)
            if close is not None:
                close()  # ends a decode thread at once when the pass stops early
