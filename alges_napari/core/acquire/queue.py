"""A queue entry: one frame the model asks to have labelled next (numpy-free, cheap to import)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class QueueEntry:
    """One frame the model asks to have labelled next.

    Attributes
    ----------
    key : str
        Frame key.
    rank : int
        0 for the frame to label first.
    score : float or None
        The strategy's score for the frame (entropy, margin, D^2 at pick time, ...), when it
        has a finite one.
    """

    key: str
    rank: int
    score: float | None = None
