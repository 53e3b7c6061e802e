"""Connecting to dask.distributed: a local cluster on 127.0.0.1, or a running scheduler (TLS).

Used by ``alges rank --dask`` (:mod:`.distributed`) and ``alges simulate --dask``
(:mod:`alges_napari.core.experiment.distributed`). ``distributed`` is an optional dependency
(``pip install "alges-napari[distributed]"``), imported only here, when a cluster is asked for.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from alges_napari.core.errors import AlgesError

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
    import dask

    if workers is not None and workers < 1:
        raise AlgesError(f"--workers must be at least 1, got {workers}")
    if address == "local":
        if security is not None:
            raise AlgesError("a local cluster listens on 127.0.0.1 only: TLS is for --dask tls://")
        n = workers or 1
        threads = str(torch_threads_per_worker(n))
        # dask's default (glibc trimming freed memory at 64 KiB) unmaps and faults in torch's
        # large per-batch buffers again on every batch
        no_trim = {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}
        with (
            dask.config.set(no_trim),
            distributed.LocalCluster(
                n_workers=n,
                threads_per_worker=1,
                processes=True,
                host=LOCALHOST,
                dashboard_address=None,
                # dask gives each worker OMP_NUM_THREADS=1; the cores are shared out instead
                env={"OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads},
            ) as cluster,
            # Not the process's default: dask arrays elsewhere (napari's lazy frames in the
            # same process) keep their own scheduler; this code passes the client explicitly.
            distributed.Client(cluster, set_as_default=False) as client,
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
    with distributed.Client(address, set_as_default=False, **kwargs) as client:
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
