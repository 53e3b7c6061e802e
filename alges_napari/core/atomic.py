"""Atomic file writes: a reader sees the old file or the new one, never half of either.

The pattern is the classic one: write a temporary file in the same directory, flush and fsync
it, rename it over the target (atomic on POSIX and on Windows via ``os.replace``), then fsync
the directory so the rename itself survives a power cut. The temporary file is created like any
new file (mode 0666 less the umask, so a team sharing a folder can read it; ``mkstemp`` would
make it 0600), exclusively and never through a link.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

from alges_napari.core.errors import AlgesError


def fsync_dir(directory: str | os.PathLike[str]) -> None:
    """Make ``directory``'s entries (a renamed file, a new sub-folder) durable: fsync it."""
    # Directories cannot be opened for fsync on Windows; the rename is still atomic there.
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically and durably.

    Parameters
    ----------
    path : path-like
        Target file; its directory must exist.
    data : bytes
        The complete new content.

    Returns
    -------
    Path
        The path written.

    Raises
    ------
    AlgesError
        When the directory is not writable or the disk is full; no partial file remains.
    """
    return atomic_write_with(path, lambda tmp: tmp.write_bytes(data))


def atomic_write_with(
    path: str | os.PathLike[str], write: Callable[[Path], object]
) -> Path:
    """Let ``write(tmp)`` fill a temporary file, then make it ``path`` atomically and durably.

    For writers that want a file name rather than bytes (``safetensors.torch.save_file``
    streams tensors to disk, where building the bytes first would hold the GIL for the whole
    copy and stall the GUI thread). Errors and cleanup as :func:`atomic_write_bytes`.
    """
    target = Path(path)
    directory = target.parent
    tmp_name = None
    try:
        tmp_name = _new_temporary(target)
        write(Path(tmp_name))
        fd = os.open(tmp_name, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp_name, target)
        tmp_name = None
        fsync_dir(directory)
    except OSError as exc:
        raise AlgesError(f"cannot write {target}: {exc.strerror or exc}") from exc
    finally:
        if tmp_name is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)
    return target


def _new_temporary(target: Path) -> str:
    """Create ``.<name>.<random>.tmp`` beside ``target``, exclusively, mode 0666 less the umask."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    for _ in range(100):
        name = str(target.parent / f".{target.name}.{secrets.token_hex(4)}.tmp")
        try:
            os.close(os.open(name, flags, 0o666))
            return name
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name beside {target}")


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically; see :func:`atomic_write_bytes`."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike[str], obj: Any) -> Path:
    """Write ``obj`` as indented JSON to ``path`` atomically; see :func:`atomic_write_bytes`."""
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")
