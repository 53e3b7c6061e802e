"""Simulated active learning: an oracle made from ground-truth masks, the paper's protocol.

For each repeat ``r`` (seed ``seed + r``): whole clips are held out as test frames, ``init``
frames of the remaining pool are drawn as the first labelled set (shared by every strategy, so
strategies start from the same point), a model is trained on them and scored on the test frames
(round 0, also shared). Then, for each round ``t = 1..rounds`` and each strategy, that strategy's
round ``t - 1`` model scores the unlabelled pool, the strategy picks ``query`` frames, the oracle
labels them (their ground truth joins the training set), a model is trained -- from scratch by
default, as in the paper, or from the previous one with ``warm_start`` -- and its Dice on the
test frames is written as a row of ``results.csv``.

**Held-out clips.** Consecutive video frames are near-duplicates: a test frame whose neighbour is
in the training set measures memory, not generalisation. Test frames are therefore whole groups:
the first component of the frame key (the video, ``videoXX`` in a CholecSeg8k tree; each
synthetic clip is its own video), or, for sources whose keys have no folder (one video file, one
image folder), contiguous blocks of 1/20 of the frames.

**A fixed test set.** With ``test_data`` (``--test-data``: an official test or validation
split) no frame of ``data`` is held out: every model is evaluated on that source's frames, and
the whole of ``data`` is pool.

**Dice.** Frames and masks are resized once to ``size`` (masks by nearest neighbour) and Dice is
measured at that resolution. ``mean_dice`` is the equally weighted mean of the data-set-level
Dice of every foreground class present in the test truth; ``dice_<id>`` holds each class's;
``mean_dice_scored`` and ``mean_dice_per_image`` are the older figures over the schema's scored
classes (see :mod:`.pool`).

Everything needed to resume is written under ``out`` after every step: see
:mod:`alges_napari.core.experiment.store`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from alges_napari.core.errors import AlgesError
from alges_napari.core.experiment.config import FULL_POOL, SimulationConfig
from alges_napari.core.experiment.effort import total_effort
from alges_napari.core.experiment.pool import Runner, load_runner, result_columns, split_repeat
from alges_napari.core.experiment.store import ExperimentStore
from alges_napari.core.learn.model import load_checkpoint, pick_device, save_checkpoint
from alges_napari.core.progress import Cancelled, Progress, SupportsIsSet, is_stopped, run_to_end


@dataclass
class SimulationResult:
    """What :func:`iter_simulate` returns."""

    out: Path
    rows_written: int = 0
    rows_skipped: int = 0
    stopped: bool = False
    columns: list[str] = field(default_factory=list)


def _seed(config: SimulationConfig, repeat: int, round_index: int) -> int:
    """Seed of a round's training and selection: the same for every strategy, so strategies
    differ only by the frames they chose."""
    return (config.seed + repeat) * 1000 + round_index


@dataclass(frozen=True)
class SimulationStep(Progress):
    """Progress of a finished (or skipped) step of the experiment."""

    repeat: int | None = None
    strategy: str | None = None
    row: dict[str, Any] | None = None
    skipped: bool = False


class Work:
    """The computing half of the experiment's steps: train, query, test and save the model.

    Writes checkpoints only, never a state file or a row, so a step may run on a dask worker
    (:mod:`.distributed`) while the driver's :class:`_Experiment` stays the one writer of the
    store. Each method returns what the driver records.
    """

    def __init__(self, config: SimulationConfig, runner: Runner, store: ExperimentStore):
        self.config, self.runner, self.store = config, runner, store

    def _save_model(self, model: Any, path: Path, extra: dict[str, Any]) -> str:
        save_checkpoint(model, path, self.runner.spec, extra=extra)
        return path.relative_to(self.store.root).as_posix()

    def _train_and_test(
        self, labeled: list[str], seed: int, start: Path | None, test: list[str], stop: Any
    ) -> Generator[Progress, None, tuple[Any, dict[str, Any]]]:
        """Train on ``labeled`` and test: (model, the row's training and Dice columns)."""
        t0 = time.perf_counter()
        trained = yield from self.runner.train(labeled, seed, start, stop)
        if trained is None:
            raise Cancelled()
        model, tres = trained
        train_s = time.perf_counter() - t0
        metrics = yield from self.runner.evaluate(model, test, stop)
        return model, {**metrics, "train_loss": _last_loss(tres), "train_s": round(train_s, 3)}

    def round0(
        self, repeat: int, split: dict[str, list[str]], stop: SupportsIsSet | None
    ) -> Generator[Progress, None, dict[str, Any]]:
        """Train and test the shared round-0 model of a repeat: its record."""
        seed = _seed(self.config, repeat, 0)
        model, cols = yield from self._train_and_test(
            split["init"], seed, None, split["test"], stop
        )
        path = self.store.checkpoint_path(None, repeat, 0)
        ckpt = self._save_model(model, path, {"repeat": repeat, "round": 0})
        # Nothing predicts the first frames: the surgeon paints them from scratch.
        px, regions = total_effort((self.runner.truth_of(k), None) for k in split["init"])
        row = {"repeat": repeat, "round": 0, "n_labeled": len(split["init"]), **cols}
        row.update(select_s=0.0, corrected_px=px, corrected_regions=regions)
        row.update(corrected_px_total=px, corrected_regions_total=regions)
        return {"checkpoint": ckpt, "labeled": split["init"], "row": row}

    def step(
        self,
        strategy: str,
        repeat: int,
        t: int,
        split: dict[str, list[str]],
        state: dict[str, Any],
        stop: Any,
    ) -> Generator[Progress, None, dict[str, Any]]:
        """Round ``t`` of a strategy from its round ``t - 1`` state: the new state."""
        prev = self.store.root / state["checkpoint"]
        model, _, _ = load_checkpoint(prev, device=str(self.runner.device))
        seed = _seed(self.config, repeat, t)
        query = yield from self.runner.query(strategy, model, state["labeled"], split, seed, stop)
        labeled = state["labeled"] + query.picked
        model, cols = yield from self._train_and_test(labeled, seed, prev, split["test"], stop)
        path = self.store.checkpoint_path(strategy, repeat, t)
        ckpt = self._save_model(model, path, {"strategy": strategy, "repeat": repeat, "round": t})
        last = state["rows"][-1]
        row = {"strategy": strategy, "repeat": repeat, "round": t, "n_labeled": len(labeled)}
        row.update(cols, select_s=round(query.select_s, 3))
        row.update(corrected_px=query.corrected_px, corrected_regions=query.corrected_regions)
        row["corrected_px_total"] = int(last.get("corrected_px_total", 0)) + query.corrected_px
        row["corrected_regions_total"] = (
            int(last.get("corrected_regions_total", 0)) + query.corrected_regions
        )
        return {"round": t, "labeled": labeled, "checkpoint": ckpt, "rows": state["rows"] + [row]}

    def full_pool(
        self, repeat: int, split: dict[str, list[str]], stop: SupportsIsSet | None
    ) -> Generator[Progress, None, dict[str, Any]]:
        """Train one model on every pool frame of the repeat: the full-pool state."""
        labeled = self.runner.pool_keys(split)
        seed = _seed(self.config, repeat, 0)
        _, cols = yield from self._train_and_test(labeled, seed, None, split["test"], stop)
        row = {"strategy": FULL_POOL, "repeat": repeat, "round": 0, "n_labeled": len(labeled)}
        row.update(cols, select_s=0.0)
        return {"round": 0, "labeled": [], "checkpoint": None, "rows": [row]}


class _Experiment:
    """The resumable loop over repeats, rounds and strategies (see :func:`iter_simulate`): the
    one writer of the store; :class:`Work` computes each step."""

    def __init__(self, config: SimulationConfig, runner: Runner, store: ExperimentStore):
        self.config, self.runner, self.store = config, runner, store
        self.work = Work(config, runner, store)
        self.done = store.done_rows()
        self.result = SimulationResult(store.root, columns=store.columns)
        self.step = 0
        full = 1 if config.full_pool else 0
        self.steps = config.repeats * (1 + full + config.rounds * len(config.strategies))

    def tick(self, **info: Any) -> SimulationStep:
        """The progress record of a finished (or skipped) step."""
        self.step += 1
        return SimulationStep("step", self.step, self.steps, **info)

    def record(self, strategy: str, repeat: int, state: dict[str, Any]) -> None:
        """Persist a (strategy, repeat) state, then its newest row (the crash-safe order)."""
        self.store.save_state(strategy, repeat, state)
        row = state["rows"][-1]
        key = (strategy, repeat, int(row["round"]))
        if key not in self.done:
            self.store.append_row(row)
            self.done.add(key)
            self.result.rows_written += 1

    def split(self, repeat: int) -> dict[str, list[str]]:
        """The repeat's split: the stored one, else drawn and stored."""
        split = self.store.load_split(repeat)
        if split is None:
            test = self.runner.test_pool.keys if self.runner.test_pool else None
            split = split_repeat(self.runner.pool, self.config, repeat, test)
            self.store.save_split(repeat, split)
        missing = self.runner.has_frames(split)
        if missing:
            raise AlgesError(
                f"{self.store.root}: the stored split of repeat {repeat} names frames the data "
                f"no longer has (e.g. {missing[0]!r}); use another --out"
            )
        return split

    def start_strategies(self, repeat: int, rec: dict[str, Any]) -> SimulationStep:
        """Give every strategy the round-0 state of the repeat's (stored) round-0 record."""
        for strategy in self.config.strategies:
            if self.store.load_state(strategy, repeat) is None:
                row = {**rec["row"], "strategy": strategy}
                state = {"round": 0, "labeled": rec["labeled"], "checkpoint": rec["checkpoint"]}
                self.record(strategy, repeat, {**state, "rows": [row]})
        return self.tick(repeat=repeat, round=0)

    def pending(self, strategy: str, repeat: int, t: int) -> dict[str, Any] | None:
        """The state round ``t`` of a strategy starts from, or None when it is done."""
        state = self.store.load_state(strategy, repeat)
        return None if state is None or state["round"] >= t else state

    def skip(self, **info: Any) -> SimulationStep:
        """The progress record of an acquisition round found done."""
        self.result.rows_skipped += 1
        return self.tick(skipped=True, **info)

    def run(self, stop: SupportsIsSet | None) -> Generator[Progress, None, None]:
        """Every repeat, round and strategy, skipping the steps already on disk."""
        for repeat in range(self.config.repeats):
            split = self.split(repeat)
            rec = self.store.load_round0(repeat)
            if rec is None:
                rec = yield from self.work.round0(repeat, split, stop)
                self.store.save_round0(repeat, rec)
            yield self.start_strategies(repeat, rec)
            for t in range(1, self.config.rounds + 1):
                for strategy in self.config.strategies:
                    if is_stopped(stop):
                        raise Cancelled()
                    state = self.pending(strategy, repeat, t)
                    if state is None:
                        yield self.skip(repeat=repeat, round=t, strategy=strategy)
                        continue
                    new = yield from self.work.step(strategy, repeat, t, split, state, stop)
                    self.record(strategy, repeat, new)
                    row = new["rows"][-1]
                    yield self.tick(repeat=repeat, round=t, strategy=strategy, row=row)
            if self.config.full_pool:
                if self.store.load_state(FULL_POOL, repeat) is not None:
                    yield self.tick(repeat=repeat, round=0, strategy=FULL_POOL, skipped=True)
                    continue
                state = yield from self.work.full_pool(repeat, split, stop)
                self.record(FULL_POOL, repeat, state)
                yield self.tick(repeat=repeat, round=0, strategy=FULL_POOL, row=state["rows"][0])


def _last_loss(result: Any) -> float:
    return float(result.history[-1]["loss"]) if result.history else float("nan")


def iter_simulate(
    config: SimulationConfig,
    out: str | os.PathLike[str],
    stop: SupportsIsSet | None = None,
    device: torch.device | str | None = None,
    client: Any = None,
    engine: str | None = None,
) -> Generator[Progress, None, SimulationResult]:
    """Run (or resume) a simulated active-learning experiment, writing ``out/results.csv``.

    Parameters
    ----------
    config : SimulationConfig
        The experiment.
    out : path-like
        Experiment folder; if it holds a run with the same settings, finished steps are skipped.
    stop : object with ``is_set()``, optional
        Checked within every batch; a stopped step leaves no trace, finished ones stay.
    device : torch.device or str, optional
        Default ``model.pick_device()`` (on each worker, with ``client``).
    client : distributed.Client, optional
        Run the steps as tasks on this dask cluster (:mod:`.distributed`); this process
        still draws the splits and writes every state file and row.
    engine : str, optional
        What runs the scoring passes' forward (``--engine``, else ``$ALGES_ENGINE``, read by the
        caller); None: auto. Sent to the workers with each task, as ``device`` is.

    Yields
    ------
    dict
        Progress: "stage" is "load", "train", "score", "select", "evaluate" (with "done"
        and "total" of that stage) or "step" (a finished or skipped step: "done"/"total" count
        steps, plus "repeat", "round", "strategy" and, for a finished step, its "row").

    Returns
    -------
    SimulationResult
    """
    on_workers = None if device is None else str(device)
    device = device if isinstance(device, torch.device) else pick_device(device)
    result = SimulationResult(Path(out))
    try:
        runner = yield from load_runner(config, device, stop, engine=engine)
        store = ExperimentStore(out, result_columns(runner.pool.schema))
        store.open(config.to_json())
        store.reconcile()
        experiment = _Experiment(config, runner, store)
        result = experiment.result
        if client is None:
            yield from experiment.run(stop)
        else:
            from alges_napari.core.experiment.distributed import run_on_cluster

            yield from run_on_cluster(experiment, client, on_workers, stop)
    except Cancelled:
        result.stopped = True
    return result


def simulate(config: SimulationConfig, out: str | os.PathLike[str], **kw: Any) -> SimulationResult:
    """Run :func:`iter_simulate` to the end (keyword arguments are passed on)."""
    return run_to_end(iter_simulate(config, out, **kw))
