"""Pure array functions for picking diverse frames: k-means++ centre finding, k-centre greedy.

The selection strategies (``strategies.py``) call these; they take (N, D) arrays and return
distinct int64 indices, in pick order, computed in float64 row blocks so memory stays bounded
whatever the pool's size. Shared conventions are those listed in ``strategies.py``.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import numpy as np

from alges_napari.core.errors import AlgesError

#: Float64 elements a distance block may hold (16 MiB): bounds memory for 10^5 x 512 pools.
_BLOCK_ELEMS = 1 << 21
#: Squared distances below this fraction of ||x||^2 + ||c||^2 are rounding noise of the
#: ||x||^2 - 2 x.c + ||c||^2 expansion; zeroing them makes duplicates of a centre exactly 0 away.
_REL_TOL = 1e-10


Array = np.ndarray
#: What ``Strategy._rank`` returns: (indices, per-pool display values or None).
Ranked = tuple[np.ndarray, "np.ndarray | None"]


class SelectionWarning(UserWarning):
    """More frames were asked for than the pool holds; all of them were returned."""


def check_k(k: int, n: int, what: str) -> int:
    """Validate a selection size ``k`` for a pool of ``n`` (``k > n`` warns and returns n)."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise AlgesError(f"{what}: k must be a whole number, got {k!r}")
    if k < 0:
        raise AlgesError(f"{what}: k must be >= 0, got {k}")
    if k > n:
        warnings.warn(
            f"{what}: asked for {k} frames but the pool holds {n}; returning all {n}",
            SelectionWarning,
            stacklevel=3,
        )
        return n
    return int(k)


