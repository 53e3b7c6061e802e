"""Queue entries: the frames the model asks to have labelled next, and the first queue.

Cheap to import (no numpy, no torch at module level): the project reads and writes queues
without loading the scoring machinery.
"""

from __future__ import annotations

from collections.abc import Sequence
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


def initial_queue(keys: Sequence[str], k: int) -> list[QueueEntry]:
    """The first queue, before any model exists: ``k`` frames spread evenly over ``keys``.

    Evenly spaced frames cover the whole video, which is what a first training set needs. The
    frames are those of the registered strategy "spread", so a new project and a simulated
    experiment start from the same kind of queue.

    Parameters
    ----------
    keys : sequence of str
        The pool, in source order.
    k : int
        Frames to queue; all of ``keys`` when there are fewer.

    Returns
    -------
    list of QueueEntry
        Ranked in source order, without scores (spreading has no reason to show).

    Raises
    ------
    AlgesError
        When ``k`` is negative or not a whole number.
    """
    # Imported here: strategies pull in numpy, which a plain queue read does not need.
    from alges_napari.core.acquire.scores import ScoreResult
    from alges_napari.core.acquire.strategies import get_strategy

    keys = list(keys)
    if isinstance(k, int) and not isinstance(k, bool) and k > len(keys):
        k = len(keys)  # a short clip: queue all of it, without the strategy's "too few" warning
    idx, _ = get_strategy("spread").rank(ScoreResult(n=len(keys)), k)
    return [QueueEntry(keys[int(i)], rank) for rank, i in enumerate(idx)]
