"""The scoring pass spread over the workers of a dask.distributed cluster (``alges rank --dask``).

:class:`DaskScorer` is a :data:`~alges_napari.core.acquire.step.Scorer`: THE acquisition step
(:func:`~alges_napari.core.acquire.step.iter_acquire`) hands it the keys to score and runs the
one selection itself, on the driver. The keys are cut into shards whose boundaries fall on the
pass's batches, so every batch is the one the in-process pass would form and the scores are the
same numbers. A worker receives only the checkpoint's path, the frame source's description
(:meth:`FrameSource.describe`: its type and path), the keys of its shard and a cache writer
holding a folder path: it loads the checkpoint once per process, opens the frames itself, writes
its predictions and heat maps into the project's ``cache/`` and returns the shard's score arrays.
No pixel and no model goes through the scheduler.

A worker that dies mid-shard loses nothing: the scheduler gives its shard to another worker
(``distributed.scheduler.allowed-failures``), cache writes are atomic and idempotent, and a
shard's scores depend only on its keys, so the queue is the same.

Clients come from :mod:`.cluster`; ``distributed`` is an optional dependency, imported only
when a cluster is used.
"""

from __future__ import annotations

import json
import math
import os
import threading
import warnings
from collections.abc import Generator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from alges_napari.core.acquire.scores import SCORE_FIELDS, ScoreResult
from alges_napari.core.acquire.scoring import OnFrame, ScoreOptions
from alges_napari.core.acquire.step import local_scorer
from alges_napari.core.errors import AlgesError
from alges_napari.core.progress import Cancelled, Progress, SupportsIsSet, is_stopped, run_to_end


def worker_count(client: Any) -> int:
    """Workers the scheduler knows now (at least 1)."""
    return max(1, len(client.scheduler_info().get("workers", {})))


# ------------------------------------------------------------------ on a worker

_LOCK = threading.Lock()  # one shard at a time per process: a model and a source are not shared
_LOADED: dict[str, Any] = {}


def _model_on_worker(checkpoint: str, device: str | None) -> tuple[Any, Any, Any]:
    """The checkpoint's model and spec, loaded once per worker process (again if it changed)."""
    from alges_napari.core.learn.model import load_checkpoint, pick_device

    dev = pick_device(device)
    stat = os.stat(checkpoint)
    key = json.dumps([checkpoint, stat.st_mtime_ns, stat.st_size, str(dev)])
    if _LOADED.get("model_key") != key:
        _LOADED.pop("model", None)  # free the previous model before loading the next
        model, spec, _ = load_checkpoint(checkpoint, device=str(dev))
        _LOADED.update(model=(model, spec, dev), model_key=key)
    return _LOADED["model"]


def _frames_on_worker(source: dict[str, Any]) -> Any:
    """The frame source of ``source`` (a ``describe()`` dict), opened once per worker process."""
    from alges_napari.core.data.frames import open_frames_from_config

    key = json.dumps(source, sort_keys=True, default=str)
    if _LOADED.get("frames_key") != key:
        old = _LOADED.pop("frames", None)
        if old is not None and hasattr(old, "close"):
            old.close()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the driver has said it already
            _LOADED["frames"] = open_frames_from_config(source)
        _LOADED["frames_key"] = key
    return _LOADED["frames"]


def score_shard(
    checkpoint: str,
    source: dict[str, Any],
    keys: Sequence[str],
    want: Sequence[str],
    cache: Any = None,
    device: str | None = None,
    batch_size: int = 8,
    engine: str | None = None,
) -> ScoreResult:
    """Score one shard on a worker: what a :class:`DaskScorer` task runs.

    Parameters
    ----------
    checkpoint : str
        Path of the checkpoint (as the worker sees it).
    source : dict
        The frame source's :meth:`describe` dict; the worker opens the frames from it.
    keys : sequence of str
        The shard's frame keys.
    want : sequence of str
        Score fields to compute.
    cache : object with ``write(key, prediction, heat)``, optional
        Where predictions and heat maps go (a project's ``FrameCache``); None: not kept.
    device : str, optional
        Default: the worker's best (CUDA, else MPS, else CPU).
    batch_size : int
        Frames per forward pass.
    engine : str, optional
        What runs the forward (:attr:`ScoreOptions.engine`: the driver's choice, sent with the
        task; no environment of the worker's decides it); None: auto.

    Returns
    -------
    ScoreResult
        The shard's fields in ``keys``' order (no keys set).
    """
    keys = list(keys)
    with _LOCK:
        model, spec, dev = _model_on_worker(str(checkpoint), device)
        frames = _frames_on_worker(source)
        on_frame: OnFrame | None = None
        if cache is not None:

            def on_frame(i: int, prediction: np.ndarray, heat: Any) -> None:
                cache.write(keys[i], prediction, heat)

        scorer = local_scorer(
            model,
            spec,
            frames.frame,
            ScoreOptions(batch_size=batch_size, device=dev, engine=engine),
        )
        return run_to_end(scorer(keys, frozenset(want), on_frame, None))


