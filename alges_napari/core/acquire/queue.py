"""Queue entries: the frames the model asks to have labelled next, and the first queue.

Cheap to import (no numpy, no torch at module level): the project reads and writes queues
without loading the scoring machinery.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any


@dataclass(frozen=True)
class QueueEntry:
    """One frame the model asks to have labelled next.

    The queue is in pick order: ``rank`` 0 was picked first. Strategies that sort frames by a
    score (entropy, margins, least confidence) pick the most informative first; centre-finding
    strategies (ALGES, BADGE, core-set) pick for coverage, so the informativeness of their picks
    is not sorted; random and the first spread use no score at all.

    Attributes
    ----------
    key : str
        Frame key.
    rank : int
        Pick order: 0 for the frame picked (and to be labelled) first.
    score : float or None
        The frame's informativeness under ``measure``, higher meaning more informative (see
        :data:`~alges_napari.core.acquire.scores.MEASURES`); None when there is none. An entry
        of an older version (``strategy`` None) holds its strategy's value at pick time instead.
    strategy : str or None
        The strategy that picked the frame ("spread" for the first queue, before any model).
    measure : str or None
        What ``score`` measures (a name of ``MEASURES``).
    relative : float or None
        ``score`` as a percentage of the most informative frame the pass scored (0-100).
    pick_value : float or None
        The strategy's own value when it picked the frame (k-means++ D^2, core-set distance:
        see :attr:`~alges_napari.core.acquire.strategies.Strategy.pick_value`), when it has one.
    """

    key: str
    rank: int
    score: float | None = None
    strategy: str | None = None
    measure: str | None = None
    relative: float | None = None
    pick_value: float | None = None

    def to_json(self) -> dict[str, Any]:
        """The entry as a JSON object (``state.json``, ``alges rank --json``): its fields."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> QueueEntry:
        """An entry from :meth:`to_json`'s object; fields it lacks (older files) are None."""
        return cls(**{f.name: data.get(f.name) for f in fields(cls) if f.name in data})


def describe(entry: QueueEntry) -> tuple[str, str]:
    """What the queue shows beside a frame, and its tooltip: ``(text, tip)``.

    ``text`` is the informativeness as 0-100 of the most informative frame scored, "random" or
    "spread" for picks without one, "-" otherwise; ``tip`` says why the frame was picked (its
    pick order), what the number measures, and the strategy's own value at pick time.
    """
    from alges_napari.core.acquire.scores import MEASURES
    from alges_napari.core.acquire.strategies import REGISTRY

    k, name = entry.rank + 1, entry.strategy
    if name is None:
        return NO_SCORE, (
            f"pick #{k}, ranked by an older version of alges-napari: its score was the "
            "strategy's value at pick time, not an informativeness; rank again to see one"
        )
    if name == "spread":
        return "spread", (
            f"spread pick #{k}: the first queue, before any model, spreads its frames evenly "
            "over the video (source order) so the first labels cover all of it; no frame is "
            "scored yet"
        )
    strategy = REGISTRY.get(name)
    if name == "random":
        lines = [f"random pick #{k}: drawn uniformly (seeded); no frame counts more than another"]
    elif strategy is not None and strategy.pick_value:
        lines = [f"{name} pick #{k}: picked to cover the pool, so not sorted by informativeness"]
    else:
        lines = [f"{name} pick #{k}: the most informative frames first"]
    if entry.score is None:
        lines.append("no informativeness: the scoring pass did not compute one")
        text = "random" if name == "random" else NO_SCORE
    else:
        text = f"{entry.relative:.0f}" if entry.relative is not None else f"{entry.score:.3g}"
        share = (
            "" if entry.relative is None else f" ({entry.relative:.0f}% of the most informative)"
        )
        meaning = MEASURES.get(entry.measure or "", "the strategy's score")
        lines.append(f"{entry.measure} {entry.score:,.6g}{share}: {meaning}")
        if name == "random":
            lines.append("shown for information: the random draw did not use it")
    if entry.pick_value is not None and strategy is not None and strategy.pick_value:
        lines.append(f"when picked: {entry.pick_value:,.6g}, {strategy.pick_value}")
    return text, "\n".join(lines)


#: The text beside a frame with nothing to show.
NO_SCORE = "-"


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
        In source order, their strategy "spread", without scores (no model exists yet).

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
    return [QueueEntry(keys[int(i)], rank, strategy="spread") for rank, i in enumerate(idx)]
