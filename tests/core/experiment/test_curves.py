"""Learning curves: reading results.csv (old and new layouts), averaging over repeats, the
full-pool reference, the area under the curve and the labels needed to reach a target."""

from __future__ import annotations

import math

import numpy as np
import pytest

from alges_napari.core.errors import AlgesError
from alges_napari.core.experiment import curves


def test_read_results_converts_types(results_files, tmp_path) -> None:
    rows = results_files.ROWS
    results_files.write([*rows[:2], ("random", 0, 3, 40, "", 0.5)])
    rows = curves.read_results(tmp_path)  # a folder finds its results.csv
    assert rows[0] == {
        "strategy": "random",
        "repeat": 0,
        "round": 0,
        "n_labelled": 10,
        "mean_dice": 0.2,
        "dice_liver": 0.1,
    }
    assert math.isnan(rows[2]["mean_dice"])  # an empty cell is an undefined Dice


def test_read_results_rejects_bad_files(results_files, tmp_path) -> None:
    with pytest.raises(AlgesError, match="cannot read results"):
        curves.read_results(tmp_path / "missing.csv")
    columns = results_files.COLUMNS
    bad = results_files.write([("random", 0, 0, 10)], columns[:4], "a.csv")
    with pytest.raises(AlgesError, match="mean_dice"):
        curves.read_results(bad)
    empty = results_files.write([], name="b.csv")
    with pytest.raises(AlgesError, match="no results"):
        curves.read_results(empty)
    wrong = [results_files.ROWS[0], ("random", 0, 1, "twenty", 0.4, 0.1)]
    with pytest.raises(AlgesError, match="line 3"):
        curves.read_results(results_files.write(wrong, name="c.csv"))


def test_learning_curves_mean_and_spread(results_files) -> None:
    rows = results_files.old()
    lc = curves.learning_curves(rows)
    assert list(lc) == ["random", "fast", "slow"]
    fast = lc["fast"]
    np.testing.assert_array_equal(fast.n_labelled, [10, 20, 30])
    np.testing.assert_allclose(fast.mean, [0.2, 0.5, 0.65])
    # sample standard deviation of two values a, b is |a - b| / sqrt(2)
    np.testing.assert_allclose(fast.std, [0.0, 0.2 / math.sqrt(2), 0.1 / math.sqrt(2)])
    assert fast.repeats == 2
    # the per-repeat values are kept for paired statistics, a column per repeat
    assert fast.repeat_ids == (0, 1)
    np.testing.assert_allclose(fast.values, [[0.2, 0.2], [0.6, 0.4], [0.7, 0.6]])
    liver = curves.learning_curves(rows, "dice_liver")["slow"]
    np.testing.assert_allclose(liver.mean, [0.1, 0.2, 0.3])
    with pytest.raises(AlgesError, match="no column 'dice_cat'"):
        curves.learning_curves(rows, "dice_cat")


def test_unfinished_repeat_shortens_the_curve(results_files) -> None:
    random = curves.learning_curves(results_files.old(results_files.ROWS[:5]))["random"]
    # repeat 1 has only reached 20 labels: the 30-label point would be repeat 0 alone
    np.testing.assert_array_equal(random.n_labelled, [10, 20])
    np.testing.assert_allclose(random.mean, [0.2, 0.35])
    assert random.values.shape == (2, 2)


def test_full_pool_rows_are_a_reference_not_a_curve(results_files) -> None:
    rows = results_files.new()
    assert rows[0]["strategy"] == "full-pool"
    lc = curves.learning_curves(rows)
    assert list(lc) == ["random", "fast", "slow"]  # no "full-pool", though it comes first
    assert curves.common_range(lc) == (10.0, 30.0)  # its 400 frames do not widen the range
    assert curves.full_pool_score(rows) == pytest.approx(0.85)  # mean over the two repeats
    assert curves.full_pool_score(rows, "dice_liver") == pytest.approx(0.7)
    assert curves.has_values(rows, curves.CORRECTION_COLUMN)
    cost = curves.learning_curves(rows, curves.CORRECTION_COLUMN)["fast"]
    np.testing.assert_allclose(cost.mean, [1000, 2000, 3000])


def test_old_results_without_new_columns_or_rows_load(results_files) -> None:
    rows = results_files.old()
    assert "corrected_px_total" not in rows[0]
    assert not curves.has_values(rows, curves.CORRECTION_COLUMN)
    assert math.isnan(curves.full_pool_score(rows))
    # a new-layout file whose correction cells are all empty is no different
    blank = [(*row, "", "", "", "") for row in results_files.ROWS]
    rows = curves.read_results(results_files.write(blank, results_files.NEW_COLUMNS, "b.csv"))
    assert not curves.has_values(rows, curves.CORRECTION_COLUMN)
    assert math.isnan(rows[0]["corrected_px"])


def test_common_range_needs_a_point() -> None:
    with pytest.raises(AlgesError, match="no curves"):
        curves.common_range({})


def test_normalised_auc_is_trapezoid_over_range() -> None:
    n, y = np.array([10, 20, 30]), np.array([0.2, 0.4, 0.5])
    assert curves.normalised_auc(n, y, 10, 30) == pytest.approx((0.3 * 10 + 0.45 * 10) / 20)
    assert curves.normalised_auc(n, y, 10, 20) == pytest.approx(0.3)
    assert curves.normalised_auc(n, y, 20, 20) == pytest.approx(0.4)
    assert math.isnan(curves.normalised_auc(n, np.array([0.2, np.nan, 0.5]), 10, 30))


def test_labels_to_reach() -> None:
    n, y = np.array([10, 20, 30]), np.array([0.2, 0.5, 0.45])
    assert curves.labels_to_reach(n, y, 0.5) == 20  # the first count at or above the target
    assert curves.labels_to_reach(n, y, 0.45) == 20
    assert curves.labels_to_reach(n, y, 0.51) is None
