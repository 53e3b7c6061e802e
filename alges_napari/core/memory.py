"""Giving the C heap's free pages back to the system between the stages of a round.

A round allocates and frees hundreds of megabytes in buffers of one to thirty megabytes:
training's activations, gradients and optimiser state, and the passes' frame-sized planes
(a 1080p float plane is 8 MB). glibc keeps freed buffers of that size in the heap, and its
free space is fragmented: on a 1080p recording, after two rounds, the heap held 1,225 MB of
which 729 MB were free, while no more than 862 MB were ever in use at once (issue 26,
``benchmarks/bench_recording.py``). Those free pages stay in the process's resident set, so
the process keeps the footprint of its largest stage while the surgeon labels. glibc gives
them back only when asked, with ``malloc_trim``; :func:`release_free_heap` asks.

Other C libraries (macOS, Windows, musl) have no ``malloc_trim``: there it does nothing.
"""

from __future__ import annotations

import ctypes
import time
from typing import Any

_UNSET: Any = object()
_trim: Any = _UNSET


def _malloc_trim() -> Any:
    """glibc's ``malloc_trim`` from the running process, or None where there is none."""
    global _trim
    if _trim is _UNSET:
        try:
            fn = ctypes.CDLL(None).malloc_trim
        except (AttributeError, OSError, TypeError):  # no such symbol, or no C library handle
            fn = None
        else:
            fn.argtypes, fn.restype = [ctypes.c_size_t], ctypes.c_int
        _trim = fn
    return _trim


def release_free_heap() -> float | None:
    """Return the C heap's free pages to the system (glibc's ``malloc_trim(0)``).

    Nothing that is in use moves or is freed: glibc unmaps the free pages of every arena, and
    a later allocation that lands there faults them in again. Safe from any thread.

    Returns
    -------
    float or None
        Seconds the call took (a fraction of a second for a heap of about a gigabyte), or
        None where the C library has no ``malloc_trim``.
    """
    fn = _malloc_trim()
    if fn is None:
        return None
    t0 = time.perf_counter()
    fn(0)
    return time.perf_counter() - t0