def as_matrix(x: np.ndarray, name: str, n: int | None = None) -> np.ndarray:
    """Validate a (N, D) real array (a 1-D array is one feature per frame) without copying."""
    a = np.asarray(x)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2:
        raise AlgesError(f"{name}: expected a 2-D (frames, features) array, got shape {a.shape}")
    if a.dtype.kind not in "biuf":
        raise AlgesError(f"{name}: expected real numbers, got dtype {a.dtype}")
    if n is not None and a.shape[0] != n:
        raise AlgesError(f"{name}: has {a.shape[0]} rows but the pool holds {n} frames")
    if a.dtype.kind != "f":
        a = a.astype(np.float64)
    rows = max(1, _BLOCK_ELEMS // max(1, a.shape[1]))
    for s in range(0, a.shape[0], rows):  # chunked: a bool copy of a 10^5 x 2000 badge is large
        bad = ~np.isfinite(a[s : s + rows]).all(axis=1)
        if bad.any():
            first = s + int(np.flatnonzero(bad)[0])
            raise AlgesError(f"{name}: NaN or infinite values (first at frame {first})")
    return a


def _row_sq_norms(x: np.ndarray) -> np.ndarray:
    rows = max(1, _BLOCK_ELEMS // max(1, x.shape[1]))
    out = np.empty(x.shape[0])
    for s in range(0, x.shape[0], rows):
        b = x[s : s + rows].astype(np.float64, copy=False)
        out[s : s + rows] = np.einsum("ij,ij->i", b, b)
        del b  # free this block before the next one is allocated
    if not np.isfinite(out).all():
        raise AlgesError("squared distances overflow float64; rescale the embedding")
    return out


def _sq_dist_blocks(x: np.ndarray, x_sq: np.ndarray, c: np.ndarray) -> Iterator[tuple[int, Array]]:
    """Yield ``(start, d)``: squared distances from row blocks of ``x`` to every row of ``c``.

    Each block holds about ``_BLOCK_ELEMS`` float64 values whatever N, the feature width and
    ``len(c)`` are, so callers that reduce blocks (:func:`_min_sq_dists`) stay memory-bounded.
    """
    c64 = np.asarray(c, dtype=np.float64)
    c_sq = np.einsum("ij,ij->i", c64, c64)
    # A block holds b (rows x D) and a few rows x m temporaries (scale, b @ c.T, d, the mask).
    rows = max(1, _BLOCK_ELEMS // max(1, x.shape[1] + 4 * c64.shape[0]))
    for s in range(0, x.shape[0], rows):
        b = x[s : s + rows].astype(np.float64, copy=False)
        scale = x_sq[s : s + rows, None] + c_sq[None, :]
        d = scale - 2.0 * (b @ c64.T)
        del b  # free this block before the next one is allocated
        d[d < _REL_TOL * scale] = 0.0  # also clamps negative rounding results
        yield s, d


def _sq_dists(x: np.ndarray, x_sq: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Squared Euclidean distances (N, m) from every row of ``x`` to each of a few rows ``c``."""
    out = np.empty((x.shape[0], len(c)))
    for s, d in _sq_dist_blocks(x, x_sq, c):
        out[s : s + len(d)] = d
    return out


def _min_sq_dists(x: np.ndarray, x_sq: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Squared distance from each row of ``x`` to its nearest row of ``c`` (any number of rows)."""
    best = np.full(x.shape[0], np.inf)
    for j in range(0, c.shape[0], 1024):  # bounds the float64 copy of a large labelled set
        for s, d in _sq_dist_blocks(x, x_sq, c[j : j + 1024]):
            np.minimum(best[s : s + len(d)], d.min(axis=1), out=best[s : s + len(d)])
    return best


# ---------------------------------------------------------------------------- centre finding


def kmeans_pp_ranked(
    emb: np.ndarray,
    k: int,
    seed: int,
    n_local_trials: int | None,
    groups: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """k-means++ seeding; returns (indices, squared distance of each pick at pick time).

    With ``groups`` (an int per frame), a pick removes its whole group from the draw: its
    frames get D^2 = 0, as if they were centres, so no two picks share a group while an
    unused group is left.

    The first pick is a uniform draw with no centre before it; its score is its squared
    distance to the pool's mean embedding, the one centre k-means would place before any pick,
    so it is in the same units as the later picks' D^2 and a queue shows a score on every row.
    """
    n = emb.shape[0]
    picks, pick_d2 = np.empty(k, dtype=np.int64), np.full(k, np.nan)
    if k == 0:
        return picks, pick_d2
    trials = 2 + int(np.log(k)) if n_local_trials is None else int(n_local_trials)
    if trials < 1:
        raise AlgesError(f"kmeans_pp_centres: n_local_trials must be >= 1, got {trials}")
    rng = np.random.RandomState(check_seed(seed))  # not a Generator: sklearn draws from this
    x_sq = _row_sq_norms(emb)
    # Same draw as sklearn's kmeans_plusplus (uniform sample weights) so the two agree.
    picks[0] = rng.choice(n, p=np.full(n, 1.0 / n))
    closest = _sq_dists(emb, x_sq, emb[picks[:1]])[:, 0]
    closest[picks[0]] = 0.0
    pick_d2[0] = float(((emb[picks[0]] - emb.mean(axis=0)) ** 2).sum())
    if groups is not None:
        closest[groups == groups[picks[0]]] = 0.0
    for c in range(1, k):
        pot = float(closest.sum())
        if not np.isfinite(pot):
            raise AlgesError("kmeans_pp_centres: squared distances overflow; rescale the embedding")
        if pot <= 0.0:
            # Every frame left coincides with a centre: D^2 sampling is undefined, and any
            # unpicked frame is as informative as another, so draw one at random.
            rest = _unpicked(n, picks[:c], groups)
            best, d2 = int(rest[rng.randint(rest.size)]), 0.0
        else:
            cand = _draw_candidates(closest, rng.uniform(size=trials) * pot)
            dist = np.minimum(closest[:, None], _sq_dists(emb, x_sq, emb[cand]))
            j = int(np.argmin(dist.sum(axis=0)))
            best, d2 = int(cand[j]), float(closest[cand[j]])
            closest = dist[:, j]
        picks[c], pick_d2[c] = best, d2
        closest[best] = 0.0
        if groups is not None:
            closest[groups == groups[best]] = 0.0
    return picks, pick_d2


def _unpicked(n: int, picks: np.ndarray, groups: np.ndarray | None) -> np.ndarray:
    """Frames not picked yet, from groups no pick belongs to while any such group is left."""
    rest = np.setdiff1d(np.arange(n), picks, assume_unique=True)
    if groups is not None:
        fresh = rest[~np.isin(groups[rest], groups[picks])]
        if fresh.size:
            return fresh
    return rest


def _draw_candidates(closest: np.ndarray, rand_vals: np.ndarray) -> np.ndarray:
    """Invert the D^2 cumulative sum, landing only on frames with a positive distance.

    sklearn clips overshooting draws to the last frame, which may already be a centre (and a
    draw of exactly 0 lands on frame 0 whatever its weight): that is how it returns duplicates.
    Here a zero draw goes to the first positive frame and overshoots to the last positive one.
    """
    cum = np.cumsum(closest)
    ids = np.searchsorted(cum, rand_vals)
    ids[rand_vals <= 0] = np.searchsorted(cum, 0.0, side="right")
    last_positive = int(np.flatnonzero(closest > 0)[-1])
    return np.minimum(ids, last_positive)


def check_seed(seed: int) -> int:
    """Validate a seed for numpy's RandomState (an integer in [0, 2**32))."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**32:
        raise AlgesError(f"seed must be an integer in [0, 2**32), got {seed!r}")
    return int(seed)


def kmeans_pp_centres(
    emb: np.ndarray, k: int, seed: int = 0, *, n_local_trials: int | None = None
) -> np.ndarray:
    """Pick ``k`` distinct frames by k-means++ seeding (D^2 sampling) of their embeddings.

    Follows :func:`sklearn.cluster.kmeans_plusplus` (the reference): the first centre is drawn
    uniformly, each next one is the best of ``n_local_trials`` D^2-weighted draws. On ordinary
    float64 data it returns the same indices as ``kmeans_plusplus(emb, k, random_state=seed)``.
    float32 input is cast to float64 block by block (sklearn keeps float32, and its float32
    cumulative D^2 sum over a large pool moves draws to neighbouring frames).
    Unlike sklearn it never repeats a frame: draws land only on frames a positive distance from
    every centre, and once every frame left coincides with a centre (all-equal or all-zero
    embeddings) the rest are drawn uniformly.

    Parameters
    ----------
    emb : ndarray (N, D)
        Real, finite embeddings of the pool (float32 is kept as is; distances use float64).
    k : int
        Number of centres. ``k > N`` returns all N frames with a :class:`SelectionWarning`.
    seed : int
        Seed of the ``numpy.random.RandomState`` used for every draw.
    n_local_trials : int, optional
        Draws per centre; default ``2 + int(log(k))`` as in sklearn. 1 is plain k-means++.

    Returns
    -------
    ndarray of int64, shape (min(k, N),)
        Frame indices in pick order. Raises AlgesError on NaN/inf or a bad ``k`` or ``seed``.
    """
    x = as_matrix(emb, "kmeans_pp_centres: emb")
    k = check_k(k, x.shape[0], "kmeans_pp_centres")
    return kmeans_pp_ranked(x, k, seed, n_local_trials)[0]


def k_center_ranked(
    features: np.ndarray, labelled: np.ndarray | None, k: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Greedy farthest-first; returns (indices, distance of each pick at pick time).

    Without a labelled set the first pick is a seeded draw; its score is its distance to the
    pool's mean feature vector (the centre before any pick), in the units of the others.
    """
    n = features.shape[0]
    picks, pick_d = np.empty(k, dtype=np.int64), np.full(k, np.nan)
    x_sq = _row_sq_norms(features)
    if labelled is not None:
        min_d2 = _min_sq_dists(features, x_sq, labelled)
    else:  # no labelled set: start from a seeded frame
        min_d2 = np.full(n, np.inf)
        first = int(np.random.default_rng(check_seed(seed)).integers(max(n, 1)))
    for c in range(k):
        if labelled is None and c == 0:
            best = first
            pick_d[c] = float(np.sqrt(((features[best] - features.mean(axis=0)) ** 2).sum()))
        else:
            best = int(np.argmax(min_d2))  # picked frames sit at -1, ties go to the lower index
            pick_d[c] = np.sqrt(min_d2[best])
        picks[c] = best
        np.minimum(min_d2, _sq_dists(features, x_sq, features[best : best + 1])[:, 0], out=min_d2)
        min_d2[best] = -1.0
    return picks, pick_d


def k_center_greedy(
    features: np.ndarray,
    labelled_features: np.ndarray | None,
    k: int,
    seed: int = 0,
) -> np.ndarray:
    """Core-set selection: greedily pick the frame farthest from everything chosen so far.

    Distances start from the labelled set when ``labelled_features`` is given (and non-empty),
    else from one frame drawn with ``seed``. Each step is one vectorised distance pass over the
    pool in float64 row blocks of about 16 MiB, whatever the pool's size.

    Parameters
    ----------
    features : ndarray (N, F)
        Pooled encoder features of the unlabelled pool.
    labelled_features : ndarray (L, F) or None
        Features of the already labelled frames.
    k : int
        Number of frames; ``k > N`` returns all N with a :class:`SelectionWarning`.
    seed : int
        Picks the first frame when there is no labelled set.

    Returns
    -------
    ndarray of int64, shape (min(k, N),)
        Distinct frame indices in pick order (ties go to the lower index).
    """
    x = as_matrix(features, "k_center_greedy: features")
    lab = labelled_matrix(labelled_features, x.shape[1], "k_center_greedy")
    k = check_k(k, x.shape[0], "k_center_greedy")
    return k_center_ranked(x, lab, k, seed)[0]


def labelled_matrix(labelled: np.ndarray | None, width: int, what: str) -> np.ndarray | None:
    """Validate the labelled set's features; an empty set counts as none."""
    if labelled is None:
        return None
    lab = as_matrix(labelled, f"{what}: labelled_features")
    if lab.shape[0] and lab.shape[1] != width:
        raise AlgesError(
            f"{what}: labelled_features have {lab.shape[1]} columns, the pool's features {width}"
        )
    return lab if lab.shape[0] else None
