"""Importing the package makes PyTorch's OpenMP threads sleep rather than spin, unless told."""

from __future__ import annotations

import os
import subprocess
import sys

PROBE = "import sys, os, alges_napari; print(os.environ['OMP_WAIT_POLICY'], 'torch' in sys.modules)"


def _probe(policy: str | None) -> str:
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if policy is not None:
        env["OMP_WAIT_POLICY"] = policy
    out = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True
    )
    return out.stdout.strip()


def test_the_package_sets_passive_before_torch_loads() -> None:
    # torch not yet imported: OpenMP reads the variable when torch loads, after this.
    assert _probe(None) == "PASSIVE False"
    assert _probe("") == "PASSIVE False"  # empty counts as unset (libgomp rejects it)


def test_a_policy_the_user_set_is_kept() -> None:
    assert _probe("ACTIVE") == "ACTIVE False"
