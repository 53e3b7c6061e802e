"""The computing half of a simulated experiment: train, query, test and save each step's model.

:class:`Work` is what the in-process loop (:mod:`.loop`) and a dask worker
(:mod:`.distributed`) both run for a step; it writes checkpoints only. What it returns is
recorded by the one writer of the store, :class:`~.writer.ExperimentWriter`. The writer and
:mod:`.distributed` import this module and it imports neither, so the experiment's imports run
one way: ``loop -> distributed -> writer -> work``.
"""

from __future__ import annotations

import time
from collections.abc import Generator
from pathlib import Path
from typing import Any

from alges_napari.core.experiment.config import FULL_POOL, SimulationConfig
from alges_napari.core.experiment.effort import total_effort
from alges_napari.core.experiment.pool import Runner
from alges_napari.core.experiment.store import ExperimentStore
from alges_napari.core.learn.model import load_checkpoint, save_checkpoint
from alges_napari.core.progress import Cancelled, Progress, SupportsIsSet


def _seed(config: SimulationConfig, repeat: int, round_index: int) -> int:
    """Seed of a round's training and selection: the same for every strategy, so strategies
    differ only by the frames they chose."""
    return (config.seed + repeat) * 1000 + round_index


class Work:
    """The computing half of the experiment's steps: train, query, test and save the model.

    Writes checkpoints only, never a state file or a row, so a step may run on a dask worker
    (:mod:`.distributed`) while the driver's :class:`~.writer.ExperimentWriter` stays the one
    writer of the store. Each method returns what the driver records.
    """

    def __init__(self, config: SimulationConfig, runner: Runner, store: ExperimentStore):
        self.config, self.runner, self.store = config, runner, store

    def _save_model(self, model: Any, path: Path, extra: dict[str, Any]) -> str:
        save_checkpoint(model, path, self.runner.spec, extra=extra)
        return path.relative_to(self.store.root).as_posix()

    def _train_and_test(
        self, labelled: list[str], seed: int, start: Path | None, test: list[str], stop: Any
    ) -> Generator[Progress, None, tuple[Any, dict[str, Any]]]:
        """Train on ``labelled`` and test: (model, the row's training and Dice columns)."""
        t0 = time.perf_counter()
        trained = yield from self.runner.train(labelled, seed, start, stop)
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
        row = {"repeat": repeat, "round": 0, "n_labelled": len(split["init"]), **cols}
        row.update(select_s=0.0, corrected_px=px, corrected_regions=regions)
        row.update(corrected_px_total=px, corrected_regions_total=regions)
        return {"checkpoint": ckpt, "labelled": split["init"], "row": row}

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
        query = yield from self.runner.query(strategy, model, state["labelled"], split, seed, stop)
        labelled = state["labelled"] + query.picked
        model, cols = yield from self._train_and_test(labelled, seed, prev, split["test"], stop)
        path = self.store.checkpoint_path(strategy, repeat, t)
        ckpt = self._save_model(model, path, {"strategy": strategy, "repeat": repeat, "round": t})
        last = state["rows"][-1]
        row = {"strategy": strategy, "repeat": repeat, "round": t, "n_labelled": len(labelled)}
        row.update(cols, select_s=round(query.select_s, 3))
        row.update(corrected_px=query.corrected_px, corrected_regions=query.corrected_regions)
        row["corrected_px_total"] = int(last.get("corrected_px_total", 0)) + query.corrected_px
        row["corrected_regions_total"] = (
            int(last.get("corrected_regions_total", 0)) + query.corrected_regions
        )
        return {"round": t, "labelled": labelled, "checkpoint": ckpt, "rows": state["rows"] + [row]}

    def full_pool(
        self, repeat: int, split: dict[str, list[str]], stop: SupportsIsSet | None
    ) -> Generator[Progress, None, dict[str, Any]]:
        """Train one model on every pool frame of the repeat: the full-pool state."""
        labelled = self.runner.pool_keys(split)
        seed = _seed(self.config, repeat, 0)
        _, cols = yield from self._train_and_test(labelled, seed, None, split["test"], stop)
        row = {"strategy": FULL_POOL, "repeat": repeat, "round": 0, "n_labelled": len(labelled)}
        row.update(cols, select_s=0.0)
        return {"round": 0, "labelled": [], "checkpoint": None, "rows": [row]}


def _last_loss(result: Any) -> float:
    return float(result.history[-1]["loss"]) if result.history else float("nan")
