"""Frame sources: image folders, CholecSeg8k trees, video files and TIFF stacks, read lazily.

Every source has a length, a stable unique string key per frame, a frame size and random access
that decodes ONE frame on demand (nothing reads the whole set into memory). Frames come out as
uint8 (H, W, 3) RGB: grey is replicated, alpha is dropped (not composited), 16-bit data is scaled
by 1/257 (65535 -> 255, a fixed scale so brightness does not flicker from frame to frame), floats
are taken as 0..1 when their maximum is <= 1, else as 0..255.

Keys: the path relative to the root without its suffix (``video01/video01_00080/frame_80_endo``)
for folders and trees; ``<file stem>/f000123`` (the frame's number in the file, stride or not)
for videos and TIFF stacks. Folders are read flat unless ``recursive=True``; two files with one
stem (``a.png`` and ``a.jpg``) would share a key and are refused.

Bad files in folders: at open every file's header is read and, for PNG/JPEG/BMP, its end is
checked (PNG ``IEND``, JPEG ``EOI``, BMP declared size), which catches truncated files cheaply.
Such files are left out with one warning listing them; the keys of the others do not depend on
when a file is read. Hidden files (``.name``, e.g. macOS ``._frame.png``) are ignored, and so
is every folder that holds an alges project (:data:`PROJECT_MARKER`): a project created inside
the folder of its own frames must not read its label PNGs as new frames. A file
that passes these checks but still fails to decode raises :class:`FrameSourceError` naming it
when it is read (its key stays in place). Mixed frame sizes are an error.

Videos (PyAV) are indexed once at open by demuxing packets without decoding (their presentation
timestamps, sorted, are the frames); frame ``i`` is found by seeking to the keyframe before it and
decoding forward to its exact timestamp, so random access returns the very frame a sequential
decode would. A decoder stays positioned for sequential reads and a small LRU cache holds recent
frames. Passes over many frames ask :meth:`FrameSource.iter_frames`, which a video answers in
stream order with one forward decode.

Frames are read by key with :meth:`FrameSource.frame` (ground truth with
:meth:`FrameSource.truth`), and a pass over a key list iterates :meth:`FrameSource.keyed`, a
view that keeps the source's stream order; a key the source does not list raises
:class:`~alges_napari.core.errors.FrameKeyError`. Image folders and CholecSeg8k trees live in
:mod:`alges_napari.core.data.frames.folder`, videos in :mod:`alges_napari.core.data.frames.video`
and TIFF stacks in :mod:`alges_napari.core.data.frames.tiff`.
"""

from __future__ import annotations

import abc
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from alges_napari.core.data.classes import ClassSchema
from alges_napari.core.data.frames.stream import KeyedFrames, KeyReader
from alges_napari.core.errors import FrameKeyError, FrameSourceError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv")
TIFF_SUFFIXES = (".tif", ".tiff")
# Ground truth beside a CholecSeg8k frame, in order of preference (see CholecSeg8kSource).
GT_SUFFIXES = (
    ("_watershed_mask.png", "watershed"),
    ("_color_mask.png", "color"),
    ("_mask.png", "auto"),
)


#: The file that makes a folder an alges project (its config); such a folder never holds frames.
PROJECT_MARKER = "alges_project.json"


class FrameWarning(UserWarning):
    """Some files of a frame source were left out (unreadable or truncated)."""


def natural_key(text: str) -> list[Any]:
    """Sort key putting "frame_2" before "frame_10" (digit runs compare as numbers)."""
    return [(0, int(t), "") if t.isdigit() else (1, 0, t.lower()) for t in re.split(r"(\d+)", text)]


def to_rgb8(array: np.ndarray, name: str = "image") -> np.ndarray:
    """Convert a decoded image to uint8 (H, W, 3) RGB (see the module docstring for the rules)."""
    a = np.asarray(array)
    if a.ndim == 3 and a.shape[0] in (3, 4) and a.shape[-1] not in (3, 4):
        a = np.moveaxis(a, 0, -1)  # planar (C, H, W) TIFF pages
    if a.ndim == 3 and a.shape[-1] in (1, 2):
        a = a[..., 0]  # grey (+ alpha)
    if a.ndim == 2:
        a = np.repeat(a[..., None], 3, axis=2)
    if a.ndim != 3 or a.shape[-1] not in (3, 4):
        raise FrameSourceError(f"{name}: cannot make an RGB frame from shape {a.shape}")
    a = a[..., :3]
    if a.dtype == np.uint8:
        return np.ascontiguousarray(a)
    if a.dtype == np.bool_:
        return a.astype(np.uint8) * 255
    if a.dtype.kind in "ui":
        top = int(a.max(initial=0))
        if a.dtype.itemsize == 2 or 255 < top <= 65535:
            # 16-bit data (Pillow may hand it over as int32): the fixed 65535 -> 255 scale.
            a = a.astype(np.float64) / 257.0
        elif top > 65535:  # wider integers: only their own maximum gives a scale
            a = a.astype(np.float64) * (255.0 / top)
        return np.clip(np.rint(a), 0, 255).astype(np.uint8)
    if a.dtype.kind == "f":
        top = 255.0 if np.nanmax(a) > 1.0 else 1.0
        return np.clip(np.rint(np.nan_to_num(a) * (255.0 / top)), 0, 255).astype(np.uint8)
    raise FrameSourceError(f"{name}: unsupported pixel type {a.dtype}")


