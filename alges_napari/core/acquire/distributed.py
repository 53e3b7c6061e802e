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

``distributed`` is an optional dependency (``pip install "alges-napari[distributed]"``); it is
imported only when a cluster is used.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import math
import os
import threading
import warnings
from collections.abc import Generator, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from alges_napari.core.acquire.scores import SCORE_FIELDS, ScoreResult
from alges_napari.core.acquire.scoring import OnFrame, iter_score
from alges_napari.core.acquire.step import KeyedFrames
from alges_napari.core.errors import AlgesError
from alges_napari.core.progress import Cancelled, Progress, SupportsIsSet, is_stopped, run_to_end

#: Loopback address a local cluster's scheduler, nanny and workers listen on.
LOCALHOST = "127.0.0.1"


class SecurityWarning(UserWarning):
    """A connection to a scheduler on another host is not encrypted."""


def require_distributed() -> Any:
    """Import and return ``distributed``, or raise AlgesError saying how to install it."""
    try:
        import distributed
    except ImportError as exc:
        raise AlgesError(
            'dask.distributed is not installed: pip install "alges-napari[distributed]"'
        ) from exc
    return distributed


# ------------------------------------------------------------------ clusters


def tls_security(
    ca_file: str | None = None, cert: str | None = None, key: str | None = None
) -> Any:
    """dask ``Security`` for a TLS scheduler: the given files, else dask's config.

    Parameters
    ----------
    ca_file, cert, key : str, optional
        The certificate authority, this client's certificate and its private key (PEM). Any
        not given comes from dask's config (``distributed.comm.tls.ca-file``,
        ``distributed.comm.tls.client.cert``, ``distributed.comm.tls.client.key``).

    Returns
    -------
    distributed.Security
        With ``require_encryption=True``.
    """
    distributed = require_distributed()
    for name, path in (("CA", ca_file), ("certificate", cert), ("key", key)):
        if path is not None and not Path(path).is_file():
            raise AlgesError(f"TLS {name} file {path} does not exist")
    given = {
        "tls_ca_file": ca_file,
        "tls_client_cert": cert,
        "tls_client_key": key,
    }
    return distributed.Security(
        require_encryption=True, **{k: v for k, v in given.items() if v is not None}
    )


def torch_threads_per_worker(workers: int, cores: int | None = None) -> int:
    """CPU threads each of ``workers`` local worker processes gives torch: the cores shared."""
    cores = cores or os.cpu_count() or 1
    return max(1, cores // max(1, workers))


@contextlib.contextmanager
def open_client(address: str, workers: int | None = None, security: Any = None) -> Iterator[Any]:
    """A dask ``Client``: over a new local cluster, or connected to a running scheduler.

    Parameters
    ----------
    address : str
        ``"local"``: start a cluster of ``workers`` processes (one task thread each, torch
        threads = cores / workers) listening on 127.0.0.1 only, closed on exit. Otherwise a
        scheduler address, ``tcp://HOST:PORT`` or ``tls://HOST:PORT``.
    workers : int, optional
        Worker processes of a local cluster (default 1); with a scheduler address, wait until
        that many workers are connected.
    security : distributed.Security, optional
        TLS settings for a ``tls://`` scheduler (see :func:`tls_security`); default: dask's
        config. Refused for a local cluster, which never leaves this machine.
    """
    distributed = require_distributed()
    if workers is not None and workers < 1:
        raise AlgesError(f"--workers must be at least 1, got {workers}")
    if address == "local":
        if security is not None:
            raise AlgesError("a local cluster listens on 127.0.0.1 only: TLS is for --dask tls://")
        n = workers or 1
        threads = str(torch_threads_per_worker(n))
        with (
            distributed.LocalCluster(
                n_workers=n,
                threads_per_worker=1,
                processes=True,
                host=LOCALHOST,
                dashboard_address=None,
                # dask gives each worker OMP_NUM_THREADS=1; the cores are shared out instead
                env={"OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads},
            ) as cluster,
            distributed.Client(cluster) as client,
        ):
            yield client
        return
    scheme, sep, rest = address.partition("://")
    if not sep or scheme not in ("tcp", "tls") or not rest:
        raise AlgesError(f"--dask {address!r}: give 'local', tcp://HOST:PORT or tls://HOST:PORT")
    if scheme == "tcp" and not _is_loopback(rest.rsplit(":", 1)[0]):
        warnings.warn(
            f"{address}: the connection is not encrypted and anyone who reaches the scheduler "
            "can run code on its workers; use tls:// (see docs/distributed.md)",
            SecurityWarning,
            stacklevel=3,
        )
    kwargs = {} if security is None else {"security": security}
    with distributed.Client(address, **kwargs) as client:
        if workers:
            client.wait_for_workers(workers)
        yield client


def _is_loopback(host: str) -> bool:
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


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

        view = KeyedFrames(lambda key: frames[frames.index_of(key)], keys)
        return run_to_end(
            iter_score(
                model,
                view,
                spec,
                batch_size=batch_size,
                device=dev,
                want=frozenset(want),
                on_frame=on_frame,
            )
        )


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
    ):
        if batch_size < 1 or (shard_size is not None and shard_size < 1):
            raise AlgesError(
                f"batch_size and shard_size must be >= 1, got {batch_size}, {shard_size}"
            )
        self.client, self.source, self.cache = client, source, cache
        self.checkpoint = str(Path(checkpoint).resolve())
        self.device, self.batch_size = device, batch_size
        self.shard_size, self.retries = shard_size, retries

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
