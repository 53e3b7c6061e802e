"""Files of a project folder: their names, how they are written, the PNG codec, folders.

See :mod:`alges_napari.core.project.project` for the folder layout; the key <-> path mapping is
in :mod:`.paths`, the cache in :mod:`.cache`, the checkpoints in :mod:`.checkpoints`, the write
lock in :mod:`.lock`.

Every project file is written by :func:`atomic_write_bytes` / :func:`atomic_write_json` here:
those of :mod:`alges_napari.core.atomic` (temporary file, fsync, rename, fsync of the folder),
except that the file gets the mode any new file would get (``0666`` less the umask, or the
folder's default ACL) instead of the temporary file's ``0600``, so a team sharing a project
folder can read each other's labels.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import io
from pathlib import Path

import numpy as np

from alges_napari.core.atomic import atomic_write_bytes, atomic_write_json
from alges_napari.core.atomic import fsync_dir as fsync_folder
from alges_napari.core.errors import ProjectError
from alges_napari.core.project.paths import key_to_relpath, relpath_to_key

# Frame readers skip folders that hold it (frames.base.PROJECT_MARKER, the same name).
CONFIG_FILE = "alges_project.json"
STATE_FILE = "state.json"
LOCK_FILE = ".alges.lock"
LABELS_DIR = "labels"
MODELS_DIR = "models"
CACHE_DIR = "cache"
DRAFTS_DIR = "drafts"  # propagated labels waiting to be accepted: never read as labels

__all__ = [
    "atomic_write_bytes",
    "atomic_write_json",
    "CACHE_DIR",
    "CONFIG_FILE",
    "DRAFTS_DIR",
    "LABELS_DIR",
    "LOCK_FILE",
    "MODELS_DIR",
    "STATE_FILE",
    "decode_index_png",
    "encode_index_png",
    "fsync_folder",
    "key_to_relpath",
    "makedirs",
    "now_iso",
    "relpath_to_key",
    "remove_stale_temporaries",
    "scan_labels",
]


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


def remove_stale_temporaries(root: Path) -> None:
    # A process killed inside atomic_write_bytes leaves ".<name>.<random>.tmp" behind.
    for sub in (LABELS_DIR, MODELS_DIR, CACHE_DIR, DRAFTS_DIR, "."):
        base = root / sub
        pattern = ".*.tmp" if sub == "." else "**/.*.tmp"
        for tmp in base.glob(pattern) if base.is_dir() else ():
            with contextlib.suppress(OSError):
                tmp.unlink()


def scan_labels(labels_dir: Path) -> set[str]:
    """Keys of every label PNG under ``labels_dir`` (temporary files skipped)."""
    found = set()
    for path in labels_dir.rglob("*.png"):
        if not path.name.startswith("."):
            found.add(relpath_to_key(path.relative_to(labels_dir).with_suffix("").as_posix()))
    return found


def makedirs(directory: Path) -> None:
    """``mkdir -p`` whose new folders survive a power cut; ProjectError names the folder.

    A new folder is an entry of its parent, durable only once the parent is fsynced (the
    atomic writes sync the folder of their file, not the folders above it): each folder
    created here has its parent synced, up to the first folder that already existed.
    """
    missing = []
    folder = directory
    while not folder.is_dir() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    try:
        for new in reversed(missing):
            new.mkdir(exist_ok=True)  # exist_ok: another thread may create it first
            fsync_folder(new.parent)
    except OSError as exc:
        raise ProjectError(f"cannot create {directory}: {exc.strerror or exc}") from exc
