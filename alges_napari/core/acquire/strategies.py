"""Choosing which pool frames to label next: centre finding, k-centre greedy, strategy registry.

Two layers, in modAL's manner: pure functions on arrays (:func:`kmeans_pp_centres`,
:func:`k_center_greedy`), and, as in baal, one :class:`Strategy` base with a registry by name
that maps a :class:`~alges_napari.core.acquire.scores.ScoreResult` to ranked pool indices.

Conventions shared by every strategy:

- indices are distinct, int64, into the pool (``0 <= i < scores.n``), most informative first;
- a given ``seed`` always gives the same answer (ties are broken by a seeded permutation or,
  for k-centre greedy, by the lower index);
- ``k == 0`` returns an empty array; ``k > n`` returns all ``n`` frames, ranked, and warns with
  :class:`SelectionWarning` (an active-learning loop near the end of its pool should keep going,
  not stop); a negative or non-integer ``k`` raises :class:`~alges_napari.core.errors.AlgesError`;
- NaN or infinite scores/embeddings raise ``AlgesError`` naming the field and the first bad frame.
"""

from __future__ import annotations

import difflib
from typing import ClassVar

import numpy as np

from alges_napari.core.acquire.centres import (
    Array,
    Ranked,
    SelectionWarning,
    as_matrix,
    check_k,
    check_seed,
    k_center_greedy,
    k_center_ranked,
    kmeans_pp_centres,
    kmeans_pp_ranked,
    labelled_matrix,
)
from alges_napari.core.acquire.scores import (
    SCORE_FIELDS,
    UNCERTAINTY_FIELDS,
    ScoreResult,
    informativeness,
)
from alges_napari.core.acquire.windows import frame_windows
from alges_napari.core.errors import AlgesError

__all__ = [
    "DEFAULT_STRATEGY",
    "REGISTRY",
    "SelectionWarning",
    "Strategy",
    "available_strategies",
    "get_strategy",
    "k_center_greedy",
    "kmeans_pp_centres",
    "register",
    "select",
]

# ---------------------------------------------------------------------------- strategies


