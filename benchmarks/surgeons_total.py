"""The surgeon's total: annotation actions to reach a useful model, per workflow.

The benchmark of ``docs/experiment/real/PROTOCOL.md`` part 3 (issue 22 item 5; the protocol
registered 2026-12-03, before any run; this script implements it and changes nothing in it).
It reads part 2's experiment folder, which must have been run with ``alges simulate
--keep-models random`` (every round model of the random arm kept), and measures per repeat:

- **n\\***: the first round end of the random arm whose test ``mean_dice`` (``results.csv``) is
  at or above 0.9 x the full-pool model's ``mean_dice`` (``--full-pool-dice``, or read from
  part 1's ``--calibration`` runs.jsonl: the full-pool 2400-step point at the experiment's input
  size). A repeat that never reaches it is "not reached by N labels" (N: its last round's
  labels) and counts as N.
- the frames labelled up to n\\*, in pick order (``state/random/repeat_<r>/state.json``), and
  for each workflow the total corrector actions over them, with the correctors of
  ``benchmarks/correction_real.py`` (:func:`correction_real.greedy_correct`, unchanged):

  - **W0 napari alone**: every frame from an empty annotation (all background) with corrector
    (e), napari used well;
  - **W1 the plugin on random frames**: the initial frames from empty with corrector (g) (the
    app's tools and the GrabCut box); a frame picked in round r from the prediction (argmax)
    of the random arm's round r - 1 model (round 0: the repeat's shared round-0 model), with
    (g), unless round r - 1's held-out ``mean_dice`` is under the auto-fill floor
    (:data:`alges_napari.core.project.autofill.AUTOFILL_FLOOR`, 0.50): then from empty;
  - **W2**: as W1 on the frames, round models and own n\\* of ``--default-strategy`` (the
    product's default when part 2 ends; ``random`` today, when W2 is W1 and is reported once).

Frames and truth are the experiment's ``data`` as the simulator reads them (its config's
``data`` and ``stride``, resized to ``train.input_size``: the truth by nearest neighbour), and
the correction runs on that grid as run 5 did (superpixels and GrabCut on the full frame,
resized by nearest neighbour; tools at their full-frame sizes; MIN_AREA scaled to the grid).
The report gives per workflow the median n\\* and the median total actions over the repeats
with a 95 % percentile bootstrap over repeats (10,000 resamples, seed 0), and the paired
per-repeat ratios W1 / W0 (and W2 / W0) summarised the same way (median of the per-repeat
ratios); the last line is ``surgeon's total (W1 / W0): X [lo, hi]``. Every workflow on the same
frames shares n\\* because a frame that reaches Done is trained on as its ground truth (the
simulator's oracle): an assumption of the protocol, which the report states.

Every frame's result is a line of ``--out`` (JSON); a restart with the same ``--out`` skips the
frames already there (the real run is long: about 10 s a frame for (g) with GrabCut)::

    python benchmarks/surgeons_total.py --experiment <part 2's folder> \\
        --calibration docs/experiment/real/calibration/runs.jsonl --out <work>/surgeons.jsonl

Not yet run on real data (part 2 has not run).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # correction_real, beside this file

from correction_real import (  # noqa: E402
    FrameGrabCut,
    greedy_correct,
    grid_superpixels,
    min_area_on,
    predict_inputs,
)

#: The target: this share of the full-pool model's mean_dice (PROTOCOL part 3).
TARGET_SHARE = 0.9
#: Bootstrap resamples over repeats and their seed.
N_BOOT, BOOT_SEED = 10_000, 0
#: The arm whose frames and round models W0 and W1 use.
RANDOM = "random"
#: Corrector settings per name: superpixels and GrabCut box on or off (correction_real's (e), (g)).
CORRECTORS = {"e": (False, False), "g": (True, True)}


class InputError(Exception):
    """Bad input: printed as one line, exit status 2."""


# ------------------------------------------------------------------ the experiment


@dataclass
class Arm:
    """One strategy's arm in one repeat: its rows, its labelled frames and where it reaches n*.

    Attributes
    ----------
    strategy, repeat : str, int
        Which arm.
    rows : list of dict
        Its ``results.csv`` rows (round 0 first), by round.
    labelled : list of str
        ``state.json``'s labelled keys: the initial frames, then each round's picks in order.
    reached : int or None
        The round at which the target was reached (None: not reached).
    n_star : int
        Labels at that round end; the last round's labels when not reached.
    frames : list of (str, int)
        The first ``n_star`` labelled frames in pick order, each with its round (0: initial).
    unfinished : bool
        Not reached and fewer rounds than the experiment's: part 2 is still running.
    """

    strategy: str
    repeat: int
    rows: list[dict[str, Any]]
    labelled: list[str]
    reached: int | None = None
    n_star: int = 0
    frames: list[tuple[str, int]] = field(default_factory=list)
    unfinished: bool = False


def reach(rows: Sequence[dict[str, Any]], target: float) -> tuple[int | None, int]:
    """The first round end whose ``mean_dice`` is at or above ``target``, and its labels.

    Parameters
    ----------
    rows : sequence of dict
        One arm's rows with ``round``, ``n_labelled`` and ``mean_dice``, any order.
    target : float
        0.9 x the full-pool mean_dice.

    Returns
    -------
    tuple
        (round, n_labelled) of the first row that reaches ``target``; (None, the last round's
        n_labelled) when none does.
    """
    ordered = sorted(rows, key=lambda r: int(r["round"]))
    for row in ordered:
        value = float(row["mean_dice"])
        if math.isfinite(value) and value >= target:
            return int(row["round"]), int(row["n_labelled"])
    return None, int(ordered[-1]["n_labelled"])


def frame_rounds(labelled: Sequence[str], rows: Sequence[dict[str, Any]], n: int
                 ) -> list[tuple[str, int]]:  # fmt: skip
    """The first ``n`` labelled frames in pick order, each with the round that labelled it.

    Round 0 marks the initial frames; a frame of round r was picked by round r - 1's model. The
    rounds' ``n_labelled`` give the boundaries.
    """
    ends = sorted((int(r["n_labelled"]), int(r["round"])) for r in rows)
    out = []
    for i, key in enumerate(labelled[:n]):
        rnd = next((t for end, t in ends if i < end), None)
        if rnd is None:
            raise InputError(f"labelled frame {i} ({key}) lies past the arm's last round end")
        out.append((key, rnd))
    return out


def checkpoint_of(exp: Path, strategy: str, repeat: int, rnd: int) -> Path:
    """The model that picked the frames of round ``rnd`` (>= 1): round ``rnd - 1``'s.

    Round 0's model is the repeat's shared one, ``state/repeat_<r>/round_0000.safetensors``;
    later ones are ``state/<strategy>/repeat_<r>/round_<t>.safetensors`` (kept by
    ``--keep-models``).
    """
    if rnd - 1 == 0:
        return exp / "state" / f"repeat_{repeat}" / "round_0000.safetensors"
    return exp / "state" / strategy / f"repeat_{repeat}" / f"round_{rnd - 1:04d}.safetensors"


def read_config(exp: Path) -> dict[str, Any]:
    """The experiment's ``config.json`` (settings), or :class:`InputError`."""
    if not exp.is_dir():
        raise InputError(f"--experiment {exp}: no such folder")
    path = exp / "config.json"
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise InputError(f"{path}: missing (not an experiment folder of alges simulate)") from None
    except ValueError as exc:
        raise InputError(f"{path}: not JSON ({exc})") from None


