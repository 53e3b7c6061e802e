"""Progress reporting and cancellation for long work.

Long work in the core is a generator that yields progress dicts (``{"stage": ..., "done": ...,
"total": ...}``) and returns its result. The widget wraps such generators in napari thread
workers, the command line in tqdm bars, tests simply drain them with :func:`run_to_end`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator
from typing import Any, Protocol, TypeVar

T = TypeVar("T")
Progress = dict[str, Any]


class SupportsIsSet(Protocol):
    """Anything with ``is_set()``: a :class:`threading.Event`, a :class:`StopFlag`."""

    def is_set(self) -> bool: ...


class StopFlag(threading.Event):
    """A cancellation flag shared between the thread doing work and the one asking it to stop."""

    def request(self) -> None:
        """Ask the work to stop at its next check (within one batch)."""
        self.set()


class Cancelled(Exception):
    """Raised inside work that noticed a stop request; callers usually catch it."""


def is_stopped(stop: SupportsIsSet | None) -> bool:
    """Return True when ``stop`` is given and set.

    Parameters
    ----------
    stop : object with ``is_set()`` or None
        The cancellation flag; None means the work cannot be cancelled.
    """
    return stop is not None and stop.is_set()


def run_to_end(
    gen: Generator[Progress, Any, T], on_progress: Callable[[Progress], None] | None = None
) -> T:
    """Drain a progress generator and return its result.

    Parameters
    ----------
    gen : generator
        A core generator that yields progress dicts and returns a result.
    on_progress : callable, optional
        Called with each progress dict, e.g. to update a tqdm bar.

    Returns
    -------
    object
        Whatever the generator returned.
    """
    while True:
        try:
            item = next(gen)
        except StopIteration as stop:
            return stop.value
        if on_progress is not None:
            on_progress(item)


def restage(gen: Generator[Progress, Any, T], stage: str) -> Generator[Progress, None, T]:
    """Re-yield ``gen``'s progress dicts under another ``"stage"`` and return its result.

    The scoring pass reports ``"score"``; a caller scoring validation or test frames with it
    says so, so a progress bar names what is really running.
    """
    while True:
        try:
            progress = next(gen)
        except StopIteration as done:
            return done.value
        yield {**progress, "stage": stage}
