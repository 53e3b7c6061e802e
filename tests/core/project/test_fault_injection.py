"""SIGKILL a process that accepts labels and trains, at random moments: no accepted label is lost.

The child (``fault_child.py``) prints ``DONE key mask-hash file-hash`` only after
``accept_label`` returned. After every kill the project must open without recovery, hold every
such label byte for byte (or, for a key whose re-accept was in flight, the new label), list them
all as labelled, keep every recorded checkpoint loadable, and leave no temporary file behind.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image
from safetensors.torch import load_file

from alges_napari.core.project.project import Project

CHILD = Path(__file__).with_name("fault_child.py")
TRIALS = 24


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def parse_log(path: Path) -> tuple[dict[str, tuple[str, str]], dict[str, str], dict[int, str]]:
    """Return (last DONE per key, in-flight BEGIN per key, ROUND digests) from a worker log."""
    done: dict[str, tuple[str, str]] = {}
    pending: dict[str, str] = {}
    rounds: dict[int, str] = {}
    text = path.read_text() if path.exists() else ""
    # the child writes each line with one write(2): a kill cannot cut a line in half.
    assert not text or text.endswith("\n"), "a flushed line was cut"
    for line in text.splitlines():
        kind, *rest = line.split()
        if kind == "BEGIN":
            pending[rest[0]] = rest[1]
        elif kind == "DONE":
            done[rest[0]] = (rest[1], rest[2])
            pending.pop(rest[0], None)
        elif kind == "ROUND":
            rounds[int(rest[0])] = rest[1]
    return done, pending, rounds


def check_project(
    root: Path, expected: dict[str, tuple[str, str]], pending: dict[str, str]
) -> None:
    with Project.open(root) as project:
        assert project.recovery is None, project.recovery
        for key, (mask_sha, file_sha) in expected.items():
            path = project.label_path(key)
            data = path.read_bytes()
            decoded = np.asarray(Image.open(path)).tobytes()
            if key in pending and sha(data) != file_sha:
                # The kill hit a re-accept after its rename: the new label is there, whole.
                assert sha(decoded) == pending[key], f"{key}: neither the old nor the new label"
                expected[key] = (pending[key], sha(data))
            else:
                assert sha(data) == file_sha, f"{key}: label file changed after accept returned"
                assert sha(decoded) == mask_sha
            assert project.status(key) == "labelled"
        for entry in project.rounds:
            load_file(project.root / "models" / f"round_{entry.round:04d}.safetensors")
    leftovers = [p for p in root.rglob("*.tmp")]
    assert leftovers == [], f"temporary files left after open: {leftovers}"


def test_sigkill_never_loses_an_accepted_label(tmp_path: Path) -> None:
    frames = tmp_path / "frames"
    frames.mkdir()
    rng = np.random.default_rng(2024)
    for i in range(12):
        Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(
            frames / f"f{i:02d}.png"
        )
    root = tmp_path / "proj"
    Project.create(root, frames, input_size=(32, 32)).close()

    server = subprocess.Popen(
        [sys.executable, str(CHILD)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    expected: dict[str, tuple[str, str]] = {}
    checkpoints: dict[int, str] = {}
    kill_times, accepted_per_trial = [], []
    start = time.perf_counter()
    try:
        for trial in range(TRIALS):
            log = tmp_path / f"trial{trial:02d}.log"
            server.stdin.write(f"{root} {trial} {log}\n")
            server.stdin.flush()
            pid = int(server.stdout.readline().split()[1])
            delay = float(rng.uniform(0.02, 0.8))
            time.sleep(delay)
            os.kill(pid, signal.SIGKILL)
            status = server.stdout.readline().split()
            assert status and status[0] == "exit"
            assert os.WIFSIGNALED(int(status[1])), f"worker died by itself (status {status[1]})"
            done, pending, rounds = parse_log(log)
            expected.update(done)
            checkpoints.update(rounds)
            check_project(root, expected, pending)
            kill_times.append(delay)
            accepted_per_trial.append(len(done))
    finally:
        server.stdin.close()
        server.kill()
        server.wait()
    elapsed = time.perf_counter() - start
    # The kills must have landed while work was going on, or the test proves nothing.
    assert sum(accepted_per_trial) >= TRIALS and len(expected) >= 6
    assert checkpoints, "no kill happened after a training round completed"
    for round_no, digest in checkpoints.items():
        assert sha((root / "models" / f"round_{round_no:04d}.safetensors").read_bytes()) == digest
    print(
        f"{TRIALS} kills in {elapsed:.1f}s; accepts per trial {accepted_per_trial}; {len(checkpoints)} rounds"
    )