def load_arms(exp: Path, strategy: str, target: float, rounds: int | None = None) -> list[Arm]:
    """Every repeat's arm of ``strategy``: rows, labelled frames, n* and the frames up to it.

    ``rounds`` (the experiment's): an arm that has fewer and does not reach the target is
    marked unfinished (its "not reached by N" is then provisional).

    Raises
    ------
    InputError
        When the strategy has no rows or a repeat lacks its state, or a round model the
        workflows need is missing (part 2 run without ``--keep-models``).
    """
    from alges_napari.core.errors import AlgesError
    from alges_napari.core.experiment.curves import read_results

    try:
        rows = [r for r in read_results(exp) if r["strategy"].lower() == strategy]
    except AlgesError as exc:
        raise InputError(str(exc)) from None
    if not rows:
        raise InputError(f"{exp / 'results.csv'}: no row of strategy {strategy!r}")
    arms = []
    for repeat in sorted({int(r["repeat"]) for r in rows}):
        mine = sorted((r for r in rows if int(r["repeat"]) == repeat),
                      key=lambda r: int(r["round"]))  # fmt: skip
        state = exp / "state" / strategy / f"repeat_{repeat}" / "state.json"
        try:
            labelled = list(json.loads(state.read_text())["labelled"])
        except (OSError, ValueError, KeyError) as exc:
            raise InputError(f"{state}: cannot read the labelled frames ({exc})") from None
        arm = Arm(strategy, repeat, mine, labelled)
        arm.reached, arm.n_star = reach(mine, target)
        arm.unfinished = (arm.reached is None and rounds is not None
                          and max(int(r["round"]) for r in mine) < rounds)  # fmt: skip
        arm.frames = frame_rounds(labelled, mine, arm.n_star)
        for rnd in sorted({t for _, t in arm.frames if t >= 1}):
            ckpt = checkpoint_of(exp, strategy, repeat, rnd)
            if not ckpt.exists():
                raise InputError(f"{ckpt}: missing (the model that picked round {rnd}'s frames); "
                                 f"run part 2 with --keep-models {strategy}")  # fmt: skip
        arms.append(arm)
    return arms


