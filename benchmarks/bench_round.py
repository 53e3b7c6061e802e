"""Time one active-learning round with the CPU preset: 20 accepted labels, a 400-frame pool.

Usage::

    .venv/bin/python benchmarks/bench_round.py [--data DIR] [--strategy alges-seg] [--threads N]

Uses ``sample_data/cholecseg8k`` when it holds at least 420 frames, otherwise writes a synthetic
CholecSeg8k tree (``core/synthetic.py``) once into ``bench_out/`` (git-ignored) and reuses it. The 20 labels are the ground-truth
masks of evenly spaced frames; the pool is the next 400 frames (any others are marked skipped).
Prints the wall time of training, validation, scoring, selection and saving, the whole round, and
the machine's core count and load so noisy figures can be recognised.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

N_LABELS, N_POOL = 20, 400


def load_avg() -> str:
    """The 1/5/15-minute load averages, as text."""
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def frames_root(data: str | None, size: tuple[int, int]) -> Path:
    """A CholecSeg8k-layout tree with at least ``N_LABELS + N_POOL`` frames."""
    from alges_napari.core.data.frames import open_frames
    from alges_napari.core.data.synthetic import write_cholecseg8k_tree

    candidate = (
        Path(data) if data else Path(__file__).resolve().parents[1] / "sample_data" / "cholecseg8k"
    )
    if candidate.is_dir():
        try:
            if len(open_frames(candidate)) >= N_LABELS + N_POOL:
                return candidate
        except Exception as exc:  # noqa: BLE001 - any unreadable sample data: fall back to synthetic
            print(f"cannot use {candidate} ({exc}); writing synthetic data", file=sys.stderr)
    # Written once into bench_out/ (git-ignored) and reused: generating 420 frames takes a minute.
    root = Path(__file__).resolve().parents[1] / "bench_out" / f"synthetic_420_{size[0]}x{size[1]}"
    if root.is_dir() and len(open_frames(root)) >= N_LABELS + N_POOL:
        return root
    t0 = time.perf_counter()
    write_cholecseg8k_tree(root, n_clips=4, frames_per_clip=105, size=size, seed=0)
    print(
        f"wrote synthetic tree ({N_LABELS + N_POOL} frames at {size[0]}x{size[1]}) in {time.perf_counter() - t0:.1f}s"
    )
    return root


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--data", help="CholecSeg8k-layout folder (default: sample_data/cholecseg8k or synthetic)"
    )
    parser.add_argument("--strategy", default="alges-seg")
    parser.add_argument(
        "--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)"
    )
    parser.add_argument(
        "--size", type=int, nargs=2, default=(240, 427), help="synthetic frame size H W"
    )
    args = parser.parse_args(argv)

    import torch

    from alges_napari.core.learn.config import PRESETS
    from alges_napari.core.progress import run_to_end
    from alges_napari.core.project.project import Project
    from alges_napari.core.session import ActiveLearningSession, RoundConfig

    if args.threads:
        torch.set_num_threads(args.threads)
    print(
        f"nproc={os.cpu_count()} torch_threads={torch.get_num_threads()} load_before={load_avg()}"
    )
    source = frames_root(args.data, tuple(args.size))
    with tempfile.TemporaryDirectory() as tmp:
        project = Project.create(Path(tmp) / "project", source, preset="cpu")
        keys, frames = project.keys, project.frames
        step = (N_LABELS + N_POOL) // N_LABELS
        for i in range(0, N_LABELS * step, step):
            project.accept_label(keys[i], frames.ground_truth(i))
        for key in keys[N_LABELS + N_POOL :]:
            project.skip(key)
        counts = project.counts()
        print(
            f"labels={counts['labelled']} pool={counts['unlabelled']} preset=cpu {PRESETS['cpu']}"
        )
        session = ActiveLearningSession(project, device="cpu")
        t0 = time.perf_counter()
        result = run_to_end(session.run_round(RoundConfig(strategy=args.strategy, query_size=10)))
        total = time.perf_counter() - t0
        for stage in ("train", "validate", "score", "select", "save"):
            print(f"{stage:>9}: {result.timings.get(stage, float('nan')):7.2f} s")
        print(
            f"    round: {total:7.2f} s  (strategy {args.strategy}, queue {len(result.queue)} frames)"
        )
        print(f"load_after={load_avg()}")
        project.close()


if __name__ == "__main__":
    main()
