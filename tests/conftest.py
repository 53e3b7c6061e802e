"""Fixtures shared by the whole suite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
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


# ----------------------------------------------------------------- torch threads (h/fixtures)


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread() -> Iterator[None]:
    """Every test, and every module-scoped fixture that trains, runs torch on one thread; the
    count the session started with comes back at its end.

    One thread makes CPU sums run in one order, so the suite's exact numbers hold on any
    machine, and keeps the suite polite on shared ones. A test that changes the count (the
    CLI's ``--threads``) restores it itself (``tests/cli/conftest.py``).
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# -------------------------------------------------------- the synthetic tree (h/fixtures)

#: The ``tree`` fixture's default shape; ``pytest.mark.tree(...)`` on a module changes any of it.
TREE_DEFAULTS: dict[str, Any] = {"n_clips": 4, "frames_per_clip": 6, "size": (64, 64), "seed": 5}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "tree(n_clips=4, frames_per_clip=6, size=(64, 64), seed=5): the shape of the synthetic "
        "CholecSeg8k tree that the `tree` fixture writes for the module (pytestmark only)",
    )
    config.addinivalue_line(
        "markers",
        "project(frames='folder', n_frames=6, labels=(), validation=None, **create_options): "
        "what the `project` fixture of tests/core holds (tests/core/conftest.py)",
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Refuse ``mark.tree`` on a test or class: the tree is written once per module, so only the
    module's mark can choose it, and a closer one would be silently ignored."""
    for item in items:
        for node, _ in item.iter_markers_with_node("tree"):
            if not isinstance(node, pytest.Module):
                raise pytest.UsageError(
                    f"{item.nodeid}: pytest.mark.tree applies to a whole module "
                    "(pytestmark = pytest.mark.tree(...)), not to a test or class"
                )


@pytest.fixture(scope="module")
def tree(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A synthetic CholecSeg8k tree, written once per module into its own temporary folder by
    :func:`alges_napari.core.data.synthetic.write_cholecseg8k_tree`.

    Its shape is :data:`TREE_DEFAULTS` (4 clips of 6 frames, 64 x 64, seed 5) unless the module
    says otherwise with ``pytestmark = pytest.mark.tree(n_clips=..., frames_per_clip=...,
    size=..., seed=...)``; the same settings always write the same files.
    """
    from alges_napari.core.data.synthetic import write_cholecseg8k_tree

    mark = request.node.get_closest_marker("tree")
    settings = {**TREE_DEFAULTS, **(mark.kwargs if mark else {})}
    if mark and mark.args:
        raise pytest.UsageError("pytest.mark.tree takes keywords only")
    return write_cholecseg8k_tree(tmp_path_factory.mktemp("tree"), **settings)
