"""Files of a project folder: key <-> path mapping, index PNG codec, the write lock, the cache.

See :mod:`alges_napari.core.project.project` for the folder layout; this module holds the pieces that
touch files directly, so the project class can stay about statuses and state.

Frame keys may contain ``/`` (a CholecSeg8k key is ``video01/video01_00080/frame_80_endo``). Such
keys are mirrored as sub-folders: ``labels/video01/video01_00080/frame_80_endo.png``, so the label
tree reads like the source tree. Inside each path component, characters other than letters,
digits and ``_.-~`` are percent-escaped (``%`` itself included), and the components ``.`` and
``..`` become ``%2E`` and ``%2E%2E``; the mapping is therefore reversible and never leaves
``labels/``. Keys that differ only by letter case collide on case-insensitive file systems.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import io
import os
import shutil
import time
from pathlib import Path, PurePosixPath
from urllib.parse import quote, unquote

import numpy as np

from alges_napari.core.atomic import atomic_write_bytes
from alges_napari.core.errors import ProjectError, ProjectLockedError

CONFIG_FILE = "alges_project.json"
STATE_FILE = "state.json"
LOCK_FILE = ".alges.lock"
LABELS_DIR = "labels"
MODELS_DIR = "models"
CACHE_DIR = "cache"


def key_to_relpath(key: str) -> PurePosixPath:
    """Map a frame key to its relative path (without suffix) inside ``labels/`` or ``cache/``.

    Raises
    ------
    ProjectError
        When the key is empty or has an empty ``/``-separated component.
    """
    parts = key.split("/")
    if not key or any(p == "" for p in parts):
        raise ProjectError(f"frame key {key!r} is empty or has an empty path component")
    escaped = []
    for part in parts:
        q = quote(part, safe="")
        # "." and ".." survive quote() unchanged and would walk the tree: escape them.
        escaped.append(q.replace(".", "%2E") if set(q) == {"."} else q)
    return PurePosixPath(*escaped)


def relpath_to_key(rel: PurePosixPath | str) -> str:
    """Inverse of :func:`key_to_relpath` (the suffix must already be removed)."""
    return "/".join(unquote(p) for p in PurePosixPath(rel).parts)


def encode_index_png(mask: np.ndarray, compress_level: int = 6) -> bytes:
    """Encode a uint8 (H, W) index mask as a lossless greyscale PNG (zlib level 0-9)."""
    from PIL import Image  # local: keeps `import project` cheap for the fault-injection child

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(mask, dtype=np.uint8), mode="L").save(
        buf, format="PNG", compress_level=compress_level
    )
    return buf.getvalue()


def decode_index_png(path: Path) -> np.ndarray:
    """Read an index PNG written by :func:`encode_index_png` as a uint8 (H, W) array."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            arr = np.asarray(im)
    except (OSError, ValueError) as exc:
        raise ProjectError(f"cannot read mask {path}: {exc}") from exc
    if arr.ndim != 2 or arr.dtype != np.uint8:
        raise ProjectError(f"{path} is not a single-channel 8-bit index PNG")
    return arr


def now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


# ---------------------------------------------------------------- locking


def lock_project(root: Path) -> int:
    """Take the exclusive write lock; the OS drops it when the process dies."""
    path = root / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise ProjectError(f"cannot create lock file {path}: {exc.strerror or exc}") from exc
    try:
        if os.name == "posix":
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        else:  # pragma: no cover - Windows
            import msvcrt

            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
    except OSError as exc:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() if os.name == "posix" else ""
        os.close(fd)
        who = f" (process {holder})" if holder else ""
        raise ProjectLockedError(
            f"project {root} is open for writing by another process{who}; "
            "close it there or open this one read-only"
        ) from exc
    # The pid is only a courtesy for the message above. It is written in place, not through
    # atomic.py: replacing the lock file would give it a new inode and silently drop the lock.
    with contextlib.suppress(OSError):
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


def remove_stale_temporaries(root: Path) -> None:
    # A process killed inside atomic_write_bytes leaves ".<name>.<random>.tmp" behind.
    for sub in (LABELS_DIR, MODELS_DIR, CACHE_DIR, "."):
        base = root / sub
        pattern = ".*.tmp" if sub == "." else "**/.*.tmp"
        for tmp in base.glob(pattern) if base.is_dir() else ():
            with contextlib.suppress(OSError):
                tmp.unlink()


