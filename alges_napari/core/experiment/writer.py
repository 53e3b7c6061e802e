"""The driver of a simulated experiment: the resumable loop and the one writer of its store.

:class:`ExperimentWriter` draws (or reloads) each repeat's split, records every finished step
(state file, then row: the crash-safe order of :mod:`.store`) and counts the steps for progress;
:class:`~.work.Work` computes the steps. The in-process loop is :meth:`ExperimentWriter.run`;
:func:`~.distributed.run_on_cluster` drives the same writer with the steps run as dask tasks.
"""

from __future__ import annotations

from collections.abc import Collection, Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alges_napari.core.errors import AlgesError
from alges_napari.core.experiment.config import FULL_POOL, SimulationConfig
from alges_napari.core.experiment.pool import Runner, split_repeat
from alges_napari.core.experiment.store import ExperimentStore
from alges_napari.core.experiment.work import Work
from alges_napari.core.progress import Cancelled, Progress, SupportsIsSet, is_stopped


@dataclass
class SimulationResult:
    """What :func:`iter_simulate` returns."""

    out: Path
    rows_written: int = 0
    rows_skipped: int = 0
    stopped: bool = False
    columns: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class SimulationStep(Progress):
    """Progress of a finished (or skipped) step of the experiment."""

    repeat: int | None = None
    strategy: str | None = None
    row: dict[str, Any] | None = None
    skipped: bool = False


class ExperimentWriter:
    """The resumable loop over repeats, rounds and strategies (see :func:`iter_simulate`): the
    one writer of the store; :class:`Work` computes each step."""

    def __init__(
        self,
        config: SimulationConfig,
        runner: Runner,
        store: ExperimentStore,
        keep_models: Collection[str] = (),
    ):
        self.config, self.runner, self.store = config, runner, store
        self.keep_models = frozenset(keep_models)  # strategies whose round models all stay
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
        self.store.save_state(strategy, repeat, state, strategy in self.keep_models)
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
                state = {"round": 0, "labelled": rec["labelled"], "checkpoint": rec["checkpoint"]}
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