class Strategy:
    """One way to rank the pool. Subclasses set ``name``, ``needs`` and implement ``_rank``.

    ``needs`` names the :data:`~alges_napari.core.acquire.scores.SCORE_FIELDS` the scoring pass must
    compute for this strategy, so that pass computes nothing else. ``labelled_features`` (pooled
    encoder features of the labelled frames, (L, F)) matters only to ``coreset``.
    """

    name: ClassVar[str] = ""
    needs: ClassVar[frozenset[str]] = frozenset()
    description: ClassVar[str] = ""
    #: The per-frame informativeness the queue shows beside this strategy's picks: a name of
    #: :data:`~alges_napari.core.acquire.scores.MEASURES` (None: the strategy has none).
    measure: ClassVar[str | None] = None
    #: Fields the measure needs beyond ``needs``: computed only when the pass runs anyway (it
    #: predicts every frame for the overlay), so they never make a pass run.
    informs: ClassVar[frozenset[str]] = frozenset()
    #: What :meth:`rank_scores` holds for a pick, said to the user beside the measure (None:
    #: nothing beyond the measure, as for a strategy that sorts frames by it).
    pick_value: ClassVar[str | None] = None

    def score_fields(self, with_measure: bool = False) -> frozenset[str]:
        """The score fields a scoring pass computes for this strategy.

        Parameters
        ----------
        with_measure : bool
            Add :attr:`informs`, what the queue's measure needs beyond :attr:`needs`: for a
            pass that runs anyway (it predicts every frame for the overlay).

        Returns
        -------
        frozenset of str
            :attr:`needs`, with every uncertainty score when it holds one (the pass computes
            them together, at no extra cost), and :attr:`informs` when ``with_measure``.
        """
        want = set(self.needs)
        if want & set(UNCERTAINTY_FIELDS):
            want |= set(UNCERTAINTY_FIELDS)
        return frozenset(want | self.informs if with_measure else want)

    def select(
        self, scores: ScoreResult, k: int, *, seed: int = 0, labelled_features: Array | None = None
    ) -> np.ndarray:
        """Return ``min(k, scores.n)`` distinct int64 pool indices, most informative first."""
        return self.rank(scores, k, seed=seed, labelled_features=labelled_features)[0]

    def rank_scores(
        self, scores: ScoreResult, k: int, *, seed: int = 0, labelled_features: Array | None = None
    ) -> np.ndarray | None:
        """Per-pool-frame value to show beside the ranking, or None where none is meaningful.

        Uncertainty strategies return their score for every frame (e.g. the mean entropy).
        Centre-finding strategies return, for each picked frame, its squared distance (k-means++)
        or distance (core-set) to the nearest earlier pick (or labelled frame) at pick time (a
        first pick with nothing before it: to the pool's mean); NaN for frames not picked.
        :attr:`pick_value` says it in words.
        """
        return self.rank(scores, k, seed=seed, labelled_features=labelled_features)[1]

    def informativeness(
        self, scores: ScoreResult, labelled_features: Array | None = None
    ) -> np.ndarray | None:
        """Each pool frame's informativeness under :attr:`measure` (higher: more), or None.

        None when the strategy has no measure or the pass did not compute its fields. Unlike
        :meth:`rank_scores` it is a property of the frame alone, not of the order of the picks.
        """
        return informativeness(scores, self.measure, labelled_features)

    def rank(
        self, scores: ScoreResult, k: int, *, seed: int = 0, labelled_features: Array | None = None
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """``(select(...), rank_scores(...))`` from one run of the strategy.

        Raises
        ------
        AlgesError
            ``scores`` lacks a field in ``needs``, holds NaN/inf, has rows that disagree with
            ``scores.n``; or ``k``/``seed`` is invalid.
        """
        if not isinstance(scores, ScoreResult):
            raise AlgesError(f"{self.name}: expected a ScoreResult, got {type(scores).__name__}")
        missing = sorted(self.needs - scores.available())
        if missing:
            raise AlgesError(
                f"strategy {self.name!r} needs {', '.join(missing)}, which the scoring pass did "
                f"not compute (score with want={sorted(self.needs)})"
            )
        k = check_k(k, scores.n, f"strategy {self.name!r}")
        idx, values = self._rank(scores, k, check_seed(seed), labelled_features)
        return np.asarray(idx, dtype=np.int64), values

    def _rank(
        self, scores: ScoreResult, k: int, seed: int, labelled: Array | None
    ) -> tuple[np.ndarray, np.ndarray | None]:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<Strategy {self.name!r} needs={sorted(self.needs)}>"


#: The strategy the widget and the CLI use unless told otherwise. The evidence decides it: on the
#: benchmark data no strategy beats random sampling (README, "A simulated experiment"; ALGES-seg
#: is level with it, entropy worse), so by the project's rule the default is the cheapest strategy
#: that is not worse: random frames, which also cost the least correction there.
DEFAULT_STRATEGY = "random"

#: Strategy instances by name; add one with :func:`register`.
REGISTRY: dict[str, Strategy] = {}


def register(cls: type[Strategy]) -> type[Strategy]:
    """Class decorator: add an instance of ``cls`` to :data:`REGISTRY` under ``cls.name``."""
    if not cls.name or cls.name in REGISTRY:
        raise AlgesError(f"strategy name {cls.name!r} is empty or already registered")
    unknown = set(cls.needs) - set(SCORE_FIELDS)
    if unknown:
        raise AlgesError(f"strategy {cls.name!r} needs unknown score fields {sorted(unknown)}")
    REGISTRY[cls.name] = cls()
    return cls


def available_strategies() -> list[str]:
    """Names of the registered strategies, in registration order."""
    return list(REGISTRY)


def get_strategy(name: str) -> Strategy:
    """Look a strategy up by name (case and ``_``/``-`` insensitive).

    The edges (the widget's form, the command line, the simulator's settings) call this once and
    hand the :class:`Strategy` down; the acquisition step never sees a name.

    Raises
    ------
    AlgesError
        Unknown name; the message lists the valid names and the closest match.
    """
    key = str(name).strip().lower().replace("_", "-")
    if key in REGISTRY:
        return REGISTRY[key]
    close = difflib.get_close_matches(key, list(REGISTRY), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise AlgesError(
        f"unknown selection strategy {name!r}{hint}; choose one of: {', '.join(REGISTRY)}"
    )


def select(
    name: str,
    scores: ScoreResult,
    k: int,
    seed: int = 0,
    labelled_features: Array | None = None,
) -> np.ndarray:
    """Run the strategy called ``name``; see :meth:`Strategy.select`."""
    return get_strategy(name).select(scores, k, seed=seed, labelled_features=labelled_features)


class _CentreStrategy(Strategy):
    """k-means++ centres of one embedding field; the labelled set plays no part, as in ALGES."""

    field: ClassVar[str] = ""
    pick_value = (
        "k-means++ D^2, the squared embedding distance to the nearest earlier pick (the first "
        "pick's: to the pool's mean), which weighted the seeded draw"
    )

    def _rank(self, scores: ScoreResult, k: int, seed: int, labelled: Array | None) -> Ranked:
        emb = as_matrix(getattr(scores, self.field), f"{self.name}: {self.field}", scores.n)
        idx, d2 = kmeans_pp_ranked(emb, k, seed, None, self._groups(scores))
        values = np.full(scores.n, np.nan)
        values[idx] = d2
        return idx, values

    def _groups(self, scores: ScoreResult) -> np.ndarray | None:
        """Frames of one group are never picked together (None: no such constraint)."""
        return None


@register
class AlgesImg(_CentreStrategy):
    name, field, needs = "alges-img", "emb_img", frozenset({"emb_img"})
    measure = "gradient norm"
    description = "ALGES-img: k-means++ centres of per-class last-layer gradient norms"


@register
class AlgesSeg(_CentreStrategy):
    name, field, needs = "alges-seg", "emb_seg", frozenset({"emb_seg"})
    measure = "gradient mass"
    description = "ALGES-seg: k-means++ centres of per-class sums of per-pixel gradient norms"


@register
class AlgesSegVideo(_CentreStrategy):
    """ALGES-seg that never takes two frames of one short video window in a batch.

    Beyond the paper: near-duplicate neighbours (25 fps) have near-equal embeddings, and
    k-means++ alone may still pick two of them; here a pick removes its window (see
    :mod:`.windows`) from the draw while unused windows remain. Needs ``scores.keys``.
    """

    name, field, needs = "alges-seg-video", "emb_seg", frozenset({"emb_seg"})
    measure = "gradient mass"
    description = "ALGES-seg centres, at most one frame per 80-frame window of a clip"

    def _groups(self, scores: ScoreResult) -> np.ndarray:
        if len(scores.keys) != scores.n:
            raise AlgesError(f"{self.name}: needs the frame keys of the scores (scores.keys)")
        return frame_windows(scores.keys)


@register
class AlgesSegBalanced(_CentreStrategy):
    """ALGES-seg with every class weighing alike in the k-means++ distance (beyond the paper).

    The ALGES-seg embedding ``u_c`` sums per-pixel gradient mass over the pixels predicted as
    class ``c``; on laparoscopic frames background and large organs hold nearly all of it, so
    the raw k-means++ distance barely sees the small structures (cystic artery and duct are
    0.5-1.4 % of the pixels). Here column ``c`` is divided by its total over the scored pool
    (frames with no mass in a class add nothing to it), so each class contributes on the same
    scale and a frame whose gradient mass lies in a rarely predicted class lies far from the
    others. Costs nothing beyond ALGES-seg: the same pass, one division.
    """

    name, field, needs = "alges-seg-balanced", "emb_seg", frozenset({"emb_seg"})
    measure = "gradient mass"
    description = "ALGES-seg centres with each class's column scaled to the same pool total"

    def _rank(self, scores: ScoreResult, k: int, seed: int, labelled: Array | None) -> Ranked:
        emb = as_matrix(scores.emb_seg, f"{self.name}: emb_seg", scores.n)
        balanced = class_balanced(emb)
        idx, d2 = kmeans_pp_ranked(balanced, k, seed, None, None)
        values = np.full(scores.n, np.nan)
        values[idx] = d2
        return idx, values


def class_balanced(emb: np.ndarray) -> np.ndarray:
    """``emb`` (n, C) with each column divided by its sum over the rows (all-zero columns stay
    zero), so every class's column sums to 1 where it has any mass."""
    emb = np.asarray(emb, dtype=np.float64)
    totals = emb.sum(axis=0)
    return np.divide(emb, totals, out=np.zeros_like(emb), where=totals > 0)


@register
class Badge(_CentreStrategy):
    name, field, needs = "badge", "badge", frozenset({"badge"})
    measure = "gradient norm"
    description = "BADGE: k-means++ centres of the full last-layer gradient"


@register
class RandomStrategy(Strategy):
    name, needs = "random", frozenset()
    # Random draws use no score; the frames' gradient mass is shown for information where the
    # pass computes it at no cost (its heat maps need the same per-pixel gradients).
    measure, informs = "gradient mass", frozenset({"emb_seg"})
    description = "uniformly random frames (seeded)"

    def _rank(self, scores: ScoreResult, k: int, seed: int, labelled: Array | None) -> Ranked:
        return np.random.default_rng(seed).choice(scores.n, size=k, replace=False), None


class _ScoreStrategy(Strategy):
    """Rank by one scalar per frame; equal scores are ordered by a seeded permutation."""

    field: ClassVar[str] = ""
    highest_first: ClassVar[bool] = True

    def _rank(self, scores: ScoreResult, k: int, seed: int, labelled: Array | None) -> Ranked:
        values = as_matrix(getattr(scores, self.field), f"{self.name}: {self.field}", scores.n)
        if values.shape[1] != 1:
            raise AlgesError(f"{self.name}: {self.field} must hold one value per frame")
        values = values[:, 0].astype(np.float64)
        # Random tie-break: a fresh model's equal scores should not just pick the first frames.
        tie_break = np.random.default_rng(seed).permutation(scores.n)
        order = np.lexsort((tie_break, -values if self.highest_first else values))
        return order[:k], values


@register
class Entropy(_ScoreStrategy):
    name, field, needs = "entropy", "entropy", frozenset({"entropy"})
    measure = "entropy"
    description = "highest mean per-pixel predictive entropy"


@register
class Margins(_ScoreStrategy):
    name, field, needs, highest_first = "margins", "margin", frozenset({"margin"}), False
    measure = "1 - margin"
    description = "smallest mean margin between the two most likely classes"


@register
class LeastConfidence(_ScoreStrategy):
    name, field = "least-confidence", "least_confidence"
    needs = frozenset({"least_confidence"})
    measure = "1 - max p"
    description = "highest mean 1 - max probability"


@register
class CoreSet(Strategy):
    name, needs = "coreset", frozenset({"features"})
    measure = "feature distance"
    pick_value = (
        "the feature distance to the nearest labelled frame or earlier pick, which k-centre "
        "greedy maximises (it never grows down the queue)"
    )
    description = "core-set: k-centre greedy on pooled encoder features, from the labelled set"

    def _rank(self, scores: ScoreResult, k: int, seed: int, labelled: Array | None) -> Ranked:
        x = as_matrix(scores.features, f"{self.name}: features", scores.n)
        idx, dist = k_center_ranked(x, labelled_matrix(labelled, x.shape[1], self.name), k, seed)
        values = np.full(scores.n, np.nan)
        values[idx] = dist
        return idx, values


@register
class Spread(Strategy):
    name, needs = "spread", frozenset()
    description = "frames spread evenly over the source order (the first queue, before any model)"

    def _rank(self, scores: ScoreResult, k: int, seed: int, labelled: Array | None) -> Ranked:
        # Evenly spaced frames cover the whole video, which is what a first training set needs;
        # there is no model yet to rank frames with.
        if k == 0:
            return np.empty(0, dtype=np.int64), None
        step = scores.n / k
        return np.array([int(i * step + step / 2) for i in range(k)], dtype=np.int64), None
