"""Progress reporting and cancellation for long work.

Long work in the core is a generator that yields :class:`Progress` records and returns its
result. The widget wraps such generators in napari thread
workers, the command line in tqdm bars, tests simply drain them with :func:`run_to_end`.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Progress:
    """One progress report of long work.

    Attributes
    ----------
    stage : str
        What runs: "train", "save", "validate", "score", "select", "load", "evaluate",
        "synthesise", "count", "export", "step" (a finished simulation step), ...
    done, total : int
        Units finished and planned in this stage (batches, frames, steps); total 0 = unknown.
    epoch, epochs, step, steps : int or None
        Training position (1-based epoch of ``epochs``, batch ``step`` of ``steps``).
    loss : float or None
        The last training batch's loss.
    images_per_s : float or None
        Training throughput.
    batch_size : int or None
        The batch size in use (it shrinks after a CUDA out-of-memory error).
    round : int or None
        The active-learning round the work belongs to.
    warning : str or None
        Something the user should know (an out-of-memory retry), shown beside the progress.
    detail : str
        A short free text for the progress line (a clip, a strategy and repeat, ...).
    """

    stage: str
    done: int = 0
    total: int = 0
    epoch: int | None = None
    epochs: int | None = None
    step: int | None = None
    steps: int | None = None
    loss: float | None = None
    images_per_s: float | None = None
    batch_size: int | None = None
    round: int | None = None
    warning: str | None = None
    detail: str = ""

    def replace(self, **changes: Any) -> Progress:
        """A copy with ``changes`` applied."""
        return dataclasses.replace(self, **changes)


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
        A core generator that yields :class:`Progress` and returns a result.
    on_progress : callable, optional
        Called with each :class:`Progress`, e.g. to update a tqdm bar.

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
    """Re-yield ``gen``'s progress under another ``stage`` and return its result.

    The scoring pass reports ``"score"``; a caller scoring validation or test frames with it
    says so, so a progress bar names what is really running.
    """
    while True:
        try:
            progress = next(gen)
        except StopIteration as done:
            return done.value
        yield progress.replace(stage=stage)
