"""The write lock of a project folder: one writer at a time, across processes."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from alges_napari.core.errors import ProjectError, ProjectLockedError
from alges_napari.core.project.files import LOCK_FILE


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
