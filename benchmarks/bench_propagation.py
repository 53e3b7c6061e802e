"""Benchmark label propagation: Dice of a propagated label against the truth 1, 5 and 10 frames away.

A frame's ground truth stands for the label the surgeon accepted; it is carried to the frames
1 to 10 after and before it with the app's own code (:func:`alges_napari.core.data.propagate.
iter_warped`, the function behind "Propagate") and each warped label is compared with that
frame's ground truth. The baseline copies the accepted label unwarped, so the difference is what
optical flow adds. Clips come from both synthetic generators: ``default`` (the sample data's:
a slow camera sweep) and ``benchmark`` (the benchmark preset's: CholecSeg8k's class statistics,
a camera that barely moves in 3.2 s, instruments, bleeding, smoke and blur).

Dice is the data-set Dice (intersections and sizes summed over every warped frame at that
distance), averaged over the classes present (:class:`~alges_napari.core.learn.metrics.
SegmentationMeter`). A method is ``dis`` or ``farneback``, warping as the app does (a pixel
whose trace left the frame takes the class at the edge), or ``dis:ignore``: such pixels left
unlabelled (255), which count as wrong. "agree" is the share of pixels with the right class; "unlabelled" the share left 255;
"ms/frame" the flow and warp time per frame (one process, one OpenCV thread).

Usage: ``python benchmarks/bench_propagation.py [--size 480 854] [--clips 4] [--starts 2]
[--methods dis farneback dis:ignore] [--seed 0]``
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence

import numpy as np

from alges_napari.core.data.classes import IGNORE_INDEX
from alges_napari.core.data.propagate import iter_warped
from alges_napari.core.learn.metrics import SegmentationMeter

DISTANCES = (1, 5, 10)
REACH = max(DISTANCES)
N_CLASSES = 13
UNLABELLED = N_CLASSES  # the warp's 255 scored as a class of its own: always wrong


class Score:
    """Dice, agreement and unlabelled share of one method at one distance."""

    def __init__(self) -> None:
        self.meter = SegmentationMeter(N_CLASSES + 1)
        self.right = self.total = self.unlabelled = 0

    def add(self, label: np.ndarray, truth: np.ndarray) -> None:
        pred = np.where(label == IGNORE_INDEX, UNLABELLED, label).astype(np.uint8)
        self.meter.update(pred, truth)
        self.right += int((pred == truth).sum())
        self.total += truth.size
        self.unlabelled += int((label == IGNORE_INDEX).sum())

    def row(self) -> str:
        dice = self.meter.mean_dice(range(N_CLASSES))
        return f"{dice:6.3f} {self.right / self.total:7.3f} {self.unlabelled / self.total:10.3f}"


def clips(generator: str, n: int, size: tuple[int, int], seed: int) -> list[Callable]:
    """``n`` clips of ``generator`` as functions of a frame index -> (RGB, truth)."""
    if generator == "default":
        from alges_napari.core.data.synthetic import SyntheticClip

        return [SyntheticClip(c, size, seed).frame for c in range(n)]
    from alges_napari.core.data.synthetic import BenchmarkClip, plan_benchmark

    plan = plan_benchmark(n, 1, 80, seed=seed)  # one 80-frame clip per video, as CholecSeg8k
    return [BenchmarkClip(plan, v, 0, size).frame for v in range(n)]


def starts_in(n_starts: int, length: int = 80) -> list[int]:
    """Accepted frames spread over a clip, each with 10 frames on both sides."""
    return [int(s) for s in np.linspace(REACH, length - 1 - REACH, n_starts).round()]


def run(
    generator: str, args: argparse.Namespace, methods: Sequence[str]
) -> tuple[dict[str, dict[int, Score]], dict[str, list[float]]]:
    """Score every method and the copy baseline on the clips of ``generator``."""
    scores = {m: {d: Score() for d in DISTANCES} for m in (*methods, "copy")}
    seconds: dict[str, list[float]] = {m: [] for m in methods}
    for render in clips(generator, args.clips, tuple(args.size), args.seed):
        for s in starts_in(args.starts):
            frames = {i: render(i) for i in range(s - REACH, s + REACH + 1)}
            images = {i: f[0] for i, f in frames.items()}
            label = frames[s][1]
            for step in (1, -1):
                run_ = [s + step * d for d in range(1, REACH + 1)]
                for d in DISTANCES:
                    scores["copy"][d].add(label, frames[s + step * d][1])
                for method in methods:
                    flow, _, outside = method.partition(":")
                    started = time.perf_counter()
                    warps = iter_warped(images, s, label, run_, flow, outside=outside or "edge")
                    for target, d, warped in warps:
                        if d in DISTANCES:
                            scores[method][d].add(warped, frames[target][1])
                    seconds[method].append((time.perf_counter() - started) / REACH)
    return scores, seconds


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, nargs=2, default=(480, 854), metavar=("H", "W"))
    parser.add_argument("--clips", type=int, default=4, help="clips per generator")
    parser.add_argument("--starts", type=int, default=2, help="accepted frames per clip")
    parser.add_argument("--methods", nargs="+", default=["dis", "farneback", "dis:ignore"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--generators", nargs="+", default=["default", "benchmark"])
    args = parser.parse_args(argv)
    import cv2

    cv2.setNumThreads(1)
    h, w = args.size
    pairs = args.clips * args.starts * 2
    print(
        f"{h}x{w} frames; per generator {args.clips} clips x {args.starts} accepted frames x "
        f"2 directions = {pairs} propagations per distance"
    )
    summary = []
    for generator in args.generators:
        scores, seconds = run(generator, args, args.methods)
        print(f"\n{generator} clips")
        print(f"{'method':<10} {'frames':>6} {'Dice':>6} {'agree':>7} {'unlabelled':>10}")
        for method, by_distance in scores.items():
            for d in DISTANCES:
                print(f"{method:<10} {d:>6} {by_distance[d].row()}")
        for method in args.methods:
            print(
                f"{method} flow and warp: {1000 * float(np.median(seconds[method])):.0f} ms/frame"
            )
        for method in args.methods:
            gains = ", ".join(
                f"{d}: {scores[method][d].meter.mean_dice(range(N_CLASSES)):.3f} vs "
                f"{scores['copy'][d].meter.mean_dice(range(N_CLASSES)):.3f}"
                for d in DISTANCES
            )
            summary.append(f"{generator} Dice {method} vs copy at distance {gains}")
    print()
    print("\n".join(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
