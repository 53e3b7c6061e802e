"""alges simulate on a dask cluster: the rows of the in-process run, one writer, stop and resume."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("distributed", reason="dask.distributed is not installed (extra 'distributed')")

from alges_napari.core.experiment.config import SimulationConfig, paper_training  # noqa: E402
from alges_napari.core.experiment.loop import iter_simulate, simulate  # noqa: E402
from alges_napari.core.progress import StopFlag, run_to_end  # noqa: E402

TIMING = {"train_s", "select_s"}


@pytest.fixture
def client(dask_client: Any) -> Any:
    return dask_client  # the suite's local cluster of 2 worker processes (tests/conftest.py)


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> SimulationConfig:
    from alges_napari.core.data.synthetic import write_cholecseg8k_tree

    tree = write_cholecseg8k_tree(
        tmp_path_factory.mktemp("tree"), n_clips=4, frames_per_clip=6, size=(64, 64), seed=3
    )
    return SimulationConfig(
        data=str(tree),
        strategies=("random", "alges-seg"),
        init=3,
        query_size=2,
        rounds=2,
        repeats=1,
        train=paper_training(epochs=1, batch_size=4, lr=1e-3, input_size=(32, 32)),
        test_size=0.25,
        full_pool=True,
    )


@pytest.fixture(scope="module")
def in_process(config: SimulationConfig, tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("in_process")
    simulate(config, out, device="cpu")  # on one thread, as the whole suite (tests/conftest.py)
    return rows(out)


def rows(out: Path) -> dict[tuple[str, str, str], dict[str, str]]:
    """The rows of results.csv by (strategy, repeat, round), without timings; no duplicate."""
    with open(out / "results.csv", newline="") as fh:
        found = list(csv.DictReader(fh))
    keyed = {(r["strategy"], r["repeat"], r["round"]): r for r in found}
    assert len(keyed) == len(found), "a step was written twice"
    return {k: {c: v for c, v in r.items() if c not in TIMING} for k, r in keyed.items()}


def test_the_cluster_writes_the_in_process_rows_and_resumes_after_a_stop(
    client: Any, config: SimulationConfig, in_process: dict, tmp_path: Path
) -> None:
    """Stopped after its first acquisition round, then run again: the rows (Dice, picks,
    corrections) are those of the in-process run, each written once."""
    out = tmp_path / "out"
    stop = StopFlag()

    def stop_after_first_round(p: Any) -> None:
        if getattr(p, "row", None) and p.row["round"] >= 1:
            stop.set()

    first = run_to_end(iter_simulate(config, out, stop, "cpu", client), stop_after_first_round)
    assert first.stopped and 3 <= first.rows_written < 7
    assert set(rows(out)) < set(in_process)
    second = simulate(config, out, device="cpu", client=client)
    assert not second.stopped and first.rows_written + second.rows_written == 7
    assert second.rows_skipped >= 1  # the rounds finished before the stop are not run again
    # round 0 of 2 strategies, 2 rounds of 2 strategies, the full-pool model
    assert len(in_process) == 7 and rows(out) == in_process


def test_the_engine_chosen_reaches_the_workers_passes(
    client: Any, config: SimulationConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The experiment's engine travels with its tasks, as the device does: every pass on a
    worker (test Dice, the pool) is told it, and no environment carries it."""
    from dataclasses import replace

    from tests.engine_spy import engine_environ, spy_on_workers

    monkeypatch.delenv("ALGES_ENGINE", raising=False)
    small = replace(config, strategies=("alges-seg",), rounds=1, full_pool=False)
    collect = spy_on_workers(client)
    try:
        done = simulate(small, tmp_path / "out", device="cpu", client=client, engine="torch")
    finally:
        on_workers = collect()
    assert not done.stopped and done.rows_written == 2  # round 0 and round 1
    choices = [c for _env, seen in on_workers.values() for c in seen]
    # Round 0 tests its model; round 1 scores the pool, then tests: at least three passes.
    assert len(choices) >= 3 and set(choices) == {"torch"}, on_workers
    assert all(env is None for env, _ in on_workers.values()) and engine_environ() == {}
