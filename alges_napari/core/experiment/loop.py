"""Simulated active learning: an oracle made from ground-truth masks, the paper's protocol.

For each repeat ``r`` (seed ``seed + r``): whole clips are held out as test frames, ``init``
frames of the remaining pool are drawn as the first labelled set (shared by every strategy, so
strategies start from the same point), a model is trained on them and scored on the test frames
(round 0, also shared). Then, for each round ``t = 1..rounds`` and each strategy, that strategy's
round ``t - 1`` model scores the unlabelled pool, the strategy picks ``query_size`` frames, the
oracle labels them (their ground truth joins the training set), a model is trained -- from
scratch by default, as in the paper, or from the previous one with ``train.warm_start`` -- and
its Dice on the test frames is written as a row of ``results.csv``.

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

This module is the entry point only: :class:`~.work.Work` computes the steps,
:class:`~.writer.ExperimentWriter` runs them in this process and records them, and
:mod:`.distributed` runs them on a dask cluster with the same writer.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Generator
from pathlib import Path
from typing import Any

import torch

from alges_napari.core.errors import AlgesError
from alges_napari.core.experiment.config import SimulationConfig
from alges_napari.core.experiment.distributed import run_on_cluster
from alges_napari.core.experiment.pool import load_runner, result_columns
from alges_napari.core.experiment.store import ExperimentStore
from alges_napari.core.experiment.writer import ExperimentWriter, SimulationResult, SimulationStep
from alges_napari.core.learn.model import pick_device
from alges_napari.core.progress import Cancelled, Progress, SupportsIsSet, run_to_end

__all__ = ["SimulationResult", "SimulationStep", "iter_simulate", "simulate"]


def iter_simulate(
    config: SimulationConfig,
    out: str | os.PathLike[str],
    stop: SupportsIsSet | None = None,
    device: torch.device | str | None = None,
    client: Any = None,
    engine: str | None = None,
    keep_models: Collection[str] = (),
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
    keep_models : collection of str, optional
        Strategies whose every round model is kept (``state/<strategy>/repeat_<r>/
        round_<t>.safetensors``; by default only the latest is), for work that needs the model
        that picked each frame, such as the surgeon's total (docs/experiment/real/PROTOCOL.md,
        part 3). A Unet/ResNet-18 is 57 MB a round. Not a setting of the experiment: it changes
        no result, and a resumed run may add or drop strategies here (models deleted before
        stay deleted).

    Raises
    ------
    AlgesError
        A ``keep_models`` strategy that is not one of ``config.strategies``.

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
    keep = _kept_strategies(keep_models, config)
    on_workers = None if device is None else str(device)
    device = device if isinstance(device, torch.device) else pick_device(device)
    result = SimulationResult(Path(out))
    try:
        runner = yield from load_runner(config, device, stop, engine=engine)
        store = ExperimentStore(out, result_columns(runner.pool.schema))
        store.open(config.to_json())
        store.reconcile()
        experiment = ExperimentWriter(config, runner, store, keep)
        result = experiment.result
        if client is None:
            yield from experiment.run(stop)
        else:
            yield from run_on_cluster(experiment, client, on_workers, stop)
    except Cancelled:
        result.stopped = True
    return result


def _kept_strategies(names: Collection[str], config: SimulationConfig) -> tuple[str, ...]:
    """``keep_models`` as the strategies' canonical names; an AlgesError for one not run."""
    from alges_napari.core.acquire.strategies import get_strategy

    out = []
    for name in names:
        try:
            canonical = get_strategy(name).name
        except AlgesError:  # not a strategy at all
            canonical = None
        if canonical not in config.strategies:
            raise AlgesError(
                f"keep_models: {name!r} is not a strategy of this experiment "
                f"({', '.join(config.strategies)})"
            )
        out.append(canonical)
    return tuple(out)


def simulate(config: SimulationConfig, out: str | os.PathLike[str], **kw: Any) -> SimulationResult:
    """Run :func:`iter_simulate` to the end (keyword arguments are passed on)."""
    return run_to_end(iter_simulate(config, out, **kw))
