"""Fixtures of the ``alges`` command tests; their ``tree`` is the suite's default one
(``tests/conftest.py``: 4 videos of 6 frames, 64 x 64, seed 5)."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def restore_threads():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)  # --threads changes the process-wide setting