# ------------------------------------------------------------------ on the driver


def shard_bounds(n: int, batch_size: int, shard_size: int) -> list[tuple[int, int]]:
    """``[start, stop)`` of each shard of ``n`` frames; every shard but the last holds a whole
    number of batches, so the batches are those of one pass over all ``n``."""
    size = max(batch_size, math.ceil(shard_size / batch_size) * batch_size)
    return [(s, min(s + size, n)) for s in range(0, n, size)]


def concat_scores(parts: Sequence[ScoreResult]) -> ScoreResult:
    """One :class:`ScoreResult` of the shards' results, in shard order."""
    out = ScoreResult(n=sum(p.n for p in parts))
    for name in SCORE_FIELDS:
        chunks = [getattr(p, name) for p in parts]
        if parts and all(c is not None for c in chunks):
            setattr(out, name, np.concatenate(chunks))
    return out


class DaskScorer:
    """A :data:`~alges_napari.core.acquire.step.Scorer` whose pass runs on a dask cluster.

    Parameters
    ----------
    client : distributed.Client
        The cluster (see :func:`open_client`).
    checkpoint : path-like
        The model's checkpoint; workers read it from this path (a shared file system).
    source : dict
        The frame source's :meth:`describe` dict (its path must be valid on the workers).
    cache : object with ``write(key, prediction, heat)``, optional
        Picklable writer of predictions and heat maps (a project's ``FrameCache``), called on
        the workers. Required when the acquisition step asks for predictions (it has a sink).
    device : str, optional
        Workers' device (default: each worker's best).
    batch_size : int
        Frames per forward pass (shards hold whole batches).
    shard_size : int, optional
        Frames per task; default: about four tasks per worker, at most 1024 frames.
    retries : int
        Times a shard that raised is run again (a dead worker's shard is rescheduled anyway).
    engine : str, optional
        What runs the workers' forward passes: the edge's choice (``--engine``, else
        ``$ALGES_ENGINE`` read there), sent with every task, so every worker scores as this
        process would (None: auto).
    """

    def __init__(
        self,
        client: Any,
        checkpoint: str | os.PathLike[str],
        source: dict[str, Any],
        *,
        cache: Any = None,
        device: str | None = None,
        batch_size: int = 8,
        shard_size: int | None = None,
        retries: int = 2,
        engine: str | None = None,
    ):
        if batch_size < 1 or (shard_size is not None and shard_size < 1):
            raise AlgesError(
                f"batch_size and shard_size must be >= 1, got {batch_size}, {shard_size}"
            )
        self.client, self.source, self.cache = client, source, cache
        self.checkpoint = str(Path(checkpoint).resolve())
        self.device, self.batch_size = device, batch_size
        self.shard_size, self.retries, self.engine = shard_size, retries, engine

    def _shard_size(self, n: int) -> int:
        if self.shard_size is not None:
            return self.shard_size
        return min(1024, max(1, math.ceil(n / (4 * worker_count(self.client)))))

    def __call__(
        self,
        keys: Sequence[str],
        want: frozenset[str],
        on_frame: OnFrame | None,
        stop: SupportsIsSet | None,
    ) -> Generator[Progress, None, ScoreResult]:
        """Score ``keys`` on the cluster (see :data:`~alges_napari.core.acquire.step.Scorer`)."""
        if on_frame is not None and self.cache is None:
            raise AlgesError(
                "the workers write the predictions themselves: give the DaskScorer a cache"
            )
        return self._run(list(keys), sorted(want), on_frame is not None, stop)

    def _run(
        self, keys: list[str], want: list[str], write: bool, stop: SupportsIsSet | None
    ) -> Generator[Progress, None, ScoreResult]:
        from distributed import wait

        n = len(keys)
        yield Progress("score", 0, n)
        bounds = shard_bounds(n, self.batch_size, self._shard_size(n))
        futures = {
            self.client.submit(
                score_shard,
                self.checkpoint,
                self.source,
                keys[a:b],
                want,
                self.cache if write else None,
                self.device,
                self.batch_size,
                self.engine,
                pure=False,  # the cache was cleared: a result remembered from before won't do
                retries=self.retries,
                key=f"alges-score-{a}-{b}-{os.urandom(4).hex()}",
            ): i
            for i, (a, b) in enumerate(bounds)
        }
        parts: list[ScoreResult | None] = [None] * len(bounds)
        pending, done = set(futures), 0
        try:
            while pending:
                if is_stopped(stop):
                    raise Cancelled(f"scoring stopped after {done} of {n} frames")
                try:
                    with self.client.as_current():  # the client is not the process default
                        finished = wait(pending, timeout=0.2, return_when="FIRST_COMPLETED").done
                except TimeoutError:
                    continue
                for future in finished:
                    pending.discard(future)
                    i = futures[future]
                    parts[i] = future.result()  # re-raises a shard's error here
                    done += bounds[i][1] - bounds[i][0]
                    yield Progress("score", done, n)
        finally:
            if pending:
                self.client.cancel(list(pending))
        return concat_scores([p for p in parts if p is not None])