def full_pool_from_calibration(path: Path, size: tuple[int, int]) -> float:
    """Rule 1's full-pool ``mean_dice`` at ``size`` and 2400 steps from part 1's runs.jsonl."""
    from real_protocol import FULL_STEPS, full_pool, read_calibration

    try:
        point = full_pool(read_calibration(path), size).get(FULL_STEPS)
    except (OSError, ValueError) as exc:
        raise InputError(f"--calibration {path}: {exc}") from None
    if point is None:
        raise InputError(f"--calibration {path}: no full-pool {FULL_STEPS}-step point at "
                         f"{size[0]}x{size[1]}")  # fmt: skip
    return point.mean_dice


# ------------------------------------------------------------------ frames and corrections


@dataclass
class Frame:
    """One pool frame: the full image, the network's input and the truth on the grid."""

    key: str
    image: np.ndarray  # (H, W, 3) uint8, full frame
    net: np.ndarray  # (h, w, 3) uint8 on the grid
    truth: np.ndarray  # (h, w) uint8 on the grid, 255 ignore
    superpixels: dict[str, np.ndarray] = field(default_factory=dict)


class FrameReader:
    """The experiment's pool frames, read as the simulator reads them, on demand."""

    def __init__(self, config: dict[str, Any]):
        from alges_napari.core.data.classes import CHOLECSEG8K
        from alges_napari.core.data.frames import open_frames

        self.grid = tuple(int(v) for v in config["train"]["input_size"])
        self.source = open_frames(config["data"], stride=int(config.get("stride", 1)))
        self.index = {k: i for i, k in enumerate(self.source.keys)}
        self.k = (self.source.schema or CHOLECSEG8K).num_classes
        self._cache: dict[str, Frame] = {}

    def __call__(self, key: str) -> Frame:
        """The frame ``key`` with its superpixels (the app's, resized to the grid)."""
        if key not in self._cache:
            from alges_napari.core.learn.train import make_samples

            if key not in self.index:
                raise InputError(f"frame {key!r} of the experiment is not in its data")
            i = self.index[key]
            image = np.asarray(self.source[i])
            s = make_samples([(image, self.source.ground_truth(i))], self.grid)
            self._cache[key] = Frame(key, image, s.images[0].permute(1, 2, 0).numpy(),
                                     s.masks[0].numpy().astype(np.uint8),
                                     grid_superpixels(image, self.grid))  # fmt: skip
        return self._cache[key]


def predict(checkpoint: Path, frames: Sequence[Frame]) -> dict[str, np.ndarray]:
    """The argmax prediction of the model in ``checkpoint`` on each frame's grid input.

    The scoring pass the app runs (:func:`alges_napari.core.acquire.scoring.iter_score`), as
    ``correction_real.real_frames`` predicts.
    """
    from alges_napari.core.learn.model import load_checkpoint

    model, spec, _ = load_checkpoint(checkpoint, device="cpu")
    by_key = {f.key: f for f in frames}
    preds = predict_inputs(model, spec, [f.net for f in by_key.values()])
    return dict(zip(by_key, preds, strict=True))


