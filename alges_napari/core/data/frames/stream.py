"""Reading frames by key, for passes: random access for one frame, stream order for many.

:class:`KeyReader` is the ``frame_of`` the acquisition step and the session hand around: called
with a key it reads that frame; its :meth:`KeyReader.iter_keys` reads many in the order cheapest
for the source (:meth:`~alges_napari.core.data.frames.base.FrameSource.iter_frames`: a video
decodes them forward once, in stream order), which :class:`~alges_napari.core.acquire.step.
KeyedFrames` passes on to the scoring pass.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from alges_napari.core.data.frames.base import FrameSource


def positions_by_index(source: FrameSource, keys: Sequence[str]) -> dict[int, list[int]]:
    """Each source index of ``keys`` with the positions in ``keys`` that ask for it."""
    out: dict[int, list[int]] = {}
    for pos, key in enumerate(keys):
        out.setdefault(source.index_of(key), []).append(pos)
    return out


class KeyReader:
    """``reader(key)`` is the frame of ``key``; ``reader.iter_keys(keys)`` streams many.

    Parameters
    ----------
    source : FrameSource
        The frames (not closed by the reader).
    """

    def __init__(self, source: FrameSource) -> None:
        self.source = source

    def __call__(self, key: str) -> np.ndarray:
        return self.source[self.source.index_of(key)]

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
