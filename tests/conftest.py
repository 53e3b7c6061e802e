"""Fixtures shared by the whole suite."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture(scope="session")
def dask_client() -> Any:
    """A dask Client over one local cluster of 2 worker processes (127.0.0.1), shared by every
    test that needs a cluster, so workers start (and import torch) once per run."""
    pytest.importorskip(
        "distributed", reason="dask.distributed is not installed (extra 'distributed')"
    )
    from alges_napari.core.acquire.cluster import open_client

    with open_client("local", workers=2) as client:
        yield client
