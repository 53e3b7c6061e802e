"""The result of one scoring pass over a pool of frames.

Scoring (``scoring.py``) fills it; selection strategies (``select.py``) read it. Keeping the
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
