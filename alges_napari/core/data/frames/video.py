"""Frames of a video file (PyAV), read exactly, one request or one forward pass at a time.

See :mod:`alges_napari.core.data.frames.base` for the contract every source keeps; multi-page
TIFF stacks are in :mod:`alges_napari.core.data.frames.tiff`.

Exact video seeking (a label must never land on the wrong frame): at open, packets are demuxed
WITHOUT decoding and their presentation timestamps (pts), sorted, define the frames; frame ``j``
is the ``j``-th smallest pts. To read it, the decoder seeks to the keyframe at or before it and
decodes forward until a frame with exactly that pts comes out. If the seek lands after the
target (inexact container indexes), decoding restarts from the start of the file. Packets the
demuxer marks "discard" (edit lists) are not frames. Files whose packets carry no timestamps
cannot be seeked exactly and are refused with advice to re-mux them.

Shared timestamps: a recorder whose clock is coarser than its frame rate writes several packets
with one pts. Every packet is still a frame: equal timestamps keep their demux order, and the
``n``-th decoded frame with a given pts is the ``n``-th frame of that pts. Counting is exact only
from a point where no earlier packet shares a later one's pts, so seeks go to "clean" keyframes
(the first packet of its pts, every packet before it earlier, every packet after it no earlier)
or to the start of the file. A project made by an older alges-napari numbered only the distinct
timestamps: reopened from its config, such a video keeps that numbering (its labels stay on
their frames) and a :class:`FrameWarning` says how many frames it cannot address and how to
re-mux the file.

Passes over many frames (the scoring pass, building the pool cache) ask for them with
:meth:`VideoSource.iter_frames`: a decode thread opens its own demuxer and a frame-threaded
decoder, walks the requested frames in stream order (ascending frame number) and feeds a bounded
queue. It only ever moves forward: it keeps decoding when no seek point lies between it and the
next wanted frame, else it seeks forward to the seek point before that frame, so no frame is
decoded twice and a GOP it has passed is never decoded again (the one exception is the
exactness fallback above, a restart from the start of a file whose index is inexact). Random
access and a running pass do not disturb each other's decoder position. Counters
(:attr:`VideoSource.decode_counts`) say how many frames were decoded and seeks made.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import warnings
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from alges_napari.core.data.classes import ClassSchema
from alges_napari.core.data.frames.base import FrameSource, FrameWarning, to_rgb8
from alges_napari.core.errors import FrameSourceError


class _LRU(OrderedDict):
    """A small least-recently-used cache of decoded frames keyed by frame number."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = max(0, int(size))

    def get_frame(self, j: int) -> np.ndarray | None:
        if j in self:
            self.move_to_end(j)
            return self[j]
        return None

    def put(self, j: int, frame: np.ndarray) -> None:
        if self.size:
            self[j] = frame
            self.move_to_end(j)
            while len(self) > self.size:
                self.popitem(last=False)


