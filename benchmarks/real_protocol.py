"""The real-frames protocol's part-1 rules as code: from the calibration's figures to part 2's settings.

``docs/experiment/real/PROTOCOL.md`` fixes four rules before any strategy other than random ran.
This script applies them, mechanically and nothing else, to what has been measured so far, and
says what is still missing and what it costs:

1. **Resolution.** A class is *learnt* when its Dice on the test frames is >= 0.20 after 2400
   steps on the whole pool. Of the evaluated input sizes, the one that learns the most classes is
   chosen; with a tie, the cheaper (fewer pixels).
2. **Schedule.** S = the smallest evaluated step count whose full-pool ``mean_dice`` is within
   0.02 of the best evaluated one at that size.
3. **Budgets.** Random subsets of 10, 20, 40 and 80 frames, two seeds each (900, 901), trained S
   steps. N0 = the largest budget whose mean ``mean_dice`` is <= 0.75 of the full-pool value at
   S; rounds add 10 frames up to the smallest budget >= N0 + 40 at which random reaches >= 0.9 of
   the full pool, or N0 + 60, whichever is smaller.
4. **Warm start.** Two seeds (900, 901) of ``alges simulate --strategy random`` from N0 frames,
   two rounds of +10: warm-started rounds of S/4 steps against rounds trained from scratch (S
   steps). Rounds warm-start when the warm model's mean Dice at N0 + 20 is within 0.02 of the
   from-scratch one (mean over the two seeds); else every round trains from scratch.

Inputs are the calibration's JSON lines (``benchmarks/calibrate_real.py --out``) and, for rule
4, the two simulation folders named by ``--warm-dir`` and ``--scratch-dir``. The cost arithmetic
uses the seconds per training step measured at the chosen size (median of its calibration
records); the scoring passes (one forward pass over the pool per round and strategy) are counted
apart, at a third of a training step's cost per batch, which is stated, not measured here::

    .venv/bin/python benchmarks/real_protocol.py --calibration docs/experiment/real/calibration/runs.jsonl

``--table`` prints the calibration points instead, as the README's table.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from statistics import median

from alges_napari.core.errors import AlgesError
from alges_napari.core.experiment.curves import read_results

LEARNT = 0.20
FULL_STEPS = 2400
WITHIN = 0.02
BUDGETS = (10, 20, 40, 80)
BUDGET_SEEDS = (900, 901)
START_FRACTION = 0.75
END_FRACTION = 0.9
QUERY = 10
REPEATS = 10
#: Strategies in the order power is spent (the first three get REPEATS repeats each).
FIRST_STRATEGIES = ("random", "alges-seg", "alges-seg-balanced")
POOL_FRAMES = 343
BATCH = 8
#: A forward pass of one batch, as a fraction of one training step (forward + backward); assumed.
FORWARD_FRACTION = 1 / 3


@dataclass(frozen=True)
class Record:
    """One evaluation point of a calibration run."""

    frames: str
    size: tuple[int, int]
    seed: int
    step: int
    mean_dice: float
    dice: tuple[float | None, ...]
    s_per_step: float


def _field(run: str, name: str) -> str:
    match = re.search(rf"\b{name}=(\S+)", run)
    if match is None:
        raise ValueError(f"calibration run {run!r} has no {name}=")
    return match.group(1)


def read_calibration(path: str | Path) -> list[Record]:
    """The calibration's evaluation points; a point measured twice keeps its last record.

    Parameters
    ----------
    path : str or Path
        ``calibrate_real.py``'s JSON lines.

    Returns
    -------
    list of Record
        In file order of their last occurrence.
    """
    points: dict[tuple, Record] = {}
    for n, line in enumerate(Path(path).read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
            run = raw["run"].replace(" (partial)", "")
            h, w = (int(v) for v in _field(run, "size").split("x"))
            rec = Record(
                frames=str(raw["frames"]),
                size=(h, w),
                seed=int(_field(run, "seed")),
                step=int(raw["step"]),
                mean_dice=float(raw["mean_fg_present"]),
                dice=tuple(raw["dice"]),
                s_per_step=float(raw["s_per_step"]),
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise ValueError(f"{path}, line {n}: not a calibration record ({exc})") from exc
        points.pop((rec.frames, rec.size, rec.seed, rec.step), None)
        points[(rec.frames, rec.size, rec.seed, rec.step)] = rec
    return list(points.values())


def learnt_classes(record: Record, bar: float = LEARNT) -> tuple[int, ...]:
    """Foreground classes whose Dice reaches ``bar`` at this point."""
    return tuple(c for c, d in enumerate(record.dice) if c > 0 and d is not None and d >= bar)


def full_pool(records: Sequence[Record], size: tuple[int, int]) -> dict[int, Record]:
    """The whole-pool run's points at ``size``, by step."""
    return {r.step: r for r in records if r.frames == "all" and r.size == size}


