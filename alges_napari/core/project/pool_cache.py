"""``pool_cache/``: every frame of a recording at the model's input size, so that later rounds
read no video at all.

Derived data, not state: the cache is a copy of the frames, resized, that any pass can rebuild
from the source. It never goes through the project's write gate (which guards the state:
labels, queue, rounds) and never holds anything the user made, so it may be deleted at any
time; a missing, stale or damaged cache is simply rebuilt by the next pass that may build it.

Layout, one cache per input size ``h x w``::

    pool_cache/pool_<h>x<w>.json            the manifest: the source's identity, the file, its size
    pool_cache/pool_<h>x<w>_<token>.npy     (N, h, w, 3) uint8; row i is source frame i resized

The identity is the source's kind, resolved path, file size and modification time (ns), its
frame count, stride, frame shape and timestamp numbering, plus the input size: change any of
them (re-encode or touch the file, another stride, another input size) and the cache is
rebuilt. Only single-file sources (videos, TIFF stacks) are cached: a folder's identity would
need a stat of every file, and reading a PNG is cheap next to decoding a GOP.

Frames are resized exactly as training resizes them (``train.make_samples``: bilinear,
antialiased, rounded to uint8), so training and scoring see the same pixels, in round 1 (built
on the way) and every later round (read from the cache) alike.

Building: the first pass that may build it (the scoring pass over the pool) decodes ALL the
source's frames in stream order (one forward decode, :meth:`~alges_napari.core.data.frames.
base.FrameSource.iter_frames`), hands the ones it asked for on as they come, and writes each
row to a hidden temporary file as it goes (never held in memory). When the last frame is
written the temporary becomes the ``.npy`` through :func:`alges_napari.core.atomic.
atomic_write_with` (fsync, rename, fsync of the folder), the manifest is written last
(atomically), and the previous cache file of that size is removed: a reader sees the old
cache or the new one. A pass cut short leaves no cache (its temporary is removed); a disk
that cannot take the cache leaves the pass reading the video, with a warning in the log.

Memory: rows are written as they come and read one at a time with ``pread``
(:class:`CachedRows`), so the cache costs the process no resident memory beyond the rows in use.

Size: ``N * h * w * 3`` bytes plus a 128-byte header (600 frames at 128x224: 51.6 MB; an
hour at 1 frame per second, 3,600 frames: 310 MB). :meth:`PoolCache.status` states it, and
the build logs it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from alges_napari.core.atomic import atomic_write_json, atomic_write_with
from alges_napari.core.data.frames.base import FrameSource
from alges_napari.core.data.frames.stream import positions_by_index
from alges_napari.core.errors import AlgesError

log = logging.getLogger(__name__)

#: The folder of the pool cache inside a project.
POOL_CACHE_DIR = "pool_cache"


def resize_frame(frame: np.ndarray, size: Sequence[int]) -> np.ndarray:
    """``frame`` (uint8 H x W x 3) at ``size`` (h, w), as ``train.make_samples`` resizes it."""
    h, w = int(size[0]), int(size[1])
    img = torch.from_numpy(np.ascontiguousarray(frame, dtype=np.uint8)).permute(2, 0, 1)[None]
    img = img.float()
    if tuple(img.shape[-2:]) != (h, w):
        img = F.interpolate(img, size=(h, w), mode="bilinear", antialias=True, align_corners=False)
    return img.round().clamp(0, 255).to(torch.uint8)[0].permute(1, 2, 0).contiguous().numpy()


def source_identity(source: FrameSource) -> dict[str, Any] | None:
    """What a cache of ``source`` is valid for; None when the source is not one file."""
    path = Path(source.path)
    if not path.is_file():
        return None
    st = path.stat()
    return {
        "kind": source.kind,
        "path": str(path.resolve()),
        "bytes": int(st.st_size),
        "mtime_ns": int(st.st_mtime_ns),
        "n_frames": len(source),
        "stride": int(source.stride),
        "shape": list(source.shape),
        "timestamps": source.describe().get("timestamps"),
    }


class PoolCache:
    """The pool cache of one source at one input size, in ``project_root/pool_cache/``.

    Parameters
    ----------
    project_root : path-like
        The project folder.
    source : FrameSource
        The project's frames.
    input_size : (int, int)
        The model's input size (h, w).
    """

    def __init__(self, project_root: str | Path, source: FrameSource, input_size: Sequence[int]):
        self.folder = Path(project_root) / POOL_CACHE_DIR
        self.source = source
        self.size = (int(input_size[0]), int(input_size[1]))
        base = source_identity(source)
        self.identity = None if base is None else {**base, "input_size": list(self.size)}
        self.manifest = self.folder / f"pool_{self.size[0]}x{self.size[1]}.json"

    @property
    def cacheable(self) -> bool:
        """True when the source can be cached (one file)."""
        return self.identity is not None

    def _read_manifest(self) -> dict[str, Any] | None:
        try:
            return json.loads(self.manifest.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def open(self) -> CachedRows | None:
        """The cached frames (N x h x w x 3 rows read on demand), or None when there is no
        valid cache for this source and input size."""
        if self.identity is None:
            return None
        manifest = self._read_manifest()
        if not manifest or manifest.get("identity") != self.identity:
            return None
        try:
            rows = CachedRows(self.folder / str(manifest.get("file")))
        except (OSError, ValueError):
            return None  # removed or damaged: rebuilt by the next pass
        if rows.shape == (len(self.source), *self.size, 3):
            return rows
        rows.close()
        return None

    def status(self) -> str:
        """One line for a log or status panel: what is cached and its size on disk."""
        if self.identity is None:
            return f"pool cache: not used for {self.source.kind} sources (frames read directly)"
        manifest, rows = self._read_manifest(), self.open()
        if rows is None or manifest is None:
            return f"pool cache: none yet at {self.size[0]}x{self.size[1]} (built by the next pass)"
        rows.close()
        return (
            f"pool cache: {manifest['frames']} frames at {self.size[0]}x{self.size[1]}, "
            f"{manifest['bytes'] / 1e6:.1f} MB on disk ({POOL_CACHE_DIR}/{manifest['file']})"
        )

    def build(self, wanted: dict[int, list[int]]) -> Iterator[tuple[int, np.ndarray]]:
        """Decode every frame once in stream order, write the cache, and yield
        ``(position, frame at the input size)`` for the positions ``wanted`` asks for
        (``{source index: [positions]}``). The cache exists only once this is exhausted."""
        n, (h, w) = len(self.source), self.size
        writer = _Writer(self.folder, f"pool_{h}x{w}", (n, h, w, 3))
        written = 0
        frames = self.source.iter_frames(range(n))
        try:
            for i, frame in frames:
                small = resize_frame(frame, self.size)
                written += writer.put(i, small)
                for pos in wanted.get(i, ()):
                    yield pos, small
        finally:
            close = getattr(frames, "close", None)
            if close is not None:
                close()
            path = writer.finish(complete=written == n)
        if path is not None:
            self._commit(path)

    def _commit(self, path: Path) -> None:
        """Write the manifest naming ``path`` (last), then drop older caches of this size."""
        size = path.stat().st_size
        atomic_write_json(
            self.manifest,
            {"identity": self.identity, "file": path.name, "frames": len(self.source), "bytes": size},
        )
        stem = self.manifest.stem
        for old in self.folder.glob(f"{stem}_*.npy"):
            if old.name != path.name:
                with contextlib.suppress(OSError):
                    old.unlink()
        log.info("%s", self.status())


class CachedRows:
    """The rows of a cache file, each read from disk when asked for (``rows[i]``, a new array).

    Read with ``pread`` rather than a memory map: mapped pages count in the process's resident
    memory for as long as the map lives (310 MB for an hour at 1 frame/s, 128x224), read
    pages stay in the OS's page cache only, which it may drop.
    """

    def __init__(self, path: Path) -> None:
        with open(path, "rb") as fh:
            version = np.lib.format.read_magic(fh)
            if version != (1, 0):
                raise ValueError(f"{path}: unexpected .npy version {version}")
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
            self.offset = fh.tell()
        if fortran or dtype != np.uint8 or len(shape) != 4:
            raise ValueError(f"{path}: not a cache of uint8 frames")
        self.path, self.shape, self.dtype = path, tuple(shape), np.dtype(np.uint8)
        self.row = int(np.prod(shape[1:]))
        if path.stat().st_size != self.offset + self.row * shape[0]:
            raise ValueError(f"{path}: truncated")
        self._fd: int | None = os.open(path, os.O_RDONLY)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, i: int) -> np.ndarray:
        if self._fd is None:
            raise ValueError(f"{self.path} is closed")
        if not 0 <= int(i) < self.shape[0]:
            raise IndexError(f"row {i} out of range for {self.shape[0]} cached frames")
        data = os.pread(self._fd, self.row, self.offset + int(i) * self.row)
        if len(data) != self.row:
            raise OSError(f"{self.path}: short read at row {i}")
        return np.frombuffer(data, np.uint8).reshape(self.shape[1:]).copy()

    def close(self) -> None:
        """Close the file."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()


