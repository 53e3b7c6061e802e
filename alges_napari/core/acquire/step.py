"""THE acquisition step: score the pool once, select the next frames, persist queue and cache.

The widget's round, ``alges train``, ``alges rank`` and ``alges simulate`` all call
:func:`iter_acquire`, so a simulated experiment measures exactly what a surgeon gets. What is
persisted goes through an :class:`AcquisitionSink` (a :class:`~alges_napari.core.project.project.
Project` is one; the simulator keeps predictions in memory), so this module never writes files.

The step receives everything ready-made: a :data:`Scorer` (the model scoring the frames in this
process, :func:`local_scorer`, or :mod:`.distributed`'s, which spreads the same pass over the
workers of a dask cluster) and a resolved :class:`~.strategies.Strategy`. The edges (the widget,
the commands, the simulator) resolve the strategy's name and choose device and engine once;
this module never looks a name up. Either way selection runs here, once, on the driver.

Seeds: one :class:`Selection` per call. The candidate subset (``candidates``) is drawn with
``numpy.random.default_rng([seed, 1])`` and the strategy runs with ``seed``; callers derive the
seed from their round (``session``: ``RoundConfig.seed + round``), so rounds differ but repeat.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Generator, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from alges_napari.core.acquire.queue import QueueEntry
from alges_napari.core.acquire.scores import HEAT, ScoreResult
from alges_napari.core.acquire.scoring import OnFrame, ScoreOptions, iter_score
from alges_napari.core.acquire.strategies import Strategy
from alges_napari.core.data.frames.stream import KeyedFrames
from alges_napari.core.errors import AlgesError
from alges_napari.core.progress import Cancelled, Progress, SupportsIsSet, is_stopped

#: ``scorer(keys, want, on_frame, stop)`` scores the frames of ``keys`` and returns a generator
#: of "score" progress whose value is their :class:`ScoreResult` (in ``keys``' order, no keys
#: set). ``on_frame(i, prediction, heat)``, when given, is called per frame, or (a remote
#: scorer) the predictions are written where the sink reads them. A stop raises ``Cancelled``.
Scorer = Callable[
    [Sequence[str], frozenset[str], OnFrame | None, SupportsIsSet | None],
    Generator[Progress, None, ScoreResult],
]


def local_scorer(
    model: Any,
    spec: Any,
    frame_of: Callable[[str], np.ndarray],
    options: ScoreOptions | None = None,
) -> Scorer:
    """The scoring pass in this process: ``model`` scores the frames ``frame_of`` returns.

    Parameters
    ----------
    model, spec : torch.nn.Module, ModelSpec
        The current model and how to feed it.
    frame_of : callable
        ``frame_of(key)`` returns the frame (uint8 H x W x 3) of a key.
    options : ScoreOptions, optional
        Batch size, device and engine of the pass (see :func:`~.scoring.iter_score`).

    Returns
    -------
    Scorer
    """

    def score(
        keys: Sequence[str],
        want: frozenset[str],
        on_frame: OnFrame | None,
        stop: SupportsIsSet | None,
    ) -> Generator[Progress, None, ScoreResult]:
        return iter_score(
            model,
            KeyedFrames(frame_of, keys),
            spec,
            want=want,
            on_frame=on_frame,
            stop=stop,
            options=options,
        )

    return score


class AcquisitionSink(Protocol):
    """Where the step persists what it produced (a Project, or memory in a simulation).

    A sink whose ``keeps_heat`` is False (the simulator's) gets None for every heat map and the
    pass computes none; a sink without the attribute gets them.
    """

    keeps_heat: bool

    def clear_cache(self) -> None:
        """Forget the previous pass's predictions and heat maps."""

    def write_cache(self, key: str, prediction: np.ndarray, heat: np.ndarray | None) -> None:
        """Keep one frame's predicted mask (uint8) and heat map."""

    def set_queue(self, entries: Iterable[QueueEntry]) -> None:
        """Replace the queue of frames to label next."""


@dataclass(frozen=True)
class Selection:
    """How many frames one step selects, from what, with which seed.

    Attributes
    ----------
    query_size : int
        Frames to select (fewer when the pool is smaller).
    seed : int
        Seeds the candidate draw and the strategy.
    candidates : int, optional
        Score only this many pool frames, drawn at random (very large pools); None: all.
    """

    query_size: int
    seed: int
    candidates: int | None = None


@dataclass
class Acquisition:
    """What :func:`iter_acquire` returns.

    Attributes
    ----------
    queue : list of QueueEntry
        The selected frames, in pick order (see :func:`rank_queue`).
    candidates : list of str
        The pool frames that were scored and ranked (the whole pool unless
        ``Selection.candidates``).
    scores : ScoreResult
        The scoring pass's fields for ``candidates``, in that order.
    timings : dict
        Seconds spent in "score" and "select".
    """

    queue: list[QueueEntry] = field(default_factory=list)
    candidates: list[str] = field(default_factory=list)
    scores: ScoreResult | None = None
    timings: dict[str, float] = field(default_factory=dict)


def draw_candidates(pool: Sequence[str], candidates: int | None, seed: int) -> list[str]:
    """The pool frames to score: all of them, or ``candidates`` drawn with the step's seed."""
    pool = list(pool)
    if candidates and len(pool) > candidates:
        rng = np.random.default_rng([seed, 1])
        return [pool[i] for i in np.sort(rng.choice(len(pool), size=candidates, replace=False))]
    return pool


def iter_acquire(
    scorer: Scorer,
    strategy: Strategy,
    pool: Sequence[str],
    selection: Selection,
    *,
    labelled: Sequence[str] = (),
    sink: AcquisitionSink | None = None,
    stop: SupportsIsSet | None = None,
) -> Generator[Progress, None, Acquisition | None]:
    """Score the pool with ``scorer``, select frames with ``strategy``, persist both.

    Parameters
    ----------
    scorer : Scorer
        Scores the frames: :func:`local_scorer` (the model in this process), or e.g. a
        :class:`~alges_napari.core.acquire.distributed.DaskScorer`. Selection is the same.
    strategy : Strategy
        The selection strategy, resolved at the edge (:func:`~.strategies.get_strategy`).
    pool : sequence of str
        The unlabelled frames to choose from.
    selection : Selection
        How many frames to select, the seed, and the candidate subset's size.
    labelled : sequence of str
        The labelled training frames: core-set measures distances to them (they are scored in
        the same pass, and their predictions are cached too).
    sink : AcquisitionSink, optional
        Receives every scored frame's prediction and heat map, then the queue. With a sink the
        whole pool is always predicted (the overlay needs it); without one, a strategy that
        needs no scores (random) runs no pass at all.
    stop : object with ``is_set()``, optional
        Passed to the scorer; a stop request ends the step within one batch.

    Yields
    ------
    Progress
        "score" per batch, then "select".

    Returns
    -------
    Acquisition or None
        None when stopped: nothing of this step was persisted except cache entries.

    Raises
    ------
    AlgesError
        ``strategy`` is not a :class:`~.strategies.Strategy` (a name must be resolved first).
    """
    _check_strategy(strategy)
    seed = selection.seed
    picked = draw_candidates(pool, selection.candidates, seed)
    # With a sink the pass runs anyway: add what the queue's informativeness needs.
    want = set(strategy.score_fields(with_measure=sink is not None))
    extra = list(labelled) if "features" in want else []
    keep_heat = sink is not None and getattr(sink, "keeps_heat", True)
    keys = picked + extra
    out = Acquisition(candidates=picked)
    t0 = time.perf_counter()
    if want or sink is not None:
        if sink is not None:
            sink.clear_cache()

        def on_frame(i: int, prediction: np.ndarray, heat: Any) -> None:
            sink.write_cache(keys[i], prediction, heat)  # type: ignore[union-attr]

        asked = frozenset(want | {HEAT}) if keep_heat else frozenset(want)
        gen = scorer(keys, asked, on_frame if sink is not None else None, stop)
        try:
            scores = yield from gen
        except Cancelled:
            return None
    else:
        scores = ScoreResult(n=len(keys))
    out.timings["score"] = time.perf_counter() - t0
    if is_stopped(stop):
        return None
    scores.keys = list(keys)
    labelled_features = scores.features[len(picked) :] if extra else None
    out.scores = scores.subset(np.arange(len(picked))) if extra else scores
    yield Progress("select", 0, 1)
    t0 = time.perf_counter()
    out.queue = rank_queue(
        strategy, out.scores, picked, selection.query_size, seed, labelled_features
    )
    out.timings["select"] = time.perf_counter() - t0
    if sink is not None:
        sink.set_queue(out.queue)
    yield Progress("select", 1, 1)
    return out


def _check_strategy(strategy: Any) -> Strategy:
    if not isinstance(strategy, Strategy):
        raise AlgesError(
            f"the acquisition step needs a Strategy, got {strategy!r}: resolve a name once, "
            "where it is chosen, with strategies.get_strategy"
        )
    return strategy


def rank_queue(
    strategy: Strategy,
    scores: ScoreResult,
    keys: Sequence[str],
    query_size: int,
    seed: int,
    labelled_features: np.ndarray | None = None,
) -> list[QueueEntry]:
    """Rank ``keys`` (in ``scores``' order) by ``strategy``; return the top ``query_size`` entries.

    The entries are in pick order. Each carries the frame's informativeness under the
    strategy's measure (``score``, and ``relative``: 0-100 of the most informative of
    ``keys``), and the strategy's own value at pick time where it has one (``pick_value``:
    k-means++ D^2, core-set distance), so the user sees why a frame was asked for.
    """
    chosen = _check_strategy(strategy)
    if not keys:
        return []
    idx, values = chosen.rank(
        scores, min(query_size, len(keys)), seed=seed, labelled_features=labelled_features
    )
    info = chosen.informativeness(scores, labelled_features)
    shown = info[np.isfinite(info)] if info is not None else np.zeros(0)
    top = float(shown.max()) if shown.size else 0.0

    def finite(array: np.ndarray | None, i: int) -> float | None:
        v = None if array is None else float(array[i])
        return v if v is not None and math.isfinite(v) else None

    def entry(rank: int, i: int) -> QueueEntry:
        score = finite(info, i)
        relative = None if score is None else (100.0 * score / top if top > 0 else 0.0)
        return QueueEntry(
            keys[i],
            rank,
            score,
            strategy=chosen.name,
            measure=chosen.measure if score is not None else None,
            relative=relative,
            pick_value=finite(values, i) if chosen.pick_value else None,
        )

    return [entry(rank, int(i)) for rank, i in enumerate(idx)]