@dataclass
class Plan:
    """What the rules give so far, what is missing, and what it costs."""

    size: tuple[int, int] | None = None
    learnt: dict[tuple[int, int], tuple[int, ...]] = field(default_factory=dict)
    steps: int | None = None
    full_value: float | None = None
    budget_means: dict[int, float] = field(default_factory=dict)
    start: int | None = None
    end: int | None = None
    warm_start: bool | None = None
    budget_runs_missing: int = 0
    missing: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def choose_size(records: Sequence[Record], plan: Plan) -> None:
    """Rule 1: the size whose 2400-step whole-pool model learns most classes (tie: cheaper)."""
    sizes = sorted({r.size for r in records if r.frames == "all"}, key=lambda s: s[0] * s[1])
    for size in sizes:
        point = full_pool(records, size).get(FULL_STEPS)
        if point is None:
            plan.missing.append(f"rule 1: the whole-pool run at {size[0]}x{size[1]} has not reached "
                                f"{FULL_STEPS} steps")
            continue
        plan.learnt[size] = learnt_classes(point)
    if plan.missing or not plan.learnt:
        if not plan.learnt:
            plan.missing.append("rule 1: no whole-pool run has reached 2400 steps")
        return
    best = max(len(v) for v in plan.learnt.values())
    plan.size = next(s for s in sizes if len(plan.learnt[s]) == best)
    union = set().union(*plan.learnt.values())
    never = sorted(c for c in range(1, len(records[0].dice)) if c not in union)
    if never:
        plan.notes.append(f"classes learnt at no evaluated size (not learnable on this CPU, kept in "
                          f"the metric): {never}")


def choose_steps(records: Sequence[Record], plan: Plan) -> None:
    """Rule 2: the smallest evaluated step count within 0.02 of the best, at the chosen size."""
    points = full_pool(records, plan.size)
    best = max(r.mean_dice for r in points.values())
    plan.steps = min(s for s, r in points.items() if r.mean_dice >= best - WITHIN)
    plan.full_value = points[plan.steps].mean_dice


def choose_budgets(records: Sequence[Record], plan: Plan) -> None:
    """Rule 3: N0 and the last budget from the random subsets trained S steps."""
    for n in BUDGETS:
        values = [r.mean_dice for r in records if r.frames == str(n) and r.size == plan.size
                  and r.step == plan.steps and r.seed in BUDGET_SEEDS]
        if len(values) < len(BUDGET_SEEDS):
            plan.budget_runs_missing += len(BUDGET_SEEDS) - len(values)
            plan.missing.append(f"rule 3: {len(BUDGET_SEEDS) - len(values)} of the {n}-frame "
                                f"runs at {plan.steps} steps")
        else:
            plan.budget_means[n] = sum(values) / len(values)
    if any(m.startswith("rule 3") for m in plan.missing):
        return
    low = [n for n in BUDGETS if plan.budget_means[n] <= START_FRACTION * plan.full_value]
    if not low:
        plan.start = BUDGETS[0]
        plan.notes.append(f"rule 3: even {BUDGETS[0]} random frames exceed "
                          f"{START_FRACTION} of the full pool; N0 = {BUDGETS[0]}, the smallest "
                          "budget evaluated, and the headroom is smaller than the rule asks")
    else:
        plan.start = max(low)
    reach = [n for n in BUDGETS if n >= plan.start + 40
             and plan.budget_means[n] >= END_FRACTION * plan.full_value]
    plan.end = min([plan.start + 60, *reach])


def read_dice_at(folder: str | Path, n_labelled: int) -> list[float]:
    """``mean_dice`` of the random rows at ``n_labelled`` frames in a simulation's results.csv."""
    return [row["mean_dice"] for row in read_results(folder)
            if row["strategy"] == "random" and row["n_labelled"] == n_labelled]


