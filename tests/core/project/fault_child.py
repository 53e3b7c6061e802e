"""Child process for tests/core/project/test_fault_injection.py: accepts labels, trains until killed.

It runs as a small fork server so that 20+ kill trials stay fast: the server imports numpy, torch
and the project module once, then for every line ``<project root> <seed> <log file>`` read on
stdin it forks a worker, prints ``pid <n>``, waits for the worker to die (the test SIGKILLs it at
a random moment) and prints ``exit <status>``. A worker's stdout is its log file; it prints

    BEGIN <key> <sha256 of the mask>              before calling accept_label
    DONE <key> <sha256 of the mask> <sha256 of the label file>   after accept_label returned
    ROUND <n> <sha256 of the checkpoint file>     after a checkpoint and the round are saved

each line flushed at once, so whatever the test reads was printed before the kill. Training is a
tiny conv net on the accepted labels (real :func:`iter_train`), its checkpoint a safetensors file
written through ``atomic.py`` like every project file; smp is not imported (too slow to start).
"""

from __future__ import annotations

import hashlib
import os
import sys
import traceback

import numpy as np
import torch
from safetensors.torch import save as save_safetensors
from torch import nn

from alges_napari.core.atomic import atomic_write_bytes
from alges_napari.core.learn.config import TrainConfig
from alges_napari.core.learn.train import iter_train
from alges_napari.core.progress import run_to_end
from alges_napari.core.project.project import Project, RoundRecord


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def emit(line: str) -> None:
    """Print a whole line to stdout and flush it: one write(2), so a kill cannot cut it."""
    # print() writes the text and the newline separately; a kill between them cuts the line.
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def train_round(project: Project, round_no: int) -> str:
    """Train a tiny net on the accepted labels; save its checkpoint and the round."""
    torch.manual_seed(round_no)
    model = nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, project.schema.num_classes, 1)
    )
    frames = project.frames
    pairs = [(frames.frame(k), project.load_label(k)) for k in project.labelled_keys()]
    cfg = TrainConfig(input_size=(32, 32), epochs=2, batch_size=4, augment=True)
    run_to_end(iter_train(model, pairs, cfg))
    data = save_safetensors({k: v.contiguous() for k, v in model.state_dict().items()})
    atomic_write_bytes(project.checkpoint_path(round_no), data)
    project.record_round(RoundRecord(round=round_no, n_labelled=len(pairs)))
    return sha(data)


def work(root: str, seed: int) -> None:
    """Accept random labels (re-accepting some keys) and train every third accept, forever."""
    rng = np.random.default_rng(seed)
    project = Project.open(root)
    keys, shape = project.keys, tuple(project.frames.shape)
    accepted = 0
    while True:
        key = keys[int(rng.integers(len(keys)))]
        mask = rng.integers(0, project.schema.num_classes, shape, dtype=np.uint8)
        mask[rng.random(shape) < 0.05] = 255
        emit(f"BEGIN {key} {sha(mask.tobytes())}")
        path = project.accept_label(key, mask, seconds=float(rng.random()))
        emit(f"DONE {key} {sha(mask.tobytes())} {sha(path.read_bytes())}")
        accepted += 1
        if accepted % 3 == 0:
            round_no = project.next_round()
            digest = train_round(project, round_no)
            emit(f"ROUND {round_no} {digest}")


def warm_up() -> None:
    """Run one tiny training step so that torch's lazy imports happen once, before forking."""
    model = nn.Sequential(nn.Conv2d(3, 2, 1))
    pair = (np.zeros((32, 32, 3), np.uint8), np.zeros((32, 32), np.uint8))
    run_to_end(iter_train(model, [pair], TrainConfig(input_size=(32, 32), epochs=1, batch_size=1)))


def serve() -> None:
    """Fork one worker per command line on stdin; report its pid and its exit status."""
    # One intra-op thread: no OpenMP pool exists when forking, so workers cannot deadlock on it.
    torch.set_num_threads(1)
    warm_up()
    for line in sys.stdin:
        root, seed, log = line.split()
        sys.stdout.flush()
        pid = os.fork()
        if pid == 0:  # worker
            fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            os.dup2(fd, 1)
            try:
                work(root, int(seed))
            except BaseException:  # only reached on an error: show it, the test fails on status 3
                traceback.print_exc()
                sys.stderr.flush()
            os._exit(3)
        print(f"pid {pid}", flush=True)
        _, status = os.waitpid(pid, 0)
        print(f"exit {status}", flush=True)


if __name__ == "__main__":
    serve()