def correct(frame: Frame, start: np.ndarray, corrector: str, k: int) -> dict[str, Any]:
    """Corrector ``corrector`` ("e" or "g") on ``frame`` from ``start``: greedy_correct's counts."""
    sp, gc = CORRECTORS[corrector]
    grid = frame.truth.shape
    scale = float(np.sqrt(grid[0] / frame.image.shape[0] * grid[1] / frame.image.shape[1]))
    grabcut = FrameGrabCut(frame.image, frame.truth) if gc else None
    return greedy_correct(start.copy(), frame.truth, k, scale,
                          frame.superpixels if sp else None, min_area_on(grid), grabcut)  # fmt: skip


@dataclass(frozen=True)
class Workflow:
    """A workflow: its name, the arm whose frames it labels, its corrector, prefill or not."""

    name: str
    strategy: str
    corrector: str
    prefill: bool


def row_id(row: dict[str, Any]) -> tuple[str, int, str]:
    """What a per-frame row is the result of: (workflow, repeat, key)."""
    return row["workflow"], int(row["repeat"]), row["key"]


def run_workflow(
    exp: Path, wf: Workflow, arms: Sequence[Arm], reader: Callable[[str], Frame], k: int,
    done: set[tuple[str, int, str]], write: Callable[[dict[str, Any]], None],
    floor: float | None = None,
) -> None:  # fmt: skip
    """Correct every frame of ``arms`` up to n* not yet in ``done``; each row goes to ``write``.

    With ``wf.prefill``, a frame of round r >= 1 starts from the prediction of round r - 1's
    model unless that round's ``mean_dice`` is under ``floor`` (None: the product's
    AUTOFILL_FLOOR); every other frame starts empty (all class 0).
    """
    from alges_napari.core.project.autofill import AUTOFILL_FLOOR

    floor = AUTOFILL_FLOOR if floor is None else float(floor)
    for arm in arms:
        todo = [(key, rnd) for key, rnd in arm.frames if (wf.name, arm.repeat, key) not in done]
        dice = {int(r["round"]): float(r["mean_dice"]) for r in arm.rows}
        scored = {int(r["round"]): float(r.get("mean_dice_scored", math.nan)) for r in arm.rows}
        preds: dict[str, np.ndarray] = {}
        if wf.prefill:
            for rnd in sorted({t for _, t in todo if t >= 1 and dice[t - 1] >= floor}):
                ckpt = checkpoint_of(exp, arm.strategy, arm.repeat, rnd)
                preds.update(predict(ckpt, [reader(key) for key, t in todo if t == rnd]))
        for n, (key, rnd) in enumerate(todo, 1):
            t0 = time.perf_counter()
            frame = reader(key)
            row: dict[str, Any] = {"workflow": wf.name, "strategy": arm.strategy,
                                   "repeat": arm.repeat, "key": key, "round": rnd,
                                   "corrector": wf.corrector}  # fmt: skip
            if key in preds:
                start = preds[key]
                row["start"] = "prediction"
                row["checkpoint"] = str(checkpoint_of(exp, arm.strategy, arm.repeat, rnd)
                                        .relative_to(exp))  # fmt: skip
            else:
                start = np.zeros_like(frame.truth)
                row["start"] = "empty"
            if wf.prefill and rnd >= 1:
                row["floor_dice"] = dice[rnd - 1]
                row["floor_dice_scored"] = scored[rnd - 1]  # the app's figure: see the report
            row.update(correct(frame, start, wf.corrector, k))
            row["s"] = round(time.perf_counter() - t0, 2)
            write(row)
            print(f"{wf.name} repeat {arm.repeat} frame {n}/{len(todo)} {key} (round {rnd}, "
                  f"{row['start']}): {row['actions']} actions, {row['s']} s", flush=True)


# ------------------------------------------------------------------ report


