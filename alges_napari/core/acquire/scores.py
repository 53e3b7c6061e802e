"""The result of one scoring pass over a pool of frames.

Scoring (``scoring.py``) fills it; selection strategies (``strategies.py``) read it. Keeping the
container apart from both lets a strategy declare which fields it needs, so the scoring pass
computes only those.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np

#: Names of the per-frame quantities a scoring pass can produce.
SCORE_FIELDS = (
    "emb_img",
    "emb_seg",
    "badge",
    "entropy",
    "margin",
    "least_confidence",
    "features",
)

#: Not a field: asked for in a pass's ``want``, ``on_frame`` gets each frame's heat map (the
#: per-pixel gradient norms ALGES-seg sums); without it ``on_frame`` gets None for the heat, and
#: a pass that needs no ``emb_seg`` computes no per-pixel gradient at all.
HEAT = "heat"

#: Scores computed together from one softmax: asking for one gives all three at no extra cost.
UNCERTAINTY_FIELDS = ("entropy", "margin", "least_confidence")


@dataclass
class ScoreResult:
    """Per-frame scores and embeddings for a pool of ``n`` frames, in pool order.

    Attributes
    ----------
    n : int
        Number of frames scored.
    emb_img : ndarray (n, C) or None
        ALGES-img embedding: the L2 norm of each class row of the last layer's gradient.
    emb_seg : ndarray (n, C) or None
        ALGES-seg embedding: per-class sums of per-pixel squared gradient norms.
    badge : ndarray (n, C * D * k * k) or None
        The full last-layer gradient of each frame (BADGE-style embedding).
    entropy, margin, least_confidence : ndarray (n,) or None
        Mean per-pixel predictive entropy, mean top-1 minus top-2 probability (small means
        uncertain), and mean ``1 - max p``.
    features : ndarray (n, F) or None
        Globally pooled deepest encoder features (for core-set).
    keys : list of str
        Optional frame keys, in the same order.
    """

    n: int
    emb_img: np.ndarray | None = None
    emb_seg: np.ndarray | None = None
    badge: np.ndarray | None = None
    entropy: np.ndarray | None = None
    margin: np.ndarray | None = None
    least_confidence: np.ndarray | None = None
    features: np.ndarray | None = None
    keys: list[str] = field(default_factory=list)

    def subset(self, indices: np.ndarray) -> ScoreResult:
        """Return the scores of the frames at ``indices``, in that order."""
        idx = np.asarray(indices, dtype=np.int64)
        out = ScoreResult(n=len(idx), keys=[self.keys[i] for i in idx] if self.keys else [])
        for f in fields(self):
            if f.name in SCORE_FIELDS:
                value = getattr(self, f.name)
                setattr(out, f.name, None if value is None else value[idx])
        return out

    def available(self) -> set[str]:
        """Names of the fields that hold data."""
        return {name for name in SCORE_FIELDS if getattr(self, name) is not None}


# ---------------------------------------------------------------- per-frame informativeness

#: What each informativeness measure is, by name: one value per frame, higher always meaning the
#: model would learn more from the frame. The queue shows the measure of the strategy that picked
#: its frames (:attr:`~alges_napari.core.acquire.strategies.Strategy.measure`); the README's
#: "A labelling session" and the queue's tooltips read these sentences.
MEASURES: dict[str, str] = {
    "gradient mass": (
        "the sum over pixels of the squared norm of each pixel's last-layer gradient against "
        "the model's own prediction (the ALGES-seg embedding's total, the squared heat map "
        "summed): how much the model would change if the frame were labelled"
    ),
    "gradient norm": (
        "the norm of the frame's last-layer gradient of its mean cross-entropy against the "
        "model's own prediction (the norm of the ALGES-img or BADGE embedding): how far one "
        "step on this frame would move the last layer"
    ),
    "entropy": "the mean per-pixel predictive entropy (nats): how unsure the model is",
    "1 - margin": (
        "1 minus the mean gap between the probabilities of the two most likely classes: how "
        "close the model is to changing its mind"
    ),
    "1 - max p": "the mean of 1 minus the most likely class's probability",
    "feature distance": (
        "the distance of the frame's pooled encoder features to the nearest labelled frame's: "
        "how unlike the training set it looks"
    ),
}


def informativeness(
    scores: ScoreResult, measure: str | None, labelled_features: np.ndarray | None = None
) -> np.ndarray | None:
    """The frames' informativeness under ``measure`` (see :data:`MEASURES`), or None.

    Parameters
    ----------
    scores : ScoreResult
        A scoring pass's fields.
    measure : str or None
        A name of :data:`MEASURES`; None (no measure) gives None.
    labelled_features : ndarray (L, F), optional
        Pooled encoder features of the labelled frames ("feature distance" only).

    Returns
    -------
    ndarray (n,) float64 or None
        None when the pass did not compute the fields the measure needs (or, for "feature
        distance", when there is no labelled frame).

    Raises
    ------
    AlgesError
        An unknown measure name.
    """
    from alges_napari.core.errors import AlgesError

    if measure is None:
        return None
    if measure not in MEASURES:
        raise AlgesError(f"unknown informativeness measure {measure!r}; known: {list(MEASURES)}")
    if measure == "feature distance":
        return _feature_distance(scores.features, labelled_features)
    if measure == "gradient norm":
        # ||dW||_F: the class-row norms of ALGES-img combine to it, BADGE holds dW itself.
        source = scores.emb_img if scores.emb_img is not None else scores.badge
        return None if source is None else np.sqrt(np.square(source, dtype=np.float64).sum(1))
    field, flip = {
        "gradient mass": ("emb_seg", False),
        "entropy": ("entropy", False),
        "1 - margin": ("margin", True),
        "1 - max p": ("least_confidence", False),
    }[measure]
    values = getattr(scores, field)
    if values is None:
        return None
    values = np.asarray(values, dtype=np.float64)
    values = values.reshape(len(values), -1).sum(1)  # per-class sums (emb_seg); scalars stay
    return 1.0 - values if flip else values


def _feature_distance(
    features: np.ndarray | None, labelled: np.ndarray | None
) -> np.ndarray | None:
    if features is None or labelled is None or len(labelled) == 0:
        return None
    from alges_napari.core.acquire.centres import _min_sq_dists, _row_sq_norms

    x = np.asarray(features, dtype=np.float64)
    lab = np.asarray(labelled, dtype=np.float64)
    return np.sqrt(np.maximum(_min_sq_dists(x, _row_sq_norms(x), lab), 0.0))
