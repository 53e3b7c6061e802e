"""benchmarks/real_protocol.py: the protocol's rules 1-4 applied to constructed calibration figures."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

BENCHMARK = "real_protocol"

def _line(frames, size, step, mean, dice, seed=900, s_per_step=2.0, partial=False) -> str:
    run = (f"frames={frames} size={size} steps=2400 dice=1.0 lr=0.001 bs=8 enc=resnet18 "
           f"aug=True seed={seed}" + (" (partial)" if partial else ""))
    return json.dumps({"run": run, "frames": frames, "step": step, "mean_fg_present": mean,
                       "dice": dice, "s_per_step": s_per_step})


def _full(size, means, dice_at_2400, s=2.0):
    lines = []
    for step, mean in zip((300, 600, 1200, 2400), means, strict=False):  # partial runs
        dice = dice_at_2400 if step == 2400 else [0.9, 0, 0, 0, 0, 0.5, 0.5]
        lines.append(_line("all", size, step, mean, dice, s_per_step=s, partial=step < 2400))
    return lines


def _budgets(size, step, means):
    return [_line(str(n), size, step, m + d, [0.9] + [m] * 6, seed=seed)
            for n, m in means.items() for seed, d in ((900, -0.01), (901, 0.01))]


SMALL = "128x224"
LARGE = "192x320"


def _write(tmp_path, lines) -> Path:
    path = tmp_path / "runs.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_rule_1_waits_for_every_size_then_prefers_more_classes(bench, tmp_path) -> None:
    small = _full(SMALL, (0.2, 0.3, 0.35, 0.40), [0.9, 0.1, 0.1, 0.0, 0.4, 0.8, 0.8])
    partial = _full(LARGE, (0.2, 0.3), None)[:2]
    plan = bench.make_plan(bench.read_calibration(_write(tmp_path, small + partial)))
    assert plan.size is None
    assert any("192x320 has not reached 2400" in m for m in plan.missing)

    large = _full(LARGE, (0.2, 0.3, 0.40, 0.45), [0.9, 0.25, 0.1, 0.0, 0.4, 0.8, 0.8])
    plan = bench.make_plan(bench.read_calibration(_write(tmp_path, small + large)))
    assert plan.learnt == {(128, 224): (4, 5, 6), (192, 320): (1, 4, 5, 6)}
    assert plan.size == (192, 320)
    assert any("[2, 3]" in n for n in plan.notes)  # learnt nowhere: named
    # rule 2: 1200 steps (0.40) is within 0.02 of the best (0.45)? No: 0.05 below, so S = 2400
    assert plan.steps == 2400 and plan.full_value == pytest.approx(0.45)


def test_rule_1_tie_takes_the_cheaper_size_and_rule_2_the_shortest_schedule(bench, tmp_path) -> None:
    learnt = [0.9, 0.3, 0.3, 0.3, 0.4, 0.8, 0.8]
    lines = _full(SMALL, (0.2, 0.3, 0.39, 0.40), learnt) + _full(LARGE, (0.2, 0.3, 0.5, 0.5), learnt)
    plan = bench.make_plan(bench.read_calibration(_write(tmp_path, lines)))
    assert plan.size == (128, 224)
    assert plan.steps == 1200  # 0.39 >= 0.40 - 0.02
    assert plan.budget_runs_missing == 8


def test_a_point_measured_twice_keeps_its_last_record(bench, tmp_path) -> None:
    lines = [_line("all", SMALL, 300, 0.1, [0.9] * 7), _line("all", SMALL, 300, 0.2, [0.9] * 7)]
    records = bench.read_calibration(_write(tmp_path, lines))
    assert [r.mean_dice for r in records] == [0.2]


def test_a_broken_line_is_named(bench, tmp_path) -> None:
    path = _write(tmp_path, ['{"run": "frames=all"}'])
    with pytest.raises(ValueError, match="line 1"):
        bench.read_calibration(path)


@pytest.mark.parametrize(
    ("means", "start", "end"),
    [
        # full pool 0.40: 0.75 of it is 0.30, 0.9 of it 0.36
        ({10: 0.20, 20: 0.28, 40: 0.33, 80: 0.38}, 20, 80),  # 80 >= 60 and reaches 0.9
        ({10: 0.20, 20: 0.25, 40: 0.29, 80: 0.35}, 40, 100),  # nothing >= 80 reaches: N0 + 60
        ({10: 0.20, 20: 0.25, 40: 0.29, 80: 0.37}, 40, 80),  # 80 reaches: the smaller
        ({10: 0.35, 20: 0.36, 40: 0.37, 80: 0.38}, 10, 70),  # none <= 0.75: the smallest, said
    ],
)
def test_rule_3_start_and_end(bench, tmp_path, means, start, end) -> None:
    learnt = [0.9, 0.3, 0.3, 0.3, 0.4, 0.8, 0.8]
    lines = _full(SMALL, (0.2, 0.3, 0.35, 0.40), learnt) + _budgets(SMALL, 2400, means)
    plan = bench.make_plan(bench.read_calibration(_write(tmp_path, lines)))
    assert plan.steps == 2400
    assert plan.budget_means == pytest.approx(means)
    assert (plan.start, plan.end) == (start, end)
    assert (start == 10 and means[10] > 0.3) == any("headroom" in n for n in plan.notes)


def _results(folder: Path, n: int, values) -> Path:
    folder.mkdir()
    with (folder / "results.csv").open("w", newline="") as fh:
        # the simulator's own column names (results.csv spells n_labelled)
        w = csv.DictWriter(fh, ["strategy", "repeat", "round", "n_labelled", "mean_dice"])
        w.writeheader()
        for r, v in enumerate(values):
            w.writerow({"strategy": "random", "repeat": r, "round": 1, "n_labelled": n - 10,
                        "mean_dice": 0})
            w.writerow({"strategy": "random", "repeat": r, "round": 2, "n_labelled": n,
                        "mean_dice": v})
    return folder


@pytest.mark.parametrize(("warm", "expected"), [((0.30, 0.32), True), ((0.28, 0.29), False)])
def test_rule_4_and_the_filled_in_command(bench, tmp_path, warm, expected) -> None:
    learnt = [0.9, 0.3, 0.3, 0.3, 0.4, 0.8, 0.8]
    lines = _full(SMALL, (0.2, 0.3, 0.35, 0.40), learnt) + _budgets(
        SMALL, 2400, {10: 0.20, 20: 0.28, 40: 0.33, 80: 0.38})
    records = bench.read_calibration(_write(tmp_path, lines))
    plan = bench.make_plan(records)
    assert plan.warm_start is None and any("warm simulation" in m for m in plan.missing)
    assert "--init 20" in bench.warm_command(plan, "warm")
    assert "--warm-steps 600" in bench.warm_command(plan, "warm")

    at = 20 + 20
    plan = bench.make_plan(records, _results(tmp_path / "w", at, warm),
                           _results(tmp_path / "s", at, (0.32, 0.32)))
    assert plan.warm_start is expected  # warm mean within 0.02 of 0.32
    command = bench.comparison_command(plan)
    assert "--init 20 --query-size 10 --rounds 6 --repeats 10 --seed 0" in command
    assert ("--warm-steps 600" in command) is expected
    hours = bench.cost_hours(plan, 2.0)
    round_steps = 600 if expected else 2400
    training = 10 * (2400 + 3 * 6 * round_steps) * 2.0 / 3600
    scoring = 10 * 2 * 6 * 43 * (2.0 / 3) / 3600
    assert hours["comparison"] == pytest.approx(training + scoring)
    assert hours["budgets"] == 0 and hours["warm_check"] == 0


def test_table_orders_full_pool_then_budgets_and_keeps_the_last_record(bench, tmp_path) -> None:
    lines = (_budgets(SMALL, 2400, {20: 0.3, 10: 0.2})
             + _full(LARGE, (0.2, 0.3), None)[:1]
             + _full(SMALL, (0.25,), None)[:1]
             + [_line("all", LARGE, 300, 0.21, [0.9, 0, 0, 0, 0, 0.5, None], partial=True)])
    assert bench.main(["--calibration", str(_write(tmp_path, lines)), "--table"]) == 0
    rows = bench.table(bench.read_calibration(_write(tmp_path, lines))).splitlines()
    assert rows[0].startswith("| training frames | input | seed | steps |")
    cells = [[c.strip() for c in row.strip("|").split("|")] for row in rows[2:]]
    # full pool first, the cheaper size first; then budgets 10 before 20, seed 900 before 901
    assert [(c[0], c[1], c[2]) for c in cells] == [
        ("343", "128x224", "900"), ("343", "192x320", "900"),
        ("10", "128x224", "900"), ("10", "128x224", "901"),
        ("20", "128x224", "900"), ("20", "128x224", "901")]
    assert cells[1][4] == "**0.210**"  # the 192x320 point measured twice keeps its last record
    assert cells[1][11] == ""  # a class absent from truth and prediction stays empty
    assert cells[2][4] == "**0.190**" and cells[3][4] == "**0.210**"
    assert len(cells[0]) == 13
