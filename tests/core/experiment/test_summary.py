"""The summary: its columns on hand-made rows (paired AUC difference, labels to reach random's
final Dice, fraction of the full-pool Dice, correction), summary.csv and the Markdown table."""

from __future__ import annotations

import csv
import math

import pytest
from scipy import stats

from alges_napari.core.experiment import curves, summary


def summary_of(rows, **kwargs):
    lc = curves.learning_curves(rows)
    return {row["strategy"]: row for row in summary.summarise(lc, **kwargs)}


@pytest.fixture
def old_rows(results_files):
    return results_files.old()


@pytest.fixture
def new_rows(results_files):
    return results_files.new()


def test_summary_columns_in_order(old_rows) -> None:
    rows = summary.summarise(curves.learning_curves(old_rows))
    assert [r["strategy"] for r in rows] == ["random", "fast", "slow"]
    assert all(tuple(r) == summary.COLUMNS for r in rows)
    assert summary.summarise({}) == []


def test_labels_to_random_final(old_rows) -> None:
    table = summary_of(old_rows)
    assert table["random"]["labels_to_random_final"] == 30  # random's own final count
    assert table["fast"]["labels_to_random_final"] == 20
    assert table["slow"]["labels_to_random_final"] is None  # 0.425 never reaches 0.5
    no_random = summary_of([r for r in old_rows if r["strategy"] != "random"])
    assert no_random["fast"]["labels_to_random_final"] is None
    assert no_random["fast"]["auc_minus_random"] is None


def test_auc_and_paired_difference(old_rows) -> None:
    table = summary_of(old_rows)
    fast = table["fast"]
    assert fast["final_mean_dice"] == pytest.approx(0.65)
    # fast: points (10, .2), (20, .5), (30, .65) -> ((.35 + .575) * 10) / 20
    assert fast["auc_normalised"] == pytest.approx(0.4625)
    assert fast["auc_range"] == "10-30"
    # repeat 0: fast .525 - random .375; repeat 1: .4 - .325 -> d = (.15, .075), and the
    # mean .1125 is fast's AUC minus random's (.4625 - .35): the trapezoid is linear
    assert fast["auc_minus_random"] == pytest.approx(0.1125)
    # two repeats: the resampled means are .075, .1125 or .15, and 25 % of them .075
    assert fast["auc_minus_random_ci_low"] == pytest.approx(0.075)
    assert fast["auc_minus_random_ci_high"] == pytest.approx(0.15)
    assert (fast["wins"], fast["paired_repeats"]) == (2, 2)
    # slow: repeat 0 .3 - .375, repeat 1 .3125 - .325
    assert table["slow"]["auc_minus_random"] == pytest.approx((-0.075 - 0.0125) / 2)
    assert table["slow"]["wins"] == 0
    assert table["random"]["auc_minus_random"] is None and table["random"]["wins"] is None


def test_auc_uses_the_range_every_strategy_covers(results_files) -> None:
    short = [r for r in results_files.ROWS if not (r[0] == "slow" and r[3] == 30)]
    table = summary_of(results_files.old(short))
    assert table["fast"]["auc_range"] == "10-20"
    assert table["fast"]["auc_normalised"] == pytest.approx(0.35)


def test_fraction_of_full_and_correction(new_rows) -> None:
    lc = curves.learning_curves(new_rows)
    costs = curves.learning_curves(new_rows, curves.CORRECTION_COLUMN)
    full = curves.full_pool_score(new_rows)
    table = {r["strategy"]: r for r in summary.summarise(lc, full_pool=full, costs=costs)}
    assert table["fast"]["full_pool_dice"] == pytest.approx(0.85)
    assert table["fast"]["fraction_of_full"] == pytest.approx(0.65 / 0.85)
    assert table["random"]["fraction_of_full"] == pytest.approx(0.5 / 0.85)
    assert table["fast"]["final_corrected_px_total"] == pytest.approx(3000)
    assert table["fast"]["corrected_px_to_random_final"] == pytest.approx(2000)
    assert math.isnan(table["slow"]["corrected_px_to_random_final"])  # never reached


def test_old_results_leave_the_new_columns_empty(old_rows) -> None:
    fast = summary_of(old_rows, full_pool=curves.full_pool_score(old_rows))["fast"]
    assert math.isnan(fast["full_pool_dice"]) and math.isnan(fast["fraction_of_full"])
    assert math.isnan(fast["final_corrected_px_total"])


def test_single_repeat_has_no_interval(results_files) -> None:
    table = summary_of(results_files.old([r for r in results_files.ROWS if r[1] == 0]))
    fast = table["fast"]
    assert fast["auc_minus_random"] == pytest.approx(0.15)
    assert math.isnan(fast["auc_minus_random_ci_low"])
    assert math.isnan(fast["auc_minus_random_ci_high"])
    md = summary.format_markdown(list(table.values()))
    assert "+0.1500 (no CI: 1 repeat)" in md


def test_summary_files(tmp_path, old_rows) -> None:
    table = summary.summarise(curves.learning_curves(old_rows))
    csv_path, md_path = summary.write_summary(table, tmp_path / "out")
    with open(csv_path, newline="") as fh:
        reader = csv.DictReader(fh)
        assert tuple(reader.fieldnames) == summary.COLUMNS
        written = list(reader)
    assert [r["strategy"] for r in written] == ["random", "fast", "slow"]
    assert float(written[1]["auc_normalised"]) == pytest.approx(0.4625, abs=1e-6)
    assert float(written[1]["auc_minus_random_ci_low"]) == pytest.approx(0.075, abs=1e-6)
    # the paired t-interval of d = (0.075, 0.15), as scipy's one-sample t-test gives it
    t_ci = stats.ttest_1samp([0.075, 0.15], 0.0).confidence_interval(0.95)
    assert float(written[1]["auc_minus_random_t_low"]) == pytest.approx(t_ci.low, abs=1e-6)
    assert float(written[1]["auc_minus_random_t_high"]) == pytest.approx(t_ci.high, abs=1e-6)
    assert written[2]["labels_to_random_final"] == ""  # not reached
    assert written[0]["auc_minus_random"] == "" and written[1]["fraction_of_full"] == ""
    md = md_path.read_text()
    assert md.startswith("| strategy | repeats | final labels | final mean Dice |")
    assert (
        "| fast | 2 | 30 | 0.6500 | 0.4625 | 10-30 | +0.1125 [+0.0750, +0.1500] "
        "| [-0.3640, +0.5890] | 0.5281 | 2/2 | 20 |" in md
    )
    assert "| slow |" in md and "| not reached |" in md and "(baseline)" in md
    assert "full-pool" not in md and "corrected px" not in md  # old results: no such columns


def test_markdown_shows_new_columns_when_present(new_rows) -> None:
    lc = curves.learning_curves(new_rows)
    costs = curves.learning_curves(new_rows, curves.CORRECTION_COLUMN)
    full = curves.full_pool_score(new_rows)
    md = summary.format_markdown(summary.summarise(lc, full_pool=full, costs=costs))
    header = md.splitlines()[0]
    assert "fraction of full-pool Dice" in header and "corrected px" in header
    assert "| 0.7647 |" in md  # 0.65 / 0.85
    assert "| 3,000 |" in md  # pixel counts as integers with thousands separators
    no_random = [r for r in new_rows if r["strategy"] != "random"]
    md = summary.format_markdown(summary.summarise(curves.learning_curves(no_random)))
    assert "no random baseline" in md