def choose_warm_start(plan: Plan, warm_dir: Path | None, scratch_dir: Path | None) -> None:
    """Rule 4: warm-started rounds within 0.02 of from-scratch ones at N0 + 20 frames."""
    at = plan.start + 2 * QUERY
    folders = {"warm": warm_dir, "scratch": scratch_dir}
    values: dict[str, list[float]] = {}
    for name, folder in folders.items():
        if folder is None or not (folder / "results.csv").exists():
            plan.missing.append(f"rule 4: the {name} simulation ({warm_command(plan, name)})")
            continue
        values[name] = read_dice_at(folder, at)
        if len(values[name]) < len(BUDGET_SEEDS):
            plan.missing.append(f"rule 4: the {name} simulation has {len(values[name])} of "
                                f"{len(BUDGET_SEEDS)} repeats at {at} frames")
    if any(m.startswith("rule 4") for m in plan.missing):
        return
    warm = sum(values["warm"]) / len(values["warm"])
    scratch = sum(values["scratch"]) / len(values["scratch"])
    plan.warm_start = warm >= scratch - WITHIN
    plan.notes.append(f"rule 4: warm {warm:.4f} vs from scratch {scratch:.4f} at {at} frames")


def _train_flags(plan: Plan) -> str:
    h, w = plan.size
    return (f"--input-size {h} {w} --batch-size {BATCH} --lr 0.001 --weight-decay 0.0001 "
            f"--dice-weight 1 --augment --epochs 1 --min-steps {plan.steps}")


def warm_command(plan: Plan, kind: str) -> str:
    """The rule-4 simulation of ``kind`` ("warm" or "scratch")."""
    mode = (f"--warm-start --warm-steps {plan.steps // 4}" if kind == "warm" else "--from-scratch")
    return (f"alges simulate --data <root>/train_seg --test-data <root>/val_seg --strategy random "
            f"--init {plan.start} --query-size {QUERY} --rounds 2 --repeats 2 --seed 900 "
            f"{_train_flags(plan)} {mode} --no-full-pool --out <work>/warm_check_{kind}")


def comparison_command(plan: Plan) -> str:
    """Part 2's command, as the rules fill it in."""
    rounds = (plan.end - plan.start) // QUERY
    mode = (f"--warm-start --warm-steps {plan.steps // 4}" if plan.warm_start else "--from-scratch")
    return (f"alges simulate --data <root>/train_seg --test-data <root>/val_seg --strategy "
            f"{' '.join(FIRST_STRATEGIES)} --init {plan.start} --query-size {QUERY} "
            f"--rounds {rounds} --repeats {REPEATS} --seed 0 {_train_flags(plan)} {mode} "
            f"--out docs/experiment/real/comparison")


