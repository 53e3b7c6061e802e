"""The write lock of a project folder: one writer at a time, across processes.

The lock is an exclusive ``flock`` on the project folder itself, which nobody can delete from
under a live writer (deleting a lock *file* would let a second writer take a fresh one beside
the first). ``.alges.lock`` is locked too, so an older alges-napari, which locks only that
file, is kept out as well, and it holds the writer's pid for the "open by process N" message.
The OS drops every lock when the process dies, however it dies.

Where a folder cannot be locked (a network file system that emulates ``flock`` with byte-range
locks, which need a file open for writing; Windows), the lock file alone is the lock, as before.
"""

from __future__ import annotations

import contextlib
import errno
import os
from pathlib import Path

from alges_napari.core.errors import ProjectError, ProjectLockedError
from alges_napari.core.project.files import LOCK_FILE

#: errno values of a lock held by someone else (anything else: this folder cannot be locked).
_HELD = {errno.EAGAIN, errno.EWOULDBLOCK, errno.EACCES}


class ProjectLock:
    """The exclusive write lock of one project folder; :meth:`release` (idempotent) frees it."""

    def __init__(self, fds: list[int]):
        self._fds = fds

    @classmethod
    def acquire(cls, root: Path) -> ProjectLock:
        """Take the lock of ``root``.

        Raises
        ------
        ProjectLockedError
            Another process (or another open of this one) holds it; the message names its pid.
        ProjectError
            The lock file cannot be created.
        """
        fds: list[int] = []
        try:
            folder = _lock_folder(root)
            if folder is not None:
                fds.append(folder)
            fds.append(_lock_file(root))
        except BaseException:
            for fd in fds:
                os.close(fd)
            raise
        return cls(fds)

    def release(self) -> None:
        """Drop the lock (closing its descriptors); a second call does nothing."""
        fds, self._fds = self._fds, []
        for fd in fds:
            with contextlib.suppress(OSError):
                os.close(fd)

    @property
    def held(self) -> bool:
        """True until :meth:`release`."""
        return bool(self._fds)


def _lock_folder(root: Path) -> int | None:
    """flock the folder itself; None where folders cannot be locked."""
    if os.name != "posix":  # pragma: no cover - Windows cannot open a folder
        return None
    import fcntl

    try:
        fd = os.open(root, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError as exc:
        raise ProjectError(f"cannot open project folder {root}: {exc.strerror or exc}") from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in _HELD:
            holder = _holder_of(fd) or _pid_in_lock_file(root)
            os.close(fd)
            raise _locked(root, holder) from exc
        os.close(fd)  # e.g. EBADF/ENOLCK on NFS: fall back to the lock file alone
        return None
    return fd


def _lock_file(root: Path) -> int:
    """Lock ``.alges.lock`` (what older versions lock) and write our pid into it."""
    path = root / LOCK_FILE
    try:
        # 0o666: the umask decides, as for any file (someone else may need to read the pid).
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
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
        holder = _pid_in_lock_file(root) if os.name == "posix" else ""
        os.close(fd)
        raise _locked(root, holder) from exc
    # The pid is only a courtesy for the message. It is written in place, not through
    # atomic.py: replacing the lock file would give it a new inode and drop that lock.
    with contextlib.suppress(OSError):
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


def _locked(root: Path, holder: str) -> ProjectLockedError:
    who = f" (process {holder})" if holder else ""
    return ProjectLockedError(
        f"project {root} is open for writing by another process{who}; "
        "close it there or open this one read-only"
    )


def _pid_in_lock_file(root: Path) -> str:
    try:
        text = (root / LOCK_FILE).read_bytes()[:32].decode(errors="replace").strip()
    except OSError:
        return ""
    return text if text.isdigit() else ""


def _holder_of(fd: int) -> str:
    """The pid holding an flock on ``fd``'s file, from ``/proc/locks`` (Linux); "" if unknown.

    Found even when the lock file, and the pid in it, was deleted.
    """
    st = os.fstat(fd)
    device = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    try:
        with open("/proc/locks", encoding="ascii", errors="replace") as fh:
            lines = fh.read().splitlines()
    except OSError:
        return ""
    for line in lines:
        # "1: FLOCK  ADVISORY  WRITE 4242 08:01:131 0 EOF" (blocked waiters start with "->")
        fields = line.split()
        if len(fields) >= 6 and fields[1] == "FLOCK" and fields[5] == device and "->" not in line:
            return fields[4]
    return ""
