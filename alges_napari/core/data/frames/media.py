"""Frame sources held in one file: video (PyAV) and multi-page TIFF (tifffile).

Both decode one frame per request; see :mod:`alges_napari.core.data.frames.base` for the shared contract.

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
"""

from __future__ import annotations

import threading
import warnings
from collections import OrderedDict
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
        self._seen: dict[int, int] = {}  # frames of each pts decoded since the last seek
        self._lock = threading.Lock()
        self._cache = _LRU(cache_size)
        self._decoder: Any = None
        self._pos: int | None = None  # number of the next frame the decoder will output
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

    def _seek(self, k: int | None) -> None:
        if self._decoder is not None:
            self._decoder.close()
        if k is None:  # the very start of the file (fallback when a seek overshoots)
            self._container.seek(0)
        else:
            self._container.seek(int(self._pts[k]), stream=self._stream, backward=True)
        self._decoder = self._container.decode(self._stream)
        self._pos = k if k is not None else 0
        self._seen = {}

    def _decode_to(self, j: int) -> np.ndarray | None:
        """Decode forward to frame ``j``; None if the decoder is already past it."""
        try:
            for frame in self._decoder:
                fj = self._number(frame.pts)
                if fj is None:
                    continue
                self._pos = fj + 1
                if fj == j:
                    return frame.to_ndarray(format="rgb24")
                if fj > j:
                    return None
        except self._av.FFmpegError as exc:
            self._pos = None
            raise FrameSourceError(f"{self.path}: cannot decode frame {j}: {exc}") from None
        self._pos = None
        raise FrameSourceError(
            f"{self.path}: frame {j} of {len(self._pts)} could not be decoded (truncated file?)"
        )

    def _number(self, pts: int | None) -> int | None:
        """The frame number of a decoded frame: the next one not yet seen of its pts."""
        first = self._first_of_pts.get(pts) if pts is not None else None
        if first is None:
            return None
        seen = self._seen.get(pts, 0)
        if seen >= self._count_of_pts[pts]:
            return None  # more frames of this pts than packets (or a numbering that skips them)
        self._seen[pts] = seen + 1
        return first + seen

    def _read(self, i: int) -> np.ndarray:
        j = i * self.stride
        with self._lock:
            frame = self._cache.get_frame(j)
            if frame is not None:
                return frame
            k = self._keyframe_before(j)
            # Keep decoding forward when no keyframe lies between the decoder and the target:
            # sequential reads then cost one decode each instead of a seek.
            if self._pos is None or not (k or 0) <= self._pos <= j:
                self._seek(k)
            frame = self._decode_to(j)
            if frame is None:
                self._seek(None)
                frame = self._decode_to(j)
            if frame is None:
                raise FrameSourceError(f"{self.path}: frame {j} could not be located")
            frame = to_rgb8(frame, str(self.path))
            self._cache.put(j, frame)
            return frame

    def close(self) -> None:
        """Close the video file."""
        with self._lock:
            if self._decoder is not None:
                self._decoder.close()
                self._decoder = None
            self._container.close()
            self._pos = None


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


class TiffStackSource(FrameSource):
    """Frames stored as the pages of a TIFF file, read one page at a time.

    Supported layouts (tifffile axes): ``YX``, ``YXS``, ``SYX`` (one frame) and the same with
    one leading frame axis (``IYX``, ``TYXS``, ...). Other hyperstacks are refused.
    Keys are ``<stem>/f<frame number>``.
    """

    kind = "tiff"

    def __init__(self, path: str | Path, stride: int = 1, schema: ClassSchema | None = None):
        import tifffile

        path = Path(path)
        try:
            self._tif = tifffile.TiffFile(path)
            series = self._tif.series[0]
            axes, shape = series.axes, tuple(series.shape)
        except (tifffile.TiffFileError, OSError, ValueError, IndexError) as exc:
            raise FrameSourceError(f"cannot read TIFF {path}: {exc}") from None
        leading = axes.replace("Y", "").replace("X", "").replace("S", "")
        if "Y" not in axes or "X" not in axes or len(leading) > 1 or (leading and axes[0] in "YXS"):
            self._tif.close()
            raise FrameSourceError(
                f"{path}: unsupported TIFF layout (axes {axes}, shape {shape}); "
                "save one frame per page"
            )
        self._stacked = bool(leading)
        n = shape[0] if self._stacked else 1
        if n == 0:
            self._tif.close()
            raise FrameSourceError(f"TIFF {path} holds no frames")
        self._pages_ok = len(series.pages) == n and all(p is not None for p in series.pages[:1])
        self._memmap: np.ndarray | None = None
        self._lock = threading.Lock()
        hw = (shape[axes.index("Y")], shape[axes.index("X")])
        keys = [f"{path.stem}/f{j:06d}" for j in range(0, n, int(stride))]
        super().__init__(path, keys, hw, stride, schema)

    def _page(self, j: int) -> np.ndarray:
        if not self._stacked:
            return self._tif.series[0].asarray()
        if self._pages_ok:
            return self._tif.asarray(key=j, series=0)
        if self._memmap is None:
            # Contiguous stacks (ImageJ) index only their first page: map the file instead.
            import tifffile

            self._memmap = tifffile.memmap(self.path, mode="r")
        return np.asarray(self._memmap[j])

    def _read(self, i: int) -> np.ndarray:
        j = i * self.stride
        with self._lock:
            try:
                page = self._page(j)
            except (OSError, ValueError, IndexError) as exc:
                raise FrameSourceError(f"{self.path}: cannot read frame {j}: {exc}") from None
        return to_rgb8(page, f"{self.path} frame {j}")

    def close(self) -> None:
        """Close the TIFF file."""
        with self._lock:
            self._memmap = None
            self._tif.close()