class _Writer:
    """Rows of a ``.npy`` written one at a time into a hidden temporary, made final at once."""

    def __init__(self, folder: Path, stem: str, shape: tuple[int, ...]) -> None:
        self.folder, self.shape = folder, shape
        self.final = folder / f"{stem}_{secrets.token_hex(4)}.npy"
        self.row = int(np.prod(shape[1:]))
        self.tmp = folder / f".{self.final.name}.building.tmp"
        self.fh: Any = None
        try:
            folder.mkdir(parents=True, exist_ok=True)
            for stale in folder.glob(".*.tmp"):  # a pass killed while building
                with contextlib.suppress(OSError):
                    stale.unlink()
            self.fh = open(self.tmp, "wb")  # noqa: SIM115 - closed in finish()
            header = {"descr": "|u1", "fortran_order": False, "shape": shape}
            np.lib.format.write_array_header_1_0(self.fh, header)
            self.offset = self.fh.tell()
        except OSError as exc:
            self._fail(exc)

    def put(self, i: int, row: np.ndarray) -> int:
        """Write row ``i``; 1 when written, 0 when the cache is being given up."""
        if self.fh is None:
            return 0
        try:
            self.fh.seek(self.offset + i * self.row)
            self.fh.write(row.tobytes())
            return 1
        except OSError as exc:
            self._fail(exc)
            return 0

    def _fail(self, exc: OSError) -> None:
        log.warning("pool cache not written in %s (%s): this pass reads the video", self.folder, exc)
        self._close()

    def _close(self) -> None:
        if self.fh is not None:
            with contextlib.suppress(OSError):
                self.fh.close()
            self.fh = None
        with contextlib.suppress(OSError):
            self.tmp.unlink()

    def finish(self, complete: bool) -> Path | None:
        """Make the temporary the final file when every row was written; else remove it."""
        if self.fh is None or not complete:
            self._close()
            return None
        try:
            self.fh.close()
            self.fh = None
            atomic_write_with(self.final, lambda tmp: os.replace(self.tmp, tmp))
            return self.final
        except (OSError, AlgesError) as exc:  # atomic_write_with raises AlgesError
            log.warning("pool cache not written in %s (%s)", self.folder, exc)
            self._close()
            return None