def median_interval(values: Sequence[float], n_boot: int = N_BOOT, seed: int = BOOT_SEED
                    ) -> tuple[float, float, float]:  # fmt: skip
    """The median of ``values`` and its 95 % percentile bootstrap over them (seeded).

    Returns
    -------
    tuple of float
        (median, low, high).
    """
    v = np.asarray(values, float)
    rng = np.random.default_rng(seed)
    boots = np.median(v[rng.integers(0, len(v), (n_boot, len(v)))], axis=1)
    lo, hi = np.percentile(boots, [2.5, 97.5])
    return float(np.median(v)), float(lo), float(hi)


def totals(rows: Sequence[dict[str, Any]], wf: str, arms: Sequence[Arm]) -> list[float]:
    """Per repeat (order of ``arms``), the actions of workflow ``wf`` over its frames up to n*."""
    got = {row_id(r): r["actions"] for r in rows if r["workflow"] == wf}
    out = []
    for arm in arms:
        missing = [key for key, _ in arm.frames if (wf, arm.repeat, key) not in got]
        if missing:
            raise InputError(f"{wf} repeat {arm.repeat}: no result for frame {missing[0]!r}")
        out.append(float(sum(got[(wf, arm.repeat, key)] for key, _ in arm.frames)))
    return out


def report(rows: Sequence[dict[str, Any]], arms: dict[str, list[Arm]],
           workflows: Sequence[Workflow], target: float, floor: float | None = None
           ) -> str:  # fmt: skip
    """The markdown report: per-repeat lines, the table, the last line W1 / W0.

    It also counts the prefilled workflows' frames whose start would differ had the floor been
    read on ``mean_dice_scored`` (the app's figure averages the scored classes, background
    included) instead of ``mean_dice`` (the experiment's primary figure, used here).
    """
    from alges_napari.core.project.autofill import AUTOFILL_FLOOR

    floor = AUTOFILL_FLOOR if floor is None else float(floor)
    lines = [f"target: mean_dice >= {target:.4f} (0.9 x the full pool)", ""]
    per: dict[str, list[float]] = {}
    for wf in workflows:
        per[wf.name] = totals(rows, wf.name, arms[wf.strategy])
        for arm, total in zip(arms[wf.strategy], per[wf.name], strict=True):
            where = (f"n* = {arm.n_star} (round {arm.reached})" if arm.reached is not None
                     else f"not reached by {arm.n_star} labels")  # fmt: skip
            if arm.unfinished:
                where += " (the arm is unfinished: part 2 has not run all its rounds)"
            lines.append(f"- {wf.name} repeat {arm.repeat}: {where}; {total:.0f} actions")
    lines += ["", "| workflow | frames of | repeats | median n* [95 %] | median total actions "
              "[95 %] | median ratio to W0 [95 %] |", "|---|---|---|---|---|---|"]  # fmt: skip
    base = per["W0"]
    last = ""
    for wf in workflows:
        ns = [a.n_star for a in arms[wf.strategy]]
        n, nlo, nhi = median_interval(ns)
        m, lo, hi = median_interval(per[wf.name])
        ratio = "-"
        if wf.name != "W0":
            ratios = [a / b if b else math.nan
                      for a, b in zip(per[wf.name], base, strict=True)]  # fmt: skip
            r, rlo, rhi = median_interval(ratios)
            ratio = f"{r:.3f} [{rlo:.3f}, {rhi:.3f}]"
            if wf.name == "W1":
                last = f"surgeon's total (W1 / W0): {r:.3f} [{rlo:.3f}, {rhi:.3f}]"
        unreached = sum(a.reached is None for a in arms[wf.strategy])
        note = f" ({unreached} not reached)" if unreached else ""
        lines.append(f"| {wf.name} | {wf.strategy} | {len(ns)}{note} | {n:g} [{nlo:g}, {nhi:g}] "
                     f"| {m:.0f} [{lo:.0f}, {hi:.0f}] | {ratio} |")  # fmt: skip
    if not any(wf.name == "W2" for wf in workflows):
        lines.append("")
        lines.append("W2 (the default strategy's frames) is W1: the default strategy is random.")
    names = {wf.name for wf in workflows if wf.prefill}
    ids = {(wf.name, a.repeat, key) for wf in workflows for a in arms[wf.strategy]
           for key, _ in a.frames}  # fmt: skip
    floored = [r for r in rows if r["workflow"] in names and "floor_dice" in r and row_id(r) in ids]
    differ = sum((r["floor_dice"] >= floor) != (r.get("floor_dice_scored", math.nan) >= floor)
                 for r in floored)  # fmt: skip
    lines += ["", f"Auto-fill floor {floor:.2f} on the round before's mean_dice: "
              f"{sum(r['start'] == 'prediction' for r in floored)} of {len(floored)} later-round "
              f"frames prefilled; on mean_dice_scored {differ} of them would start otherwise."]
    lines += ["", "Assumption (PROTOCOL part 3): a frame that reaches Done is trained on as its "
              "ground truth, so the workflows on the same frames share n*.", last]  # fmt: skip
    return "\n".join(lines)