def cost_hours(plan: Plan, s_per_step: float, strategies: int = len(FIRST_STRATEGIES),
               repeats: int = REPEATS) -> dict[str, float]:
    """CPU hours of part 2 (and of the rest of part 1) at ``s_per_step`` a training step.

    Parameters
    ----------
    plan : Plan
        With size and steps chosen; start, end and warm start when known (else the dearest
        case: N0 = 10, end = N0 + 60, every round from scratch).
    s_per_step : float
        Measured seconds per training step at the chosen size.
    strategies, repeats : int
        The comparison's size.

    Returns
    -------
    dict
        ``budgets`` (the rule-3 runs still missing), ``warm_check`` (rule 4, when it has not
        run) and ``comparison`` hours.
    """
    steps = plan.steps
    start = plan.start if plan.start is not None else BUDGETS[0]
    end = plan.end if plan.end is not None else start + 60
    rounds = (end - start) // QUERY
    round_steps = steps // 4 if plan.warm_start else steps
    score = math.ceil(POOL_FRAMES / BATCH) * FORWARD_FRACTION * s_per_step
    per_repeat = steps + strategies * rounds * round_steps
    scoring = (strategies - 1) * rounds * score  # random needs no scoring pass
    comparison = repeats * (per_repeat * s_per_step + scoring) / 3600
    budgets = plan.budget_runs_missing * steps * s_per_step / 3600
    warm_check = 0.0
    if plan.warm_start is None:
        # scratch: three models of S steps; warm: one of S and two of S/4; two seeds each
        warm_check = 2 * (3 * steps + steps + 2 * (steps // 4)) * s_per_step / 3600
    return {"budgets": budgets, "warm_check": warm_check, "comparison": comparison}


def make_plan(records: Sequence[Record], warm_dir: Path | None = None,
              scratch_dir: Path | None = None) -> Plan:
    """Apply rules 1-4 to what has been measured; stop at the first rule that lacks figures."""
    plan = Plan()
    if not records:
        plan.missing.append("rule 1: no calibration record")
        return plan
    choose_size(records, plan)
    if plan.size is None:
        return plan
    choose_steps(records, plan)
    choose_budgets(records, plan)
    if plan.start is None:
        return plan
    choose_warm_start(plan, warm_dir, scratch_dir)
    return plan


def report(plan: Plan, records: Sequence[Record]) -> str:
    """The plan in words: settings so far, what is missing, the cost arithmetic."""
    lines = []
    for size, learnt in plan.learnt.items():
        lines.append(f"rule 1: {size[0]}x{size[1]} at {FULL_STEPS} steps learns classes "
                     f"{list(learnt)} (Dice >= {LEARNT})")
    if plan.size:
        lines.append(f"rule 1: input size {plan.size[0]}x{plan.size[1]}")
        lines.append(f"rule 2: S = {plan.steps} steps (full-pool mean Dice {plan.full_value:.4f})")
    for n, v in plan.budget_means.items():
        lines.append(f"rule 3: {n} random frames: mean Dice {v:.4f} "
                     f"({v / plan.full_value:.3f} of the full pool)")
    if plan.start is not None:
        lines.append(f"rule 3: N0 = {plan.start}, rounds of +{QUERY} up to {plan.end}")
    if plan.warm_start is not None:
        lines.append(f"rule 4: rounds {'warm-start' if plan.warm_start else 'train from scratch'}")
    lines += [f"note: {n}" for n in plan.notes]
    lines += [f"missing: {m}" for m in plan.missing]
    if plan.size:
        measured = [r.s_per_step for r in records if r.size == plan.size and r.frames == "all"]
        s = median(measured)
        hours = cost_hours(plan, s)
        lines.append(f"cost at {s:.2f} s/step (median measured at {plan.size[0]}x{plan.size[1]}, "
                     f"one CPU thread): rest of part 1 {hours['budgets'] + hours['warm_check']:.1f} h, "
                     f"the comparison ({len(FIRST_STRATEGIES)} strategies x {REPEATS} repeats) "
                     f"{hours['comparison']:.1f} h")
    if plan.warm_start is not None:
        lines.append(f"part 2: {comparison_command(plan)}")
    return "\n".join(lines)


#: The README's column names for the Endoscapes classes, in class-id order.
CLASS_COLUMNS = ("background", "cystic plate", "calot triangle", "cystic artery", "cystic duct",
                 "gallbladder", "tool")


def table(records: Sequence[Record]) -> str:
    """The calibration's evaluation points as the README's markdown table.

    Parameters
    ----------
    records : sequence of Record
        As :func:`read_calibration` returns them (a point measured twice appears once).

    Returns
    -------
    str
        One row per point, full-pool runs first, then budgets by frame count and seed, each
        run's points by step; the README pastes it between its ``calibration`` markers.
    """
    def order(r: Record) -> tuple:
        return (r.frames != "all", int(r.frames) if r.frames != "all" else 0,
                r.size[0] * r.size[1], r.seed, r.step)

    head = ["training frames", "input", "seed", "steps", "mean Dice (6 foreground classes)",
            *CLASS_COLUMNS, "s/step (shared CPU)"]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in sorted(records, key=order):
        n = str(POOL_FRAMES) if r.frames == "all" else r.frames
        dice = ["" if d is None else f"{d:.3f}" for d in r.dice]
        cells = [n, f"{r.size[0]}x{r.size[1]}", str(r.seed), str(r.step),
                 f"**{r.mean_dice:.3f}**", *dice, f"{r.s_per_step:.2f}"]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--calibration", type=Path, required=True, help="calibrate_real.py's JSON lines")
    p.add_argument("--warm-dir", type=Path, help="rule 4's warm-started simulation folder")
    p.add_argument("--scratch-dir", type=Path, help="rule 4's from-scratch simulation folder")
    p.add_argument("--table", action="store_true",
                   help="print the calibration points as the README's markdown table instead")
    args = p.parse_args(argv)
    try:
        records = read_calibration(args.calibration)
        if args.table:
            print(table(records))
            return 0
        plan = make_plan(records, args.warm_dir, args.scratch_dir)
    except (OSError, ValueError, AlgesError) as exc:
        print(f"real_protocol: {exc}", file=sys.stderr)
        return 2
    print(report(plan, records))
    return 0


if __name__ == "__main__":
    sys.exit(main())
