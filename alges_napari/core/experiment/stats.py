"""Paired statistics of learning curves: a strategy against random, repeat by repeat.

Every repeat of an experiment draws its own test split, initial labels and seeds, and every
strategy of that repeat starts from them. So the fair comparison of a strategy with random is
paired by repeat: ``d_r = AUC_strategy(r) - AUC_random(r)``, where the AUC is the normalised
trapezoid area of repeat ``r``'s curve over the label range every strategy covers
(:func:`~alges_napari.core.experiment.curves.normalised_auc`). The trapezoid is linear in the
values, so the mean of ``d_r`` over the repeats equals the difference of the mean curves' AUCs
when both strategies ran the same repeats.

The interval on the mean of ``d_r`` is a percentile bootstrap: resample the repeats with
replacement (``n_resamples`` times, from a seeded ``numpy.random.default_rng``), take the mean
of each resample, and report the ``(1 - level) / 2`` and ``(1 + level) / 2`` percentiles of those
means (numpy's default linear interpolation). With one repeat there is nothing to resample and
the interval is undefined (NaN). With few repeats read it as descriptive: R repeats allow only
``C(2R - 1, R)`` distinct resamples (10 for R = 3), the interval never leaves ``[min d, max d]``,
and the percentile bootstrap is known to be too narrow for such small samples.

Beside it stands the **paired t-interval** ``mean ± t_{(1+level)/2, R-1} · sd / sqrt(R)`` (sd
with ddof 1), which is honest about few repeats, and the **smallest detectable difference** of
that design: the true mean difference a two-sided paired t-test at ``1 - level`` would detect
with 80 % power, ``(t_{(1+level)/2, R-1} + t_{0.8, R-1}) · sd / sqrt(R)`` (the usual
approximation that plugs the observed sd in). A null result is "inconclusive" below that size.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from alges_napari.core.experiment.curves import Curve, normalised_auc

#: Default number of bootstrap resamples, confidence level and seed.
N_RESAMPLES = 10_000
CI_LEVEL = 0.95
SEED = 0


@dataclass(frozen=True)
class PairedDifference:
    """A strategy's AUC minus the baseline's, paired by repeat.

    Attributes
    ----------
    mean : float
        Mean over the paired repeats of ``d_r`` (NaN without pairs or with a NaN AUC).
    ci_low, ci_high : float
        Percentile-bootstrap interval of that mean (NaN with fewer than two pairs).
    t_low, t_high : float
        Paired t-interval of that mean (:func:`t_interval`; NaN with fewer than two pairs).
    detectable : float
        Smallest mean difference the pairs detect with 80 % power (:func:`t_interval`).
    wins : int
        Paired repeats where the strategy's AUC is larger than the baseline's.
    repeat_ids : tuple of int
        The repeats both curves have, increasing.
    differences : ndarray (len(repeat_ids),)
        ``d_r`` for each of them.
    """

    mean: float
    ci_low: float
    ci_high: float
    wins: int
    repeat_ids: tuple[int, ...] = ()
    differences: np.ndarray = field(default_factory=lambda: np.zeros(0))
    t_low: float = math.nan
    t_high: float = math.nan
    detectable: float = math.nan


def bootstrap_mean_ci(
    values: Sequence[float] | np.ndarray,
    n_resamples: int = N_RESAMPLES,
    level: float = CI_LEVEL,
    seed: int = SEED,
) -> tuple[float, float, float]:
    """Mean of ``values`` and its percentile-bootstrap confidence interval.

    Parameters
    ----------
    values : sequence of float
        One value per independent unit (here: per repeat).
    n_resamples : int
        Resamples of ``len(values)`` values drawn with replacement.
    level : float
        Confidence level in (0, 1).
    seed : int
        Seed of ``numpy.random.default_rng``; the same seed gives the same interval.

    Returns
    -------
    mean, low, high : float
        ``low`` and ``high`` are the ``(1 - level) / 2`` and ``(1 + level) / 2`` percentiles
        of the resampled means. All NaN for no values or a non-finite one; the interval is NaN
        for a single value.
    """
    v = np.asarray(values, dtype=float).ravel()
    if len(v) == 0 or not np.isfinite(v).all():
        return math.nan, math.nan, math.nan
    mean = float(v.mean())
    if len(v) < 2:
        return mean, math.nan, math.nan
    if not 0 < level < 1 or n_resamples < 1:
        raise ValueError(f"need 0 < level < 1 and n_resamples >= 1, got {level}, {n_resamples}")
    rng = np.random.default_rng(seed)
    means = v[rng.integers(0, len(v), size=(n_resamples, len(v)))].mean(axis=1)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return mean, float(low), float(high)


#: Power at which :func:`t_interval` states the smallest detectable difference.
POWER = 0.8


def t_interval(
    values: Sequence[float] | np.ndarray, level: float = CI_LEVEL, power: float = POWER
) -> tuple[float, float, float]:
    """Student-t interval of the mean of ``values`` and the smallest detectable difference.

    Parameters
    ----------
    values : sequence of float
        One paired difference per independent unit (repeat).
    level : float
        Confidence level in (0, 1) (two-sided test at ``1 - level``).
    power : float
        Power at which the detectable difference is stated.

    Returns
    -------
    low, high, detectable : float
        ``mean -/+ t_{(1+level)/2, n-1} sd / sqrt(n)`` and
        ``(t_{(1+level)/2, n-1} + t_{power, n-1}) sd / sqrt(n)``; all NaN with fewer than two
        values or a non-finite one.
    """
    from scipy import stats

    v = np.asarray(values, dtype=float).ravel()
    if len(v) < 2 or not np.isfinite(v).all():
        return math.nan, math.nan, math.nan
    if not 0 < level < 1 or not 0 < power < 1:
        raise ValueError(f"need 0 < level < 1 and 0 < power < 1, got {level}, {power}")
    df = len(v) - 1
    se = float(v.std(ddof=1)) / math.sqrt(len(v))
    t_crit = float(stats.t.ppf((1 + level) / 2, df))
    mean = float(v.mean())
    return mean - t_crit * se, mean + t_crit * se, (t_crit + float(stats.t.ppf(power, df))) * se


def repeat_aucs(curve: Curve, lo: float, hi: float) -> dict[int, float]:
    """Normalised AUC of each repeat's own curve over ``[lo, hi]``, by repeat number."""
    return {
        r: normalised_auc(curve.n_labelled, curve.values[:, j], lo, hi)
        for j, r in enumerate(curve.repeat_ids)
    }


