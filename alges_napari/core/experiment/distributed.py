"""A simulated experiment's steps as tasks on a dask cluster (``alges simulate --dask``).

Every (strategy, repeat) is a chain of tasks, one per acquisition round, and chains run side by
side; each repeat's shared round-0 model and its full-pool model are tasks too. A task runs the
same :class:`~alges_napari.core.experiment.work.Work` method as the in-process loop, on a worker
that reads the frames itself from the experiment's settings (``data`` is a path) and the
previous model from the experiment folder (a shared file system), and writes only its new
checkpoint. The driver stays the one writer of the store: it records each step (state file,
then row) as its task finishes, in the crash-safe order of
:mod:`~alges_napari.core.experiment.store`, and submits the chain's next round. So a stop, a
crash or a killed worker leaves what the in-process loop would: finished steps stay, and running
the same command again resumes from them. A task whose worker dies is run again elsewhere.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Generator
from pathlib import Path
from typing import Any

from alges_napari.core.experiment.config import FULL_POOL, SimulationConfig
from alges_napari.core.experiment.pool import load_runner
from alges_napari.core.experiment.store import ExperimentStore
from alges_napari.core.experiment.work import Work
from alges_napari.core.experiment.writer import ExperimentWriter
from alges_napari.core.learn.model import pick_device
from alges_napari.core.progress import Cancelled, Progress, SupportsIsSet, is_stopped, run_to_end

_LOCK = threading.Lock()  # one step at a time per worker process
_LOADED: dict[str, Any] = {}


def _work_on_worker(
    config: dict[str, Any], root: str, columns: list[str], device: Any, engine: str | None
) -> Work:
    """The experiment's :class:`Work` in this worker process; the pool is read once."""
    key = json.dumps([config, root, device, engine], sort_keys=True, default=str)
    if _LOADED.get("key") != key:
        _LOADED.pop("work", None)
        cfg = SimulationConfig.from_json(config)
        runner = run_to_end(load_runner(cfg, pick_device(device), engine=engine))
        # never opened: this store only names checkpoint paths, it writes no state or row
        store = ExperimentStore(root, columns)
        _LOADED.update(work=Work(cfg, runner, store), key=key)
    return _LOADED["work"]


def run_step(
    kind: str,
    config: dict[str, Any],
    root: str,
    columns: list[str],
    device: str | None,
    engine: str | None,
    args: tuple[Any, ...],
) -> dict[str, Any]:
    """One step of the experiment on a worker: what the driver records.

    Parameters
    ----------
    kind : {"round0", "step", "full_pool"}
        The :class:`Work` method to run.
    config : dict
        The experiment's settings (:meth:`SimulationConfig.to_json`).
    root : str
        The experiment folder (as the worker sees it).
    columns : list of str
        The results' columns.
    device : str, optional
        Default: the worker's best.
    engine : str, optional
        What runs the scoring passes' forward: the driver's choice (None: auto).
    args : tuple
        The method's arguments before ``stop``.
    """
    with _LOCK:
        work = _work_on_worker(config, root, columns, device, engine)
        return run_to_end(getattr(work, kind)(*args, None))


def run_on_cluster(
    experiment: ExperimentWriter, client: Any, device: str | None, stop: SupportsIsSet | None
) -> Generator[Progress, None, None]:
    """Run ``experiment``'s remaining steps as tasks on ``client``'s cluster.

    Yields the same "step" records as the in-process loop (finished chains in the order their
    tasks end). A stop cancels the tasks not finished: finished steps are recorded, the others
    run again on resume.
    """
    from distributed import wait

    cfg, store = experiment.config, experiment.store
    # The driver's engine travels with each task, as the device does: no worker's environment
    # decides how it scores.
    engine = experiment.runner.engine
    common = (cfg.to_json(), str(Path(store.root).resolve()), store.columns, device, engine)
    futures: dict[Any, tuple[str, tuple[Any, ...]]] = {}
    splits: dict[int, dict[str, list[str]]] = {}

    def submit(kind: str, *args: Any) -> None:
        future = client.submit(run_step, kind, *common, args, pure=False, retries=1)
        futures[future] = (kind, args)

    def chain(strategy: str, repeat: int, t: int) -> Generator[Progress, None, None]:
        """Skip the rounds found done, then submit the first one to run."""
        for r in range(t, cfg.rounds + 1):
            state = experiment.pending(strategy, repeat, r)
            if state is None:
                yield experiment.skip(repeat=repeat, round=r, strategy=strategy)
            else:
                submit("step", strategy, repeat, r, splits[repeat], state)
                return

    def started(repeat: int, rec: dict[str, Any]) -> Generator[Progress, None, None]:
        yield experiment.start_strategies(repeat, rec)
        for strategy in cfg.strategies:
            yield from chain(strategy, repeat, 1)

    for repeat in range(cfg.repeats):
        splits[repeat] = experiment.split(repeat)
        rec = store.load_round0(repeat)
        if rec is None:
            submit("round0", repeat, splits[repeat])
        else:
            yield from started(repeat, rec)
        if cfg.full_pool:
            if store.load_state(FULL_POOL, repeat) is not None:
                yield experiment.tick(repeat=repeat, round=0, strategy=FULL_POOL, skipped=True)
            else:
                submit("full_pool", repeat, splits[repeat])
    try:
        while futures:
            if is_stopped(stop):
                raise Cancelled()
            try:
                with client.as_current():  # the client is not the process default
                    finished = wait(list(futures), timeout=0.5, return_when="FIRST_COMPLETED").done
            except TimeoutError:
                continue
            for future in finished:
                kind, args = futures.pop(future)
                out = future.result()  # re-raises the step's error here
                if kind == "round0":
                    store.save_round0(args[0], out)
                    yield from started(args[0], out)
                elif kind == "step":
                    strategy, repeat, t = args[:3]
                    experiment.record(strategy, repeat, out)
                    row = out["rows"][-1]
                    yield experiment.tick(repeat=repeat, round=t, strategy=strategy, row=row)
                    yield from chain(strategy, repeat, t + 1)
                else:
                    experiment.record(FULL_POOL, args[0], out)
                    yield experiment.tick(
                        repeat=args[0], round=0, strategy=FULL_POOL, row=out["rows"][0]
                    )
    finally:
        if futures:
            client.cancel(list(futures))
