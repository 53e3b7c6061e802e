"""The folder fsync of every atomic write: the rename that puts a file in place is itself synced.

A file renamed into place is an entry of its folder: until that folder is fsynced, a power cut
can lose the rename (the old file, or no file, comes back). These tests record every ``fsync``
and identify the file descriptor by ``os.fstat`` (device and inode), so they fail when the
folder sync is removed or done before the rename, whatever path the writer opens it by.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from alges_napari.core import atomic
from alges_napari.core.project import files
from alges_napari.core.project.project import Project
from tests.core.project.random_frames import make_folder, random_mask

Snapshot = Callable[[], object]


class SyncRecorder:
    """Every fsync call: (is a folder, (st_dev, st_ino), what ``snapshot()`` said at that time)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, snapshot: Snapshot = lambda: None):
        self.calls: list[tuple[bool, tuple[int, int], object]] = []
        real_fsync = os.fsync

        def recording_fsync(fd: int) -> None:
            st = os.fstat(fd)
            self.calls.append((stat.S_ISDIR(st.st_mode), (st.st_dev, st.st_ino), snapshot()))
            real_fsync(fd)

        monkeypatch.setattr(os, "fsync", recording_fsync)

    def folder_syncs(self, folder: Path) -> list[object]:
        """The snapshots taken when ``folder`` itself was fsynced."""
        st = folder.stat()
        return [s for is_dir, ident, s in self.calls if is_dir and ident == (st.st_dev, st.st_ino)]

    def file_synced(self, path: Path) -> bool:
        st = path.stat()
        ident = (st.st_dev, st.st_ino)
        return any(not is_dir and i == ident for is_dir, i, _ in self.calls)


def _read(path: Path) -> bytes | None:
    return path.read_bytes() if path.is_file() else None


WRITERS = {
    "atomic.atomic_write_bytes": lambda p: (atomic.atomic_write_bytes(p, b"new\x00"), b"new\x00"),
    "atomic.atomic_write_text": lambda p: (atomic.atomic_write_text(p, "ünï"), "ünï".encode()),
    "atomic.atomic_write_json": lambda p: (
        atomic.atomic_write_json(p, {"a": [1]}),
        (json.dumps({"a": [1]}, indent=2) + "\n").encode(),
    ),
    "atomic.atomic_write_with": lambda p: (
        atomic.atomic_write_with(p, lambda tmp: tmp.write_bytes(b"streamed")),
        b"streamed",
    ),
    "files.atomic_write_bytes": lambda p: (files.atomic_write_bytes(p, b"label"), b"label"),
    "files.atomic_write_json": lambda p: (
        files.atomic_write_json(p, {"b": 2}),
        (json.dumps({"b": 2}, indent=2) + "\n").encode(),
    ),
}


@pytest.mark.parametrize("existed", [False, True], ids=["new-file", "overwrite"])
@pytest.mark.parametrize("writer", list(WRITERS))
def test_every_atomic_writer_syncs_the_folder_after_the_rename(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, writer: str, existed: bool
) -> None:
    folder = tmp_path / "folder"
    folder.mkdir()
    target = folder / "target.bin"
    if existed:
        target.write_bytes(b"old content")
    recorder = SyncRecorder(monkeypatch, snapshot=lambda: _read(target))
    returned, expected = WRITERS[writer](target)
    monkeypatch.undo()
    assert returned == target and target.read_bytes() == expected
    # The folder holding the file was fsynced, and at that moment the new file was in place:
    # the sync covers the rename (a sync before the rename would see the old content).
    at_folder_sync = recorder.folder_syncs(folder)
    assert at_folder_sync, f"{folder} was never fsynced: {recorder.calls}"
    assert expected in at_folder_sync, f"{folder} was synced before the rename: {at_folder_sync}"
    # ... and the file's own data before it (the rename keeps the inode of the synced file).
    assert recorder.file_synced(target)
    # Only the folder of the file: not its parent (nothing new there).
    assert recorder.folder_syncs(tmp_path) == []


def test_an_accepted_label_and_the_state_are_in_synced_folders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Project.create(tmp_path / "p", make_folder(tmp_path / "f")) as proj:
        key, mask = proj.keys[0], random_mask(0)
        labels, path = proj.root / "labels", proj.label_path(key)
        assert path.parent == labels  # an existing folder: makedirs syncs nothing here
        state = proj.root / "state.json"

        def snapshot() -> tuple[bool, object]:
            frames = json.loads(state.read_text())["frames"]
            return path.is_file(), frames.get(key, {}).get("status")

        recorder = SyncRecorder(monkeypatch, snapshot=snapshot)
        proj.accept_label(key, mask)
        monkeypatch.undo()
        # labels/ was fsynced once the label file was renamed into it ...
        assert (True, None) in recorder.folder_syncs(labels), recorder.calls
        # ... and the project folder once state.json naming the label was renamed into it.
        assert (True, "labelled") in recorder.folder_syncs(proj.root), recorder.calls
        assert recorder.file_synced(path) and recorder.file_synced(state)
        np.testing.assert_array_equal(proj.load_label(key), mask)
