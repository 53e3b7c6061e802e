"""The helpers the correction benchmark's two halves share.

``bench_correction.py``'s synthetic correctors (a)-(d) and ``correction_real.py``'s real-frames
correctors (e)-(i) both use them; they live here once, so neither half imports the other.
"""

from __future__ import annotations

import numpy as np

IGNORE = 255


def agreement(ann: np.ndarray, truth: np.ndarray) -> float:
    """Share of labelled pixels (truth != 255) where ``ann`` equals ``truth``."""
    valid = truth != IGNORE
    return float((ann[valid] == truth[valid]).mean())


_EIGHT = np.ones((3, 3), bool)


def _class_counts(sp: np.ndarray, truth: np.ndarray, k: int) -> tuple[np.ndarray, int, np.ndarray]:
    """(superpixel of each labelled pixel, superpixels, (superpixels, k) true-class counts)."""
    valid = truth != IGNORE
    n_sp = int(sp.max()) + 1
    sp_v = sp[valid]
    counts = np.bincount(sp_v * k + truth[valid].astype(np.int64), minlength=n_sp * k)
    return sp_v, n_sp, counts.reshape(n_sp, k)
