"""Fixtures of the ``alges`` command tests."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch


@pytest.fixture(autouse=True)
def restore_threads():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)  # --threads changes the process-wide setting


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    """A CholecSeg8k-style tree: 4 videos of 6 frames, 64 x 64."""
    from alges_napari.core.data.synthetic import write_cholecseg8k_tree

    root = tmp_path_factory.mktemp("tree")
    return write_cholecseg8k_tree(root, n_clips=4, frames_per_clip=6, size=(64, 64), seed=5)
