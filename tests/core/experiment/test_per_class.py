"""The per-class table of ``alges plot``: each class's Dice by strategy, on constructed rows."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from alges_napari.core.experiment.per_class import (
    class_ids,
    format_per_class_markdown,
    per_class_table,
    write_per_class,
)


def rows() -> list[dict]:
    """Two strategies x two repeats x labels 10, 20; class 0 and 1 scored, class 2 never seen."""
    out = []
    values = {  # (strategy, repeat) -> (dice_1 at 10, dice_1 at 20)
        ("random", 0): (0.10, 0.30),
        ("random", 1): (0.20, 0.40),
        ("alges-seg", 0): (0.10, 0.50),
        ("alges-seg", 1): (0.20, 0.50),
    }
    for (strategy, repeat), (a, b) in values.items():
        for n, d1 in ((10, a), (20, b)):
            out.append(
                {
                    "strategy": strategy,
                    "repeat": repeat,
                    "round": n // 10 - 1,
                    "n_labelled": n,
                    "mean_dice": d1,
                    "dice_0": 0.9,
                    "dice_1": d1,
                    "dice_2": math.nan,
                }
            )
    return out


def test_class_ids_come_from_the_dice_columns() -> None:
    assert class_ids(rows()) == [0, 1, 2]
    assert class_ids([{"strategy": "x", "dice_liver": 0.5}]) == []  # older name columns


def test_per_class_values_against_hand_arithmetic() -> None:
    table = {(r["strategy"], r["class_id"]): r for r in per_class_table(rows())}
    assert (("random", 2) not in table) and (("alges-seg", 2) not in table)  # never seen
    r1, a1 = table[("random", 1)], table[("alges-seg", 1)]
    assert r1["final_dice"] == pytest.approx(0.35) and a1["final_dice"] == pytest.approx(0.5)
    # normalised trapezoid AUC over 10..20 of the mean curve
    assert r1["auc_normalised"] == pytest.approx((0.15 + 0.35) / 2)
    assert a1["auc_normalised"] == pytest.approx((0.15 + 0.50) / 2)
    # paired by repeat: d_0 = (0.1+0.5)/2 - (0.1+0.3)/2 = 0.1, d_1 = 0.35 - 0.3 = 0.05
    assert a1["auc_minus_random"] == pytest.approx(0.075)
    ci = stats.ttest_1samp([0.1, 0.05], 0.0).confidence_interval(0.95)
    assert a1["auc_minus_random_t_low"] == pytest.approx(ci.low)
    assert a1["auc_minus_random_t_high"] == pytest.approx(ci.high)
    assert math.isnan(r1["auc_minus_random"])  # the baseline's own row


def test_files_and_markdown(tmp_path) -> None:
    table = per_class_table(rows())
    csv_path, md_path = write_per_class(table, tmp_path, names={0: "bg", 1: "duct"})
    lines = csv_path.read_text().splitlines()
    assert lines[0].startswith("strategy,class_id,final_n_labelled,final_dice")
    assert len(lines) == 1 + 4
    md = md_path.read_text()
    assert "| class | random | alges-seg |" in md
    assert "| 1 duct | 0.350 / 0.250 | 0.500 / 0.325; +0.075 [" in md
    assert np.isclose(float(lines[1].split(",")[3]), 0.9)
    assert format_per_class_markdown([]).startswith("| class |")
