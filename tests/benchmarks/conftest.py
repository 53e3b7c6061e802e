"""The benchmark scripts under test: each test module names its script in ``BENCHMARK``."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def load_benchmark(name: str) -> ModuleType:
    """The script ``benchmarks/<name>.py`` imported as module ``name``.

    It is registered in ``sys.modules`` while it loads (dataclasses look their module up
    there); the caller removes it (:func:`bench` does).
    """
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def bench(request: pytest.FixtureRequest) -> Any:
    """The benchmark script the test module names in ``BENCHMARK``."""
    name = request.module.BENCHMARK
    yield load_benchmark(name)
    sys.modules.pop(name, None)