class VideoSource(FrameSource):
    """Frames of a video file, with exact random access (see the module docstring).

    Parameters
    ----------
    path : path-like
        An mp4, avi, mov or mkv file.
    stride : int
        Keep every ``stride``-th frame; keys are ``<stem>/f<frame number>``.
    schema : ClassSchema, optional
        Class schema to carry along (videos hold no ground truth).
    cache_size : int
        Number of decoded frames kept in memory.
    distinct_timestamps : bool
        Number only the distinct timestamps, as alges-napari did before it kept frames that
        share one (for projects made then; see the module docstring). Warns when frames are
        left out.
    """

    kind = "video"

    def __init__(
        self,
        path: str | Path,
        stride: int = 1,
        schema: ClassSchema | None = None,
        cache_size: int = 16,
        distinct_timestamps: bool = False,
    ) -> None:
        import av

        self._av = av
        path = Path(path)
        try:
            self._container = av.open(str(path))
        except (av.FFmpegError, OSError, ValueError) as exc:
            raise FrameSourceError(f"cannot open video {path}: {exc}") from None
        try:
            if not self._container.streams.video:
                raise FrameSourceError(f"{path} has no video stream")
            self._stream = self._container.streams.video[0]
            self._pts, self._keyframes, self.n_shared = self._build_index(
                path, distinct_timestamps
            )
            ctx = self._stream.codec_context
            shape = (int(ctx.height), int(ctx.width))
        except BaseException:
            self._container.close()
            raise
        self.distinct_timestamps = bool(distinct_timestamps)
        pts, first, count = np.unique(self._pts, return_index=True, return_counts=True)
        self._first_of_pts = {int(p): int(j) for p, j in zip(pts, first, strict=True)}
        self._count_of_pts = {int(p): int(n) for p, n in zip(pts, count, strict=True)}
        self._lock = threading.Lock()
        self._cache = _LRU(cache_size)
        self._counts_lock = threading.Lock()
        self._counts = {"decoded": 0, "seeks": 0, "restarts": 0}
        self._cursor = _Cursor(self, self._container, self._stream)  # random access
        keys = [f"{path.stem}/f{j:06d}" for j in range(0, len(self._pts), int(stride))]
        super().__init__(path, keys, shape, stride, schema)
        if self.distinct_timestamps and self.n_shared:
            warnings.warn(
                f"{path}: {self.n_shared} of {self.n_shared + len(self._pts)} frames share a "
                "timestamp with another and cannot be addressed in this project (made by an "
                "older alges-napari, which numbered distinct timestamps only); to label them, "
                "re-encode the video with one timestamp per frame (ffmpeg -i IN -vf "
                "setpts=N/FRAME_RATE/TB OUT.mp4) and create a new project from it",
                FrameWarning,
                stacklevel=3,
            )

    @property
    def n_video_frames(self) -> int:
        """Frames in the file, before the stride."""
        return len(self._pts)

    def describe(self) -> dict[str, Any]:
        """See :meth:`FrameSource.describe`; adds how frames are numbered ("timestamps")."""
        numbering = "distinct" if self.distinct_timestamps else "every-packet"
        return {**super().describe(), "timestamps": numbering}

    def _build_index(
        self, path: Path, distinct: bool
    ) -> tuple[np.ndarray, np.ndarray, int]:
        """Demux (no decoding): frame timestamps, seek points, frames sharing a timestamp."""
        pts, is_key = [], []
        try:
            for packet in self._container.demux(self._stream):
                if packet.size == 0 or packet.is_discard:
                    continue  # flush packets, and frames an edit list cuts away
                if packet.pts is None:
                    raise FrameSourceError(
                        f"{path}: packets without timestamps, exact seeking is impossible; "
                        "re-mux it first (ffmpeg -i IN -c copy OUT.mkv)"
                    )
                pts.append(int(packet.pts))
                is_key.append(bool(packet.is_keyframe))
        except self._av.FFmpegError as exc:
            raise FrameSourceError(f"video {path} is truncated or corrupt: {exc}") from None
        if not pts:
            raise FrameSourceError(f"video {path} has no frames")
        if not any(is_key):
            raise FrameSourceError(f"video {path} has no keyframe")
        demuxed = np.asarray(pts, dtype=np.int64)
        keys = np.asarray(is_key)
        unique = np.unique(demuxed)
        shared = len(demuxed) - len(unique)
        if distinct or not shared:
            return unique, np.unique(np.searchsorted(unique, demuxed[keys])), shared
        return np.sort(demuxed, kind="stable"), _clean_keyframes(demuxed, keys), shared

    def _keyframe_before(self, j: int) -> int | None:
        """The last seek point at or before frame ``j``; None: the start of the file."""
        k = int(np.searchsorted(self._keyframes, j, side="right")) - 1
        return int(self._keyframes[k]) if k >= 0 else None

    @property
    def decode_counts(self) -> dict[str, int]:
        """Frames decoded, seeks made and restarts from the start of the file since opening,
        by random access and passes together (a copy)."""
        with self._counts_lock:
            return dict(self._counts)

    def _count(self, what: str, n: int = 1) -> None:
        with self._counts_lock:
            self._counts[what] += n

    def _read(self, i: int) -> np.ndarray:
        j = i * self.stride
        with self._lock:
            frame = self._cache.get_frame(j)
            if frame is not None:
                return frame
            frame = to_rgb8(self._cursor.read(j), str(self.path))
            self._cache.put(j, frame)
            return frame

    def iter_frames(self, indices: Iterable[int]) -> Iterator[tuple[int, np.ndarray]]:
        """Frames ``indices`` as ``(index, frame)`` pairs in stream order, decoded forward once.

        A decode thread with its own demuxer and a frame-threaded decoder feeds a queue of at
        most :attr:`stream_buffer` frames (the pass's memory for decoded frames); see the module
        docstring for how it moves. Each occurrence of an index comes once; the frames are
        exactly those ``source[index]`` returns. Closing the generator early stops the thread.

        Raises
        ------
        IndexError, TypeError
            An index out of range or not an int (before anything is decoded).
        FrameSourceError
            The file cannot be decoded at a requested frame.
        """
        wanted: dict[int, list[int]] = {}
        for i in indices:
            wanted.setdefault(self._check_index(i) * self.stride, []).append(int(i))
        if not wanted:
            return
        order = sorted(wanted)
        items: queue.Queue[Any] = queue.Queue(maxsize=self.stream_buffer)
        halt = threading.Event()
        worker = threading.Thread(
            target=self._stream_worker, args=(order, items, halt), daemon=True,
            name=f"decode {self.path.name}",
        )  # fmt: skip
        worker.start()
        try:
            while True:
                item = items.get()
                if item is _END:
                    return
                if isinstance(item, BaseException):
                    raise item
                j, frame = item
                for i in wanted[j]:
                    yield i, frame
        finally:
            halt.set()
            while worker.is_alive():  # unblock a worker waiting on a full queue
                with contextlib.suppress(queue.Empty):
                    items.get_nowait()
                worker.join(timeout=0.05)

    #: Decoded frames a pass may hold between its decode thread and its consumer.
    stream_buffer = 8

    def _stream_worker(
        self, order: list[int], items: queue.Queue[Any], halt: threading.Event
    ) -> None:
        """Decode the frames of ``order`` (ascending) and put them on ``items``, then _END."""

        def put(item: Any) -> bool:
            while not halt.is_set():
                try:
                    items.put(item, timeout=0.1)
                    return True
                except queue.Full:
                    continue
            return False

        try:
            container = self._av.open(str(self.path))
        except (self._av.FFmpegError, OSError, ValueError) as exc:
            put(FrameSourceError(f"cannot open video {self.path}: {exc}"))
            return
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"  # frame threads: the pass decodes on every core
        cursor = _Cursor(self, container, stream)
        try:
            for j in order:
                if halt.is_set() or not put((j, to_rgb8(cursor.read(j), str(self.path)))):
                    return
            put(_END)
        except BaseException as exc:  # handed to the consumer, raised there
            put(exc)
        finally:
            cursor.close()
            container.close()

    def close(self) -> None:
        """Close the video file."""
        with self._lock:
            self._cursor.close()
            self._container.close()