def heat_to_uint8(heat: np.ndarray) -> np.ndarray:
    """Scale a heat map to uint8 (its maximum -> 255); uint8 maps pass unchanged."""
    if heat.dtype == np.uint8:
        return heat
    heat = np.nan_to_num(heat.astype(np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    top = float(heat.max()) if heat.size else 0.0
    return (
        np.zeros(heat.shape, np.uint8) if top <= 0 else np.round(heat / top * 255).astype(np.uint8)
    )


def scan_labels(labels_dir: Path) -> set[str]:
    """Keys of every label PNG under ``labels_dir`` (temporary files skipped)."""
    found = set()
    for path in labels_dir.rglob("*.png"):
        if not path.name.startswith("."):
            found.add(relpath_to_key(path.relative_to(labels_dir).with_suffix("").as_posix()))
    return found


def makedirs(directory: Path) -> None:
    """``mkdir -p`` that raises ProjectError naming the folder."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ProjectError(f"cannot create {directory}: {exc.strerror or exc}") from exc


class FrameCache:
    """Per-frame predictions and heat maps of the last scoring pass, as PNGs under ``root``.

    ``root/pred/<key>.png`` holds the predicted class indices, ``root/heat/<key>.png`` the heat
    map scaled to 0-255. Writes are atomic (a reader never sees half a PNG); anything missing or
    damaged reads as None, because the cache may be deleted at any time.
    """

    def __init__(self, root: Path):
        self.root = root

    def path(self, kind: str, key: str) -> Path:
        """File of ``kind`` ("pred" or "heat") for ``key``."""
        return self.root / kind / f"{key_to_relpath(key)}.png"

    def clear(self) -> None:
        """Delete every cached entry."""
        shutil.rmtree(self.root, ignore_errors=True)
        makedirs(self.root)

    def write(self, key: str, prediction: np.ndarray, heat: np.ndarray | None = None) -> None:
        """Store a frame's predicted mask and (optionally) its heat map."""
        items = [("pred", np.asarray(prediction, dtype=np.uint8))]
        if heat is not None:
            items.append(("heat", heat_to_uint8(np.asarray(heat))))
        for kind, arr in items:
            path = self.path(kind, key)
            makedirs(path.parent)
            # Fast zlib level: the cache is rewritten every round and read once per frame.
            atomic_write_bytes(path, encode_index_png(arr, compress_level=1))

    def read(self, kind: str, key: str) -> np.ndarray | None:
        """The cached array of ``kind`` for ``key``, or None."""
        path = self.path(kind, key)
        if not path.is_file():
            return None
        try:
            return decode_index_png(path)
        except ProjectError:
            return None  # a damaged entry is just a miss


class CheckpointFolder:
    """The newest ``round_*.safetensors`` of a ``models/`` folder, listed only when it changed.

    The widget asks for the latest checkpoint on every refresh; one ``stat`` of the folder
    replaces a listing of it, unless the folder's modification time moved (a checkpoint was
    written, even by hand) or :meth:`forget` was called (a round was recorded).
    """

    def __init__(self, root: Path):
        self.root = root
        self._known: tuple[int, Path | None] | None = None  # (folder mtime, newest checkpoint)

    def forget(self) -> None:
        """List the folder again at the next :meth:`latest`."""
        self._known = None

    def latest(self) -> Path | None:
        """The newest checkpoint (by round number), or None."""
        try:
            stamp: int | None = self.root.stat().st_mtime_ns
        except OSError:
            stamp = None
        known = self._known
        if known is not None and known[0] == stamp:
            return known[1]
        listed_at = time.time_ns()
        found = sorted(self.root.glob("round_*.safetensors"))
        newest = found[-1] if found else None
        # File-system clocks tick coarsely: a file added within the same tick as the change we
        # listed would leave the folder's time as it was. Trust a listing once that tick is past.
        if stamp is not None and listed_at - stamp > 1_000_000_000:
            self._known = (stamp, newest)
        else:
            self._known = None
        return newest
