"""Paired statistics: the percentile bootstrap of a mean over repeats, and a strategy's AUC
minus random's paired by repeat, on constructed curves with known answers."""

from __future__ import annotations

import inspect
import itertools
import math

import numpy as np
import pytest

from alges_napari.core.experiment.curves import Curve, normalised_auc
from alges_napari.core.experiment.stats import bootstrap_mean_ci, paired_auc_difference

N = np.array([10, 20, 30, 40])
RANDOM = np.array(
    [  # one column per repeat: 0, 1, 2
        [0.10, 0.12, 0.08],
        [0.30, 0.25, 0.35],
        [0.45, 0.50, 0.40],
        [0.60, 0.55, 0.65],
    ]
)


def curve(name: str, values: np.ndarray, ids: tuple[int, ...] = (0, 1, 2)) -> Curve:
    std = values.std(axis=1, ddof=1) if len(ids) > 1 else np.zeros(len(values))
    return Curve(name, N, values.mean(axis=1), std, len(ids), values, ids)


def test_constant_differences_give_a_point_interval() -> None:
    # every repeat's curve is random's + 0.1 at every label count: d_r = 0.1 exactly
    base, better = curve("random", RANDOM), curve("better", RANDOM + 0.1)
    paired = paired_auc_difference(better, base, 10, 40)
    np.testing.assert_allclose(paired.differences, [0.1, 0.1, 0.1])
    assert paired.mean == pytest.approx(0.1)
    assert paired.ci_low == pytest.approx(0.1) and paired.ci_high == pytest.approx(0.1)
    assert paired.wins == 3 and paired.repeat_ids == (0, 1, 2)


def test_symmetric_differences_give_zero_mean_and_an_interval_around_zero() -> None:
    # repeat 0 loses 0.1, repeat 1 ties, repeat 2 wins 0.1
    shifted = curve("mixed", RANDOM + np.array([-0.1, 0.0, 0.1]))
    paired = paired_auc_difference(shifted, curve("random", RANDOM), 10, 40)
    np.testing.assert_allclose(paired.differences, [-0.1, 0.0, 0.1], atol=1e-12)
    assert paired.mean == pytest.approx(0.0, abs=1e-12)
    assert paired.ci_low < 0 < paired.ci_high
    # a resampled mean of 3 values is -0.1 with probability 1/27 > 2.5 %: the exact answer
    assert paired.ci_low == pytest.approx(-0.1) and paired.ci_high == pytest.approx(0.1)
    assert paired.wins == 1


def test_mean_difference_equals_difference_of_mean_curve_aucs() -> None:
    rng = np.random.default_rng(3)
    other = curve("other", RANDOM + rng.normal(0, 0.05, RANDOM.shape))
    base = curve("random", RANDOM)
    paired = paired_auc_difference(other, base, 20, 40)
    expected = normalised_auc(N, other.mean, 20, 40) - normalised_auc(N, base.mean, 20, 40)
    assert paired.mean == pytest.approx(expected)


def test_only_repeats_both_curves_have_are_paired() -> None:
    two = curve("two", RANDOM[:, :2] + 0.05, ids=(0, 1))
    paired = paired_auc_difference(two, curve("random", RANDOM), 10, 40)
    assert paired.repeat_ids == (0, 1)
    np.testing.assert_allclose(paired.differences, [0.05, 0.05])
    one = curve("one", RANDOM[:, 2:] - 0.02, ids=(2,))
    single = paired_auc_difference(one, curve("random", RANDOM), 10, 40)
    assert single.mean == pytest.approx(-0.02)  # one repeat: a difference, but no interval
    assert math.isnan(single.ci_low) and math.isnan(single.ci_high) and single.wins == 0
    none = paired_auc_difference(curve("x", RANDOM[:, :1], ids=(7,)), one, 10, 40)
    assert none.repeat_ids == () and math.isnan(none.mean) and none.wins == 0