_END = object()  # the end of a pass's queue


class _Cursor:
    """A demuxer and decoder positioned in a video, numbering the frames they output.

    Moves only forward while its targets ascend: it keeps decoding when no seek point lies
    between its position and the target, else it seeks to the seek point before the target.
    """

    def __init__(self, source: VideoSource, container: Any, stream: Any) -> None:
        self.src, self.container, self.stream = source, container, stream
        self.decoder: Any = None
        self.pos: int | None = None  # number of the next frame the decoder will output
        self.seen: dict[int, int] = {}  # frames of each pts decoded since the last seek

    def read(self, j: int) -> np.ndarray:
        """Frame ``j`` (a decoded rgb24 array), exactly."""
        k = self.src._keyframe_before(j)
        if self.pos is None or not (k or 0) <= self.pos <= j:
            self.seek(k)
        frame = self.decode_to(j)
        if frame is None:
            self.src._count("restarts")
            self.seek(None)
            frame = self.decode_to(j)
        if frame is None:
            raise FrameSourceError(f"{self.src.path}: frame {j} could not be located")
        return frame

    def seek(self, k: int | None) -> None:
        """Go to seek point ``k`` (a frame number), or the start of the file for None."""
        if self.decoder is not None:
            self.decoder.close()
        self.src._count("seeks")
        if k is None:  # the very start of the file (fallback when a seek overshoots)
            self.container.seek(0)
        else:
            self.container.seek(int(self.src._pts[k]), stream=self.stream, backward=True)
        self.decoder = self.container.decode(self.stream)
        self.pos = k if k is not None else 0
        self.seen = {}

    def decode_to(self, j: int) -> np.ndarray | None:
        """Decode forward to frame ``j``; None if the decoder is already past it."""
        av = self.src._av
        try:
            for frame in self.decoder:
                self.src._count("decoded")
                fj = self.number(frame.pts)
                if fj is None:
                    continue
                self.pos = fj + 1
                if fj == j:
                    return frame.to_ndarray(format="rgb24")
                if fj > j:
                    return None
        except av.FFmpegError as exc:
            self.pos = None
            raise FrameSourceError(f"{self.src.path}: cannot decode frame {j}: {exc}") from None
        self.pos = None
        raise FrameSourceError(
            f"{self.src.path}: frame {j} of {len(self.src._pts)} could not be decoded "
            "(truncated file?)"
        )

    def number(self, pts: int | None) -> int | None:
        """The frame number of a decoded frame: the next one not yet seen of its pts."""
        first = self.src._first_of_pts.get(pts) if pts is not None else None
        if first is None:
            return None
        seen = self.seen.get(pts, 0)
        if seen >= self.src._count_of_pts[pts]:
            return None  # more frames of this pts than packets (or a numbering that skips them)
        self.seen[pts] = seen + 1
        return first + seen

    def close(self) -> None:
        """Close the decoder (the container belongs to whoever opened it)."""
        if self.decoder is not None:
            self.decoder.close()
            self.decoder = None
        self.pos = None


def _clean_keyframes(demuxed: np.ndarray, is_key: np.ndarray) -> np.ndarray:
    """Positions of the keyframes from which shared timestamps can be counted exactly.

    A keyframe at demux position ``d`` is clean when every packet before it has a smaller pts
    and none after it a smaller one (so it is the first of its pts, and no pts straddles it);
    its frame number is then ``d`` itself.
    """
    before = np.maximum.accumulate(np.concatenate([[np.iinfo(np.int64).min], demuxed[:-1]]))
    after = np.minimum.accumulate(demuxed[::-1])[::-1]  # smallest pts at or after each position
    clean = is_key & (before < demuxed) & (after >= demuxed)
    return np.flatnonzero(clean)
