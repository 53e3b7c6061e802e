"""Frame sources held in one file: video (PyAV) and multi-page TIFF (tifffile).

Both decode one frame per request; see :mod:`alges_napari.core.data.frames.base` for the shared contract.

Exact video seeking (a label must never land on the wrong frame): at open, packets are demuxed
WITHOUT decoding and their presentation timestamps (pts), sorted, define the frames; frame ``j``
is the ``j``-th smallest pts. To read it, the decoder seeks to the keyframe at or before it and
decodes forward until a frame with exactly that pts comes out. If the seek lands after the
target (inexact container indexes), decoding restarts from the start of the file. Packets the
demuxer marks "discard" (edit lists) are not frames. Files whose packets carry no timestamps
cannot be seeked exactly and are refused with advice to re-mux them.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

from alges_napari.core.data.classes import ClassSchema
from alges_napari.core.data.frames.base import FrameSource, to_rgb8
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
    """

    kind = "video"

    def __init__(
        self,
        path: str | Path,
        stride: int = 1,
        schema: ClassSchema | None = None,
        cache_size: int = 16,
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
            self._pts, self._keyframes = self._build_index(path)
            ctx = self._stream.codec_context
            shape = (int(ctx.height), int(ctx.width))
        except BaseException:
            self._container.close()
            raise
        self._frame_of_pts = {int(p): j for j, p in enumerate(self._pts)}
        self._lock = threading.Lock()
        self._cache = _LRU(cache_size)
        self._decoder: Any = None
        self._pos: int | None = None  # number of the next frame the decoder will output
        keys = [f"{path.stem}/f{j:06d}" for j in range(0, len(self._pts), int(stride))]
        super().__init__(path, keys, shape, stride, schema)

    @property
    def n_video_frames(self) -> int:
        """Frames in the file, before the stride."""
        return len(self._pts)

    def _build_index(self, path: Path) -> tuple[np.ndarray, np.ndarray]:
        """Demux (no decoding) to list frame timestamps and keyframe positions."""
        pts, key_pts = [], []
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
                if packet.is_keyframe:
                    key_pts.append(int(packet.pts))
        except self._av.FFmpegError as exc:
            raise FrameSourceError(f"video {path} is truncated or corrupt: {exc}") from None
        if not pts:
            raise FrameSourceError(f"video {path} has no frames")
        order = np.unique(np.asarray(pts, dtype=np.int64))
        if not key_pts:
            raise FrameSourceError(f"video {path} has no keyframe")
        keyframes = np.unique(np.searchsorted(order, np.asarray(key_pts, dtype=np.int64)))
        return order, keyframes

    def _keyframe_before(self, j: int) -> int:
        k = int(np.searchsorted(self._keyframes, j, side="right")) - 1
        return int(self._keyframes[max(k, 0)])

    def _seek(self, k: int | None) -> None:
        if self._decoder is not None:
            self._decoder.close()
        if k is None:  # the very start of the file (fallback when a seek overshoots)
            self._container.seek(0)
        else:
            self._container.seek(int(self._pts[k]), stream=self._stream, backward=True)
        self._decoder = self._container.decode(self._stream)
        self._pos = k if k is not None else 0

    def _decode_to(self, j: int) -> np.ndarray | None:
        """Decode forward to frame ``j``; None if the decoder is already past it."""
        try:
            for frame in self._decoder:
                fj = self._frame_of_pts.get(frame.pts) if frame.pts is not None else None
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

    def _read(self, i: int) -> np.ndarray:
        j = i * self.stride
        with self._lock:
            frame = self._cache.get_frame(j)
            if frame is not None:
                return frame
            k = self._keyframe_before(j)
            # Keep decoding forward when no keyframe lies between the decoder and the target:
            # sequential reads then cost one decode each instead of a seek.
            if self._pos is None or not k <= self._pos <= j:
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
