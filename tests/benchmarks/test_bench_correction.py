"""The counting helpers of benchmarks/bench_correction.py on a hand-made two-region frame."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_correction.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_correction", _PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _frame() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """40 x 40: class 1 on rows 10-19 (a 10 x 40 band), class 0 elsewhere; predicted all 0.

    Superpixels are 10 x 10 blocks, so the band is exactly four of them, side by side.
    """
    truth = np.zeros((40, 40), np.uint8)
    truth[10:20] = 1
    sp = (np.arange(40)[:, None] // 10) * 4 + np.arange(40)[None, :] // 10
    return truth, np.zeros_like(truth), sp


def test_one_drag_along_the_band_fixes_it(bench):
    truth, ann, sp = _frame()
    assert bench.agreement(ann, truth) == 0.75
    # One wrong region; its skeleton runs along the band through all four superpixels.
    skel, drags = bench._skeleton(ann != truth, bench.RADII[0])
    assert drags == 1
    assert sorted(np.unique(sp[skel])) == [4, 5, 6, 7]
    assert bench.drags_correct(ann, truth, sp, 2) == (1, 0, 0)
    np.testing.assert_array_equal(ann, truth)


def test_clicks_need_one_per_superpixel(bench):
    truth, ann, sp = _frame()
    # A fill cannot help (the one region of label 0 is 3/4 class 0), so (b) clicks: 1 per block,
    # until 95 % agreement: 3 clicks leave 100 of 1600 pixels wrong (93.75 %), the 4th fixes them.
    assert bench.tools_correct(ann, truth, sp, 2) == (4, 0, 0)
    np.testing.assert_array_equal(ann, truth)


def test_a_drag_that_spoils_more_than_it_fixes_is_not_made(bench):
    # 20 x 20, four 10 x 10 superpixels; class 1 on a 6 x 6 square inside block 0 (91 % agree).
    truth = np.zeros((20, 20), np.uint8)
    truth[2:8, 2:8] = 1
    sp = (np.arange(20)[:, None] // 10) * 2 + np.arange(20)[None, :] // 10
    # Painting block 0 would fix 36 pixels and spoil 64, and a fill of the one region of label 0
    # gains nothing: the brush of model (a) finishes, with as many strokes as (a) alone.
    strokes = bench.brush_correct(np.zeros_like(truth), truth)
    assert strokes > 0
    ann = np.zeros_like(truth)
    assert bench.drags_correct(ann, truth, sp, 2) == (0, 0, strokes)
    assert bench.agreement(ann, truth) >= bench.TARGET


def test_ratio_interval_pools_frames_as_a_ratio_of_sums(bench):
    num, den = np.array([1, 2, 3, 10]), np.array([2, 4, 6, 20])
    assert bench.ratio_interval(num, den) == (0.5, 0.5, 0.5)  # every frame at 1/2: no spread
    r, lo, hi = bench.ratio_interval(np.array([0, 10]), np.array([10, 10]))
    assert r == 0.5 and lo == 0.0 and hi == 1.0


def test_model_d_drags_at_the_coarseness_that_fixes_most_per_stroke(bench):
    # Class 1 on rows 0-19 of 40 x 40: the skeleton runs along row ~10, where one drag crosses
    # one row of fine 10 x 10 blocks but both 20 x 20 coarse blocks that make up the band.
    truth = np.zeros((40, 40), np.uint8)
    truth[:20] = 1
    fine = (np.arange(40)[:, None] // 10) * 4 + np.arange(40)[None, :] // 10
    coarse = (np.arange(40)[:, None] // 20) * 2 + np.arange(40)[None, :] // 20
    ann = np.zeros_like(truth)
    assert bench.drags_correct(ann, truth, [fine, coarse], 2) == (1, 0, 0)
    np.testing.assert_array_equal(ann, truth)
    fine_only = np.zeros_like(truth)
    drags, fills, strokes = bench.drags_correct(fine_only, truth, fine, 2)
    assert drags + fills + strokes > 1  # fine alone needs more than the one coarse drag
    # On the band of _frame() a coarse drag would spoil as much as it fixes: (d) drags fine.
    truth, ann, fine = _frame()
    assert bench.drags_correct(ann, truth, [fine, coarse], 2) == (1, 0, 0)
    np.testing.assert_array_equal(ann, truth)