# ------------------------------------------------------------------ command


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--experiment", type=Path, required=True,
                   help="part 2's experiment folder (alges simulate --keep-models random)")
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--full-pool-dice", type=float,
                        help="rule 1's full-pool mean_dice (the target is 0.9 x this)")
    target.add_argument("--calibration", type=Path,
                        help="part 1's runs.jsonl: its full-pool 2400-step point at the "
                             "experiment's input size")
    p.add_argument("--default-strategy", default=RANDOM,
                   help="the product's default strategy when part 2 ends (W2's frames)")
    p.add_argument("--out", type=Path, required=True,
                   help="per-frame JSON lines, appended; frames already there are skipped")
    p.add_argument("--threads", type=int, default=1, help="torch threads")  # fmt: skip
    return p.parse_args(argv)


def run(args: argparse.Namespace, floor: float | None = None) -> str:
    """Everything but the exit status: the report (see :func:`main`)."""
    exp = args.experiment
    config = read_config(exp)
    strategies = [s.lower() for s in config.get("strategies", [])]
    default = args.default_strategy.lower()
    if RANDOM not in strategies:
        raise InputError(f"{exp / 'config.json'}: the experiment has no random arm")
    if default not in strategies:
        raise InputError(f"--default-strategy {args.default_strategy!r}: not a strategy of the "
                         f"experiment ({', '.join(strategies)})")  # fmt: skip
    size = tuple(int(v) for v in config["train"]["input_size"])
    full = (args.full_pool_dice if args.full_pool_dice is not None
            else full_pool_from_calibration(args.calibration, size))  # fmt: skip
    target = TARGET_SHARE * full
    rounds = int(config["rounds"]) if "rounds" in config else None
    arms = {RANDOM: load_arms(exp, RANDOM, target, rounds)}
    workflows = [Workflow("W0", RANDOM, "e", False), Workflow("W1", RANDOM, "g", True)]
    if default != RANDOM:
        arms[default] = load_arms(exp, default, target, rounds)
        workflows.append(Workflow("W2", default, "g", True))
    rows = []
    if args.out.exists():
        rows = [json.loads(line) for line in args.out.read_text().splitlines() if line.strip()]
    here = str(exp.resolve())
    for r in rows:
        if r.get("experiment", here) != here:
            raise InputError(f"--out {args.out}: holds results of another experiment "
                             f"({r['experiment']}): use another --out")  # fmt: skip
    done = {row_id(r) for r in rows}
    print(f"{exp}: target {target:.4f}; {len(done)} frame results already in {args.out}",
          flush=True)
    import torch

    torch.set_num_threads(args.threads)
    from alges_napari.core.errors import AlgesError

    try:
        reader = FrameReader(config)
    except AlgesError as exc:
        raise InputError(f"{exp / 'config.json'}: data {config.get('data')}: {exc}") from None

    def write(row: dict[str, Any]) -> None:
        row["experiment"] = here
        rows.append(row)
        with args.out.open("a") as fh:
            fh.write(json.dumps(row) + "\n")

    for wf in workflows:
        run_workflow(exp, wf, arms[wf.strategy], reader, reader.k, done, write, floor)
    text = report(rows, arms, workflows, target, floor)
    print(text)
    return text


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; 2 with a one-line error on bad input.

    Parameters
    ----------
    argv : sequence of str, optional
        The arguments (None: ``sys.argv[1:]``).

    Returns
    -------
    int
        0, or 2 on bad input.
    """
    args = parse_args(argv)
    try:
        run(args)
    except InputError as exc:
        print(f"surgeons_total: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