def exact_percentiles(values: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """The bootstrap distribution of the mean enumerated over all n**n index tuples."""
    means = np.sort([np.mean(t) for t in itertools.product(values, repeat=len(values))])
    cdf = np.arange(1, len(means) + 1) / len(means)
    tail = (1 - level) / 2
    return means[np.searchsorted(cdf, tail)], means[np.searchsorted(cdf, 1 - tail)]


def test_bootstrap_matches_exact_enumeration_and_scipy() -> None:
    d = np.array([0.03, -0.01, 0.02, 0.05, -0.02])
    mean, low, high = bootstrap_mean_ci(d, n_resamples=10_000, seed=0)
    assert mean == pytest.approx(0.014)
    exact_low, exact_high = exact_percentiles(d)
    assert low == pytest.approx(exact_low, abs=0.003)
    assert high == pytest.approx(exact_high, abs=0.003)
    stats = pytest.importorskip("scipy.stats")
    seed_kw = "rng" if "rng" in inspect.signature(stats.bootstrap).parameters else "random_state"
    ref = stats.bootstrap(
        (d,),
        np.mean,
        method="percentile",
        n_resamples=10_000,
        **{seed_kw: np.random.default_rng(1)},
    ).confidence_interval
    # another seed, so the two Monte Carlo estimates agree only to within their noise
    assert low == pytest.approx(ref.low, abs=0.003) and high == pytest.approx(ref.high, abs=0.003)


def test_bootstrap_is_seeded_and_handles_degenerate_input() -> None:
    d = np.array([0.1, -0.2, 0.05, 0.3])
    assert bootstrap_mean_ci(d, seed=5) == bootstrap_mean_ci(d, seed=5)
    assert bootstrap_mean_ci(d, n_resamples=200, seed=5) != bootstrap_mean_ci(d, 200, seed=6)
    assert all(math.isnan(v) for v in bootstrap_mean_ci([]))
    assert all(math.isnan(v) for v in bootstrap_mean_ci([0.1, math.nan]))
    mean, low, high = bootstrap_mean_ci([0.25])
    assert mean == 0.25 and math.isnan(low) and math.isnan(high)
    with pytest.raises(ValueError, match="level"):
        bootstrap_mean_ci(d, level=1.5)


# ---------------------------------------------------------------- paired t-interval


def test_t_interval_is_scipys_one_sample_interval() -> None:
    from scipy import stats

    from alges_napari.core.experiment.stats import t_interval

    rng = np.random.default_rng(4)
    for n in (2, 3, 7, 12):
        d = rng.normal(0.01, 0.02, size=n)
        low, high, detectable = t_interval(d)
        ci = stats.ttest_1samp(d, 0.0).confidence_interval(0.95)
        assert (low, high) == pytest.approx((ci.low, ci.high), abs=1e-12)
        assert detectable > (high - low) / 2  # more than the interval's half width


def test_smallest_detectable_difference_has_about_80_percent_power() -> None:
    """At the stated difference, a two-sided paired t-test at 5 % rejects about 80 % of the
    time (exact power from the noncentral t with the observed sd taken as the true one)."""
    from scipy import stats

    from alges_napari.core.experiment.stats import t_interval

    d = np.array([0.03, -0.01, 0.02, 0.00, 0.04, -0.02, 0.01, 0.03, 0.00, 0.02])
    _, _, detectable = t_interval(d)
    n, sd = len(d), d.std(ddof=1)
    crit = stats.t.ppf(0.975, n - 1)
    nc = detectable / (sd / math.sqrt(n))
    power = stats.nct.sf(crit, n - 1, nc) + stats.nct.cdf(-crit, n - 1, nc)
    assert 0.78 <= power <= 0.84


def test_t_interval_needs_two_finite_values() -> None:
    from alges_napari.core.experiment.stats import t_interval

    assert all(math.isnan(v) for v in t_interval([0.1]))
    assert all(math.isnan(v) for v in t_interval([0.1, math.nan, 0.2]))


def test_paired_difference_carries_the_t_interval() -> None:
    from scipy import stats

    base = curve("random", RANDOM)
    other = RANDOM + np.array([[0.02, 0.05, -0.01]])  # d_r = 0.02, 0.05, -0.01
    paired = paired_auc_difference(curve("x", other), base, 10, 40)
    ci = stats.ttest_1samp([0.02, 0.05, -0.01], 0.0).confidence_interval(0.95)
    assert paired.t_low == pytest.approx(ci.low) and paired.t_high == pytest.approx(ci.high)
