"""Giving the heap's free pages back (core/memory.py) and the round's trims."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from alges_napari.core import memory


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc and /proc")
def test_free_pages_held_by_the_heap_go_back_to_the_system() -> None:
    # 150k blocks of 1 KB (malloc'd: over pymalloc's 512-byte limit), every 64th kept: the
    # heap cannot shrink from its top, so without a trim the freed 150 MB stay resident.
    blocks = [bytes(1024) for _ in range(150_000)]
    kept = blocks[::64]
    del blocks
    held = _rss_mb()
    spent = memory.release_free_heap()
    assert spent is not None and 0 <= spent < 5
    assert _rss_mb() < held - 60
    assert all(len(b) == 1024 and not any(b) for b in kept)  # what is in use stays intact


def test_without_malloc_trim_it_does_nothing(monkeypatch) -> None:
    monkeypatch.setattr(memory, "_trim", None)
    assert memory.release_free_heap() is None