class FrameSource(abc.ABC):
    """A sequence of RGB frames with stable string keys, decoded one at a time on demand."""

    kind = "abstract"

    def __init__(
        self, path: Path, keys: list[str], shape: tuple[int, int], stride: int, schema: Any
    ) -> None:
        self.path = Path(path)
        self.stride = int(stride)
        self.schema: ClassSchema | None = schema
        self._keys = list(keys)
        self._shape = (int(shape[0]), int(shape[1]))
        self._index = {k: i for i, k in enumerate(self._keys)}
        if len(self._index) != len(self._keys):
            dup = [k for k, n in Counter(self._keys).items() if n > 1][:5]
            raise FrameSourceError(f"{self.path}: duplicate frame keys {dup}")

    def __len__(self) -> int:
        return len(self._keys)

    @property
    def keys(self) -> list[str]:
        """Frame keys in source order (a list owned by the source: do not modify it)."""
        return self._keys

    @property
    def shape(self) -> tuple[int, int]:
        """Frame size (H, W)."""
        return self._shape

    @property
    def name(self) -> str:
        """A short display name (the file or folder name)."""
        return self.path.name

    @property
    def groups(self) -> list[str]:
        """The group (video or clip) of each frame, in source order: the key's first folder,
        ``""`` for keys without one. Held-out splits and video-aware strategies use it."""
        return [k.split("/", 1)[0] if "/" in k else "" for k in self._keys]

    @property
    def has_ground_truth(self) -> bool:
        """True when at least one frame has a ground-truth mask."""
        return False

    def _check_index(self, i: Any) -> int:
        if not isinstance(i, int | np.integer) or isinstance(i, bool):
            raise TypeError(f"frame index must be an int, got {type(i).__name__}")
        n = len(self._keys)
        j = int(i) + n if i < 0 else int(i)
        if not 0 <= j < n:
            raise IndexError(f"frame {i} out of range for {n} frames of {self.path}")
        return j

    def __getitem__(self, i: int) -> np.ndarray:
        """Decode frame ``i`` as uint8 (H, W, 3) RGB."""
        return self._read(self._check_index(i))

    def __iter__(self) -> Any:
        for i in range(len(self)):
            yield self[i]

    @abc.abstractmethod
    def _read(self, i: int) -> np.ndarray: ...

    def iter_frames(self, indices: Iterable[int]) -> Iterator[tuple[int, np.ndarray]]:
        """Frames ``indices`` as ``(index, frame)`` pairs, in the order cheapest for the source.

        For passes over many frames (scoring, the pool cache): each occurrence of an index
        comes exactly once, with the frame ``source[index]`` returns. This default reads them
        in the order given by random access; a video decodes them in stream order, forward once
        (:meth:`~alges_napari.core.data.frames.video.VideoSource.iter_frames`).
        """
        for i in indices:
            yield int(i), self[i]

    def index_of(self, key: str) -> int:
        """Return the position of frame ``key``; :class:`FrameKeyError` when it is not listed.

        Only for what needs a position (a viewer's slider, a clip's neighbours, a cache row):
        frames and ground truth are read by key with :meth:`frame` and :meth:`truth`.
        """
        try:
            return self._index[key]
        except (KeyError, TypeError):  # TypeError: an unhashable "key" is not listed either
            raise FrameKeyError(key, self.path) from None

    def __contains__(self, key: object) -> bool:
        """True when ``key`` is one of the source's frame keys (not a frame array)."""
        try:
            return key in self._index
        except TypeError:  # unhashable, e.g. an array: never a key
            return False

    def frame(self, key: str) -> np.ndarray:
        """Decode frame ``key`` as uint8 (H, W, 3) RGB.

        Parameters
        ----------
        key : str
            One of :attr:`keys`.

        Returns
        -------
        numpy.ndarray
            The frame ``source[source.index_of(key)]`` returns.

        Raises
        ------
        FrameKeyError
            ``key`` is not in the source (the message names the key and the source).
        """
        return self[self.index_of(key)]

    def truth(self, key: str) -> np.ndarray | None:
        """Frame ``key``'s ground truth as uint8 (H, W) class ids (255 = ignore), or None.

        The by-key form of :meth:`ground_truth`: None for a source without ground truth and for
        a frame of a labelled source that has no mask.

        Raises
        ------
        FrameKeyError
            ``key`` is not in the source.
        """
        return self.ground_truth(self.index_of(key))

    def keyed(self, keys: Sequence[str]) -> KeyedFrames:
        """The frames of ``keys``, in that order, as a sequence decoded on demand.

        ``view[j]`` is ``source.frame(keys[j])``; ``view.iter_frames(indices)`` reads the frames
        in the order cheapest for the source (a video: forward in stream order, each frame
        once), which is how the scoring pass iterates a view.

        Parameters
        ----------
        keys : sequence of str
            Keys of this source (a key may repeat).

        Raises
        ------
        FrameKeyError
            A key is not in the source: checked here, so a pass never fails halfway.
        """
        keys = list(keys)
        for key in keys:
            self.index_of(key)
        return KeyedFrames(KeyReader(self), keys)

    def ground_truth(self, i: int) -> np.ndarray | None:
        """Return frame ``i``'s ground truth as uint8 (H, W) class ids (255 = ignore), or None."""
        self._check_index(i)
        return None

    def describe(self) -> dict[str, Any]:
        """Return a JSON-able dict that :func:`open_frames_from_config` reopens."""
        out: dict[str, Any] = {
            "type": self.kind,
            "path": str(self.path.resolve()),
            "stride": self.stride,
            "n_frames": len(self),
            "shape": list(self.shape),  # lets a project check label sizes without its frames
        }
        if self.schema is not None:
            out["schema"] = self.schema.to_json()
        return out

    def close(self) -> None:  # noqa: B027 - sources with no open file need no override
        """Release open files (a no-op for folders)."""

    def __enter__(self) -> FrameSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        h, w = self.shape
        return f"{type(self).__name__}({str(self.path)!r}, {len(self)} frames of {w}x{h})"