def paired_auc_difference(
    curve: Curve,
    baseline: Curve,
    lo: float,
    hi: float,
    n_resamples: int = N_RESAMPLES,
    level: float = CI_LEVEL,
    seed: int = SEED,
) -> PairedDifference:
    """``curve``'s normalised AUC minus ``baseline``'s, paired by repeat, with a bootstrap CI.

    Parameters
    ----------
    curve, baseline : Curve
        From :func:`~alges_napari.core.experiment.curves.learning_curves`; only the repeats
        both have are paired.
    lo, hi : float
        Label range of the AUC (the range every strategy covers).
    n_resamples, level, seed
        As :func:`bootstrap_mean_ci`, which resamples the repeats; ``level`` is also the
        t-interval's.

    Returns
    -------
    PairedDifference
    """
    ours, theirs = repeat_aucs(curve, lo, hi), repeat_aucs(baseline, lo, hi)
    ids = tuple(sorted(set(ours) & set(theirs)))
    d = np.array([ours[r] - theirs[r] for r in ids], dtype=float)
    mean, low, high = bootstrap_mean_ci(d, n_resamples, level, seed)
    t_low, t_high, detectable = t_interval(d, level)
    return PairedDifference(
        mean, low, high, int(np.sum(d > 0)), ids, d, t_low, t_high, detectable
    )
