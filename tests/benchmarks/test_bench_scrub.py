"""The statistics of benchmarks/bench_scrub.py, on hand-made step times."""

from __future__ import annotations

import math

import pytest

BENCHMARK = "bench_scrub"

def test_the_first_step_is_apart_from_the_rest(bench) -> None:
    # The rest: 10, 20, ..., 100 ms. Linear interpolation: the median halfway between 50 and
    # 60; the p95 at rank 0.95 * 9 = 8.55, between 90 and 100.
    stats = bench.step_stats([400.0] + [10.0 * k for k in range(10, 0, -1)])
    assert stats["first"] == 400.0 and stats["n"] == 10
    assert stats["median"] == pytest.approx(55.0)
    assert stats["p95"] == pytest.approx(90.0 + 0.55 * 10.0)
    assert stats["max"] == 100.0


def test_no_steps_after_the_first_give_nan(bench) -> None:
    one = bench.step_stats([12.0])
    assert one["first"] == 12.0 and one["n"] == 0
    assert all(math.isnan(one[k]) for k in ("median", "p95", "max"))
    assert math.isnan(bench.step_stats([])["first"])


def test_the_target_is_met_only_when_the_p95_is_under_it(bench) -> None:
    met = {"median": 20.0, "p95": 49.4}
    assert bench.target_line(met) == (
        "steps after the first: median 20 ms, p95 49 ms, target < 50 ms: met"
    )
    missed = {"median": 20.0, "p95": 50.0}
    assert bench.target_line(missed).endswith("target < 50 ms: not met")
