"""``--dask``, ``--workers`` and the TLS options of ``alges rank`` and ``alges simulate``.

Without ``--dask`` nothing here imports dask.distributed: the commands run in this process.
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator
from typing import Any

from alges_napari.core.errors import AlgesError


def add_dask_options(parser: argparse.ArgumentParser, what: str) -> None:
    """Add ``--dask``, ``--workers`` and the ``--tls-*`` files; ``what`` names the tasks."""
    group = parser.add_argument_group(
        "distributed (needs alges-napari[distributed]; see docs/distributed.md)"
    )
    group.add_argument(
        "--dask",
        metavar="WHERE",
        help=f"run {what} on dask: 'local' (a cluster of --workers processes on this machine, "
        "listening on 127.0.0.1 only), or a running scheduler, tcp://HOST:PORT or "
        "tls://HOST:PORT (default: in this process)",
    )
    group.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="worker processes of --dask local (1); with a scheduler, wait for N workers",
    )
    for name, what_file in (
        ("ca-file", "certificate authority"),
        ("cert", "client certificate"),
        ("key", "client private key"),
    ):
        group.add_argument(
            f"--tls-{name}",
            metavar="PEM",
            help=f"{what_file} for a tls:// scheduler (default: dask's "
            f"distributed.comm.tls config)",
        )


@contextlib.contextmanager
def dask_client(args: argparse.Namespace) -> Iterator[Any]:
    """The dask Client the options ask for, or None without ``--dask`` (closed on exit)."""
    tls = [getattr(args, f"tls_{n}", None) for n in ("ca_file", "cert", "key")]
    if not args.dask:
        if args.workers is not None or any(tls):
            raise AlgesError("--workers and --tls-* need --dask")
        yield None
        return
    from alges_napari.core.acquire.cluster import open_client, tls_security

    security = None
    if args.dask.startswith("tls://"):
        security = tls_security(*tls)
    elif any(tls):
        raise AlgesError(f"--tls-* options need a tls:// scheduler, not --dask {args.dask}")
    with open_client(args.dask, args.workers, security) as client:
        yield client


def rank_scorer(project: Any, client: Any, args: argparse.Namespace) -> Any:
    """A DaskScorer of ``project``'s latest checkpoint over ``client`` (None without one).

    The workers get the checkpoint's path, the frame source's description and the project's
    cache folder, nothing else.
    """
    checkpoint = project.latest_checkpoint()
    if client is None or checkpoint is None:
        return None  # no model: the session says so
    from alges_napari.core.acquire.distributed import DaskScorer
    from alges_napari.core.project.cache import FrameCache
    from alges_napari.core.project.files import CACHE_DIR

    return DaskScorer(
        client,
        checkpoint,
        project.config["source"],
        cache=FrameCache(project.root.resolve() / CACHE_DIR),
        device=args.device,
        engine=args.engine,  # the edge's choice (--engine, else $ALGES_ENGINE), sent to workers
    )
