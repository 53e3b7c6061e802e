"""The measuring helpers of benchmarks/bench_round.py, on hand-made masks and progress."""

from __future__ import annotations

import numpy as np
import pytest

from alges_napari.core.progress import Progress

BENCHMARK = "bench_round"

def test_pixel_agreement_counts_labelled_pixels_only(bench) -> None:
    truth = np.array([[0, 1, 255], [2, 2, 255]], np.uint8)
    pred = np.array([[0, 2, 7], [2, 1, 9]], np.uint8)
    assert bench.pixel_agreement(pred, truth) == pytest.approx(2 / 4)  # 0 and one 2 agree
    assert np.isnan(bench.pixel_agreement(pred, np.full((2, 3), 255, np.uint8)))


def test_step_clock_times_the_steps_after_the_first(bench, monkeypatch) -> None:
    ticks = iter([10.0, 11.5, 13.0, 16.0])  # perf_counter at each step's progress
    cpu = iter([1.0, 2.0, 4.0, 5.0])
    monkeypatch.setattr(bench.time, "perf_counter", lambda: next(ticks))
    monkeypatch.setattr(bench.time, "process_time", lambda: next(cpu))
    clock = bench.StepClock()
    assert all(np.isnan(v) for v in clock.per_step())
    clock(Progress("score", 1, 2))  # not a step
    clock(Progress("train", warning="out of memory"))  # no loss: not a step either
    for i in range(4):
        clock(Progress("train", i + 1, 4, loss=1.0))
    assert clock.steps == 4
    assert clock.per_step() == pytest.approx(((16.0 - 10.0) / 3, (5.0 - 1.0) / 3))
