"""Learning curves: reading results.csv, averaging over repeats, area under the curve,
labels needed to reach random's final Dice, the summary files and the PNG plot."""

from __future__ import annotations

import csv
import math

import imageio.v3 as iio
import numpy as np
import pytest

from alges_napari.core.errors import AlgesError
from alges_napari.core.experiment import curves

COLUMNS = ["strategy", "repeat", "round", "n_labeled", "mean_dice", "dice_liver"]


def write_results(path, rows, columns=COLUMNS):
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(columns)
        w.writerows(rows)
    return path


# strategy "fast" reaches random's final Dice (0.5) at 20 labels; "slow" never does.
ROWS = [
    ("random", 0, 0, 10, 0.20, 0.1),
    ("random", 0, 1, 20, 0.40, 0.2),
    ("random", 0, 2, 30, 0.50, 0.3),
    ("random", 1, 0, 10, 0.20, 0.1),
    ("random", 1, 1, 20, 0.30, 0.2),
    ("random", 1, 2, 30, 0.50, 0.3),
    ("fast", 0, 0, 10, 0.20, 0.1),
    ("fast", 0, 1, 20, 0.60, 0.2),
    ("fast", 0, 2, 30, 0.70, 0.3),
    ("fast", 1, 0, 10, 0.20, 0.1),
    ("fast", 1, 1, 20, 0.40, 0.2),
    ("fast", 1, 2, 30, 0.60, 0.3),
    ("slow", 0, 0, 10, 0.20, 0.1),
    ("slow", 0, 1, 20, 0.30, 0.2),
    ("slow", 0, 2, 30, 0.40, 0.3),
    ("slow", 1, 0, 10, 0.20, 0.1),
    ("slow", 1, 1, 20, 0.30, 0.2),
    ("slow", 1, 2, 30, 0.45, 0.3),
]


def test_read_results_converts_types(tmp_path) -> None:
    write_results(tmp_path / "results.csv", [*ROWS[:2], ("random", 0, 3, 40, "", 0.5)])
    rows = curves.read_results(tmp_path)  # a folder finds its results.csv
    assert rows[0] == {
        "strategy": "random",
        "repeat": 0,
        "round": 0,
        "n_labeled": 10,
        "mean_dice": 0.2,
        "dice_liver": 0.1,
    }
    assert math.isnan(rows[2]["mean_dice"])  # an empty cell is an undefined Dice


def test_read_results_rejects_bad_files(tmp_path) -> None:
    with pytest.raises(AlgesError, match="cannot read results"):
        curves.read_results(tmp_path / "missing.csv")
    bad = write_results(tmp_path / "a.csv", [("random", 0, 0, 10)], COLUMNS[:4])
    with pytest.raises(AlgesError, match="mean_dice"):
        curves.read_results(bad)
    empty = write_results(tmp_path / "b.csv", [])
    with pytest.raises(AlgesError, match="no results"):
        curves.read_results(empty)
    wrong = write_results(tmp_path / "c.csv", [ROWS[0], ("random", 0, 1, "twenty", 0.4, 0.1)])
    with pytest.raises(AlgesError, match="line 3"):
        curves.read_results(wrong)


def test_learning_curves_mean_and_spread(tmp_path) -> None:
    rows = curves.read_results(write_results(tmp_path / "r.csv", ROWS))
    lc = curves.learning_curves(rows)
    assert list(lc) == ["random", "fast", "slow"]
    fast = lc["fast"]
    np.testing.assert_array_equal(fast.n_labeled, [10, 20, 30])
    np.testing.assert_allclose(fast.mean, [0.2, 0.5, 0.65])
    # sample standard deviation of two values a, b is |a - b| / sqrt(2)
    np.testing.assert_allclose(fast.std, [0.0, 0.2 / math.sqrt(2), 0.1 / math.sqrt(2)])
    assert fast.repeats == 2
    liver = curves.learning_curves(rows, "dice_liver")["slow"]
    np.testing.assert_allclose(liver.mean, [0.1, 0.2, 0.3])


def test_unfinished_repeat_shortens_the_curve(tmp_path) -> None:
    rows = curves.read_results(write_results(tmp_path / "r.csv", [*ROWS[:5]]))
    random = curves.learning_curves(rows)["random"]
    # repeat 1 has only reached 20 labels: the 30-label point would be repeat 0 alone
    np.testing.assert_array_equal(random.n_labeled, [10, 20])
    np.testing.assert_allclose(random.mean, [0.2, 0.35])


def test_normalised_auc_is_trapezoid_over_range() -> None:
    n, y = np.array([10, 20, 30]), np.array([0.2, 0.4, 0.5])
    assert curves.normalised_auc(n, y, 10, 30) == pytest.approx((0.3 * 10 + 0.45 * 10) / 20)
    assert curves.normalised_auc(n, y, 10, 20) == pytest.approx(0.3)
    assert curves.normalised_auc(n, y, 20, 20) == pytest.approx(0.4)
    assert math.isnan(curves.normalised_auc(n, np.array([0.2, np.nan, 0.5]), 10, 30))


def test_summary_labels_to_reach_random(tmp_path) -> None:
    rows = curves.read_results(write_results(tmp_path / "r.csv", ROWS))
    summary = {row["strategy"]: row for row in curves.summarise(curves.learning_curves(rows))}
    assert summary["random"]["labels_to_reach_random"] == 30
    assert summary["fast"]["labels_to_reach_random"] == 20
    assert summary["slow"]["labels_to_reach_random"] == curves.NOT_REACHED
    assert summary["fast"]["final_mean_dice"] == pytest.approx(0.65)
    # fast: points (10, .2), (20, .5), (30, .65) -> ((.35 + .575) * 10) / 20
    assert summary["fast"]["auc_normalised"] == pytest.approx(0.4625)
    assert summary["slow"]["auc_range"] == "10-30"
    no_random = curves.summarise(
        curves.learning_curves([r for r in rows if r["strategy"] != "random"])
    )
    assert no_random[0]["labels_to_reach_random"] == "no random baseline"


def test_auc_uses_the_range_every_strategy_covers(tmp_path) -> None:
    short = [r for r in ROWS if not (r[0] == "slow" and r[3] == 30)]
    rows = curves.read_results(write_results(tmp_path / "r.csv", short))
    summary = {row["strategy"]: row for row in curves.summarise(curves.learning_curves(rows))}
    assert summary["fast"]["auc_range"] == "10-20"
    assert summary["fast"]["auc_normalised"] == pytest.approx(0.35)


def test_summary_files_and_plot(tmp_path) -> None:
    rows = curves.read_results(write_results(tmp_path / "r.csv", ROWS))
    lc = curves.learning_curves(rows)
    summary = curves.summarise(lc)
    csv_path, md_path = curves.write_summary(summary, tmp_path / "out")
    with open(csv_path, newline="") as fh:
        table = list(csv.DictReader(fh))
    assert [r["strategy"] for r in table] == ["random", "fast", "slow"]
    assert table[2]["labels_to_reach_random"] == "not reached"
    assert float(table[1]["auc_normalised"]) == pytest.approx(0.4625, abs=1e-4)
    md = md_path.read_text()
    assert md.startswith("| strategy |") and "| fast | 2 | 30 | 0.6500 |" in md
    png = curves.plot_curves(lc, tmp_path / "out" / "curves.png")
    image = iio.imread(png)
    assert image.shape[:2] == (540, 840)  # 7 x 4.5 inches at 120 dpi
    assert image[..., :3].std() > 10  # something was drawn
    with pytest.raises(AlgesError, match="no curves"):
        curves.plot_curves({}, tmp_path / "empty.png")
