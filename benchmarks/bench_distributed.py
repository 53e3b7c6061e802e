"""Frames scored per second: in this process, and on a local dask cluster of 1 and 2 workers.

What ``alges rank`` does with the pool, measured three ways on the same frames, model and cache
folder: the in-process pass (``step.local_scorer``: frames read from the folder, predictions and
heat maps written to a project cache), and a :class:`DaskScorer` over a local cluster of 1 and
of 2 worker processes (each worker opens the frames and loads the checkpoint itself and writes
the cache entries of its shards; torch threads = cores / workers). The model is the product's
Unet-resnet18 with 13 classes at the laptop preset's 128 x 224, random weights; the frames are
synthetic CholecSeg8k-style frames of 128 x 224; the strategy alges-seg.

Prints the median frames/s of ``--runs`` runs (the three modes interleaved within each run,
both clusters started before the first run), each mode's ratio to the in-process pass, and
the cluster's overhead: its start (scheduler and worker processes), the first rank on it (each
worker imports torch and loads the checkpoint once), and the time a warm cluster adds to a rank
of ``--frames`` frames over the in-process pass.

    .venv/bin/python benchmarks/bench_distributed.py                 # 48 frames, 5 runs
    .venv/bin/python benchmarks/bench_distributed.py --frames 32 --runs 1
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import torch

from alges_napari.core.acquire.cluster import open_client
from alges_napari.core.acquire.distributed import DaskScorer
from alges_napari.core.acquire.scoring import ScoreOptions
from alges_napari.core.acquire.step import local_scorer
from alges_napari.core.acquire.strategies import get_strategy
from alges_napari.core.data.classes import CHOLECSEG8K
from alges_napari.core.data.frames import open_frames
from alges_napari.core.learn.model import ModelSpec, build_model, load_checkpoint, save_checkpoint
from alges_napari.core.progress import run_to_end
from alges_napari.core.project.cache import FrameCache

SIZE = (128, 224)


def setup(root: Path, n: int) -> tuple[Path, dict, list[str]]:
    """A checkpoint, a frame folder of ``n`` frames and their keys."""
    from alges_napari.core.data.synthetic import write_cholecseg8k_tree

    clips = max(1, n // 32)
    tree = write_cholecseg8k_tree(
        root / "tree", n_clips=clips, frames_per_clip=-(-n // clips), size=SIZE, seed=1
    )
    source = open_frames(tree)
    torch.manual_seed(0)
    spec = ModelSpec.for_schema(CHOLECSEG8K, "Unet", "resnet18", SIZE)
    model = build_model("Unet", "resnet18", num_classes=spec.num_classes)
    checkpoint = root / "model.safetensors"
    save_checkpoint(model, checkpoint, spec)
    return checkpoint, source.describe(), list(source.keys)[:n]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=48, help="frames to score (48)")
    parser.add_argument("--runs", type=int, default=5, help="interleaved runs (5)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        root = Path(tmp)
        checkpoint, source_config, keys = setup(root, args.frames)
        want = get_strategy("alges-seg").score_fields()
        cache = FrameCache(root / "cache")
        model, spec, _ = load_checkpoint(checkpoint)
        frames = open_frames(source_config["path"])
        here = local_scorer(model, spec, frames.frame, ScoreOptions(device="cpu"))

        def on_frame(i: int, prediction, heat) -> None:
            cache.write(keys[i], prediction, heat)

        modes = {"in-process": lambda: run_to_end(here(keys, want, on_frame, None))}
        overhead: dict[str, tuple[float, float]] = {}
        for n in (1, 2):
            t0 = time.perf_counter()
            client = stack.enter_context(open_client("local", workers=n))
            started = time.perf_counter() - t0
            scorer = DaskScorer(client, checkpoint, source_config, cache=cache, device="cpu")
            t0 = time.perf_counter()
            run_to_end(scorer(keys, want, on_frame, None))  # workers import torch, load the model
            overhead[f"{n} worker(s)"] = (started, time.perf_counter() - t0)
            modes[f"{n} worker(s)"] = lambda s=scorer: run_to_end(s(keys, want, on_frame, None))
        modes["in-process"]()  # warm-up of this process too

        times: dict[str, list[float]] = {m: [] for m in modes}
        for _ in range(args.runs):
            for name, run in modes.items():
                cache.clear()
                t0 = time.perf_counter()
                run()
                times[name].append(time.perf_counter() - t0)

    med = {m: statistics.median(t) for m, t in times.items()}
    base = med["in-process"]
    print(
        f"{len(keys)} frames of {SIZE[0]}x{SIZE[1]}, Unet-resnet18, alges-seg with predictions "
        f"and heat maps written; CPU, {os.cpu_count()} cores, torch {torch.__version__}; "
        f"median of {args.runs} interleaved runs"
    )
    print(
        f"{'mode':<14}{'frames/s':>10}{'vs in-process':>15}{'rank s':>9}{'fastest-slowest run s':>24}"
    )
    for name, t in med.items():
        spread = f"{min(times[name]):.2f}-{max(times[name]):.2f}"
        print(f"{name:<14}{len(keys) / t:>10.1f}{base / t:>14.2f}x{t:>9.2f}{spread:>24}")
    print("cluster overhead:")
    for name, (start, first) in overhead.items():
        warm = med[name] - base
        print(
            f"  {name}: start {start:.1f} s, first rank {first:.1f} s (workers import torch and "
            f"load the checkpoint), then {warm:+.2f} s per rank of {len(keys)} frames "
            f"({warm / len(keys) * 1000:+.1f} ms per frame) vs in-process"
        )


if __name__ == "__main__":
    main()