class PoolFrames:
    """``frame_of`` for rounds on one source: frames at the model's input size, from the cache.

    ``reader(key)`` returns one frame (from the cache when valid, else read and resized);
    ``reader.iter_keys(keys)`` streams many: from the cache when valid, else by building it
    (``build=True``: one forward decode of the whole source, the cache ready afterwards), else
    in the source's stream order. ``frame_size`` is the source's frame size, which the scoring
    pass emits predictions at (see :func:`~alges_napari.core.acquire.scoring.iter_score`).

    Parameters
    ----------
    cache : PoolCache
        The cache to read and build.
    build : bool
        Whether :meth:`iter_keys` builds a missing cache (the pool's pass does; a pass over a
        few validation frames does not).
    """

    def __init__(self, cache: PoolCache, build: bool = True) -> None:
        self.cache, self.build = cache, bool(build)
        self.source = cache.source
        self.frame_size = cache.source.shape

    def __call__(self, key: str) -> np.ndarray:
        i = self.source.index_of(key)
        rows = self.cache.open()
        if rows is None:
            return resize_frame(self.source[i], self.cache.size)
        try:
            return rows[i]
        finally:
            rows.close()

    def iter_keys(self, keys: Sequence[str]) -> Iterator[tuple[int, np.ndarray]]:
        """``(position in keys, frame at the input size)`` for every key (see the class)."""
        wanted = positions_by_index(self.source, keys)
        rows = self.cache.open()
        if rows is not None:
            try:
                for i in sorted(wanted):  # file order: the cache is read front to back
                    frame = rows[i]
                    for pos in wanted[i]:
                        yield pos, frame
            finally:
                rows.close()
            return
        if self.build and self.cache.cacheable:
            yield from self.cache.build(wanted)
            return
        frames = self.source.iter_frames(list(wanted))
        try:
            for i, frame in frames:
                small = resize_frame(frame, self.cache.size)
                for pos in wanted[i]:
                    yield pos, small
        finally:
            close = getattr(frames, "close", None)
            if close is not None:
                close()
