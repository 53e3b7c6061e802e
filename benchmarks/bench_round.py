"""Round 1 as a new user gets it: the sample data, the default preset, the first queue labelled.

Usage::

    .venv/bin/python benchmarks/bench_round.py [--data DIR] [--preset cpu] [--runs 2]

Each run creates a fresh project on ``sample_data/cholecseg8k`` (or ``--data``, a CholecSeg8k
tree with ground truth) exactly as **Create project** does: the preset's training settings and
the first queue, the initial spread of 10 frames. The oracle accepts the ground truth of those
10 frames as training labels (no validation frame: a new user ticks none), and round 1 runs
through :meth:`ActiveLearningSession.run_round` with the widget's default round settings
(default strategy, 10 frames per round, the preset's epochs). Printed per run:

- the round's wall time and the optimiser steps it trained;
- the time per training step (wall, from the first to the last step's progress, and the
  process CPU time over those steps: on a shared machine the wall figure moves with the other
  processes, the CPU figure much less);
- mean Dice on the other frames (every frame not in the first queue): the data-set Dice of
  ``core.learn.metrics.SegmentationMeter`` (``2I / (P + T)`` per class, pooled over the frames)
  averaged over the schema's scored classes, of the predictions the round cached (what
  Auto-fill would paste); the median and mean per-frame pixel agreement with the truth;
- the round's own quality figure and what Auto-fill does with it (``core.project.autofill``).

The machine's core count and load averages are printed so a noisy figure can be recognised.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data" / "cholecseg8k"


def load_avg() -> str:
    """The 1/5/15-minute load averages, as text."""
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def pixel_agreement(pred: np.ndarray, truth: np.ndarray, ignore: int = 255) -> float:
    """Fraction of the labelled pixels of ``truth`` (not ``ignore``) where ``pred`` agrees."""
    valid = truth != ignore
    return float((pred[valid] == truth[valid]).mean()) if valid.any() else float("nan")


class StepClock:
    """Wall and process CPU time between the first and the last training step's progress."""

    def __init__(self) -> None:
        self.first: tuple[float, float] | None = None
        self.last: tuple[float, float] | None = None
        self.steps = 0

    def __call__(self, progress: Any) -> None:
        """Record one progress dict (only "train" ones with a loss count as steps)."""
        if progress.stage != "train" or progress.loss is None:
            return
        now = (time.perf_counter(), time.process_time())
        self.first = self.first or now
        self.last, self.steps = now, self.steps + 1

    def per_step(self) -> tuple[float, float]:
        """(wall s, CPU s) per step over the steps after the first; NaN with fewer than two."""
        if self.first is None or self.last is None or self.steps < 2:
            return float("nan"), float("nan")
        n = self.steps - 1
        return (self.last[0] - self.first[0]) / n, (self.last[1] - self.first[1]) / n


def score_other_frames(
    project: Any, session: Any, keys: Iterable[str]
) -> tuple[float, float, float]:
    """(mean Dice over scored classes, median agreement, mean agreement) on ``keys``.

    Uses the prediction the round cached for each frame (the session predicts one it did not).
    """
    from alges_napari.core.learn.metrics import SegmentationMeter

    frames, schema = project.frames, project.schema
    meter = SegmentationMeter(schema.num_classes)
    agree = []
    for key in keys:
        pred = project.prediction(key)
        pred = session.predict(key) if pred is None else pred
        truth = frames.truth(key)
        meter.update(pred, truth)
        agree.append(pixel_agreement(pred, truth))
    return meter.mean_dice(schema.scored_classes), float(np.median(agree)), float(np.mean(agree))


def one_run(source: Path, preset: str, workdir: Path) -> dict[str, Any]:
    """Create the project, label the first queue from the truth, run round 1, measure it."""
    from alges_napari.core.progress import run_to_end
    from alges_napari.core.project.autofill import decide_autofill, round_quality
    from alges_napari.core.project.project import Project
    from alges_napari.core.session import ActiveLearningSession, RoundConfig

    project = Project.create(workdir / "project", source, preset=preset)
    try:
        frames = project.frames
        first = [e.key for e in project.queue]
        for key in first:
            project.accept_label(key, frames.truth(key))
        session = ActiveLearningSession(project, device="cpu")
        clock = StepClock()
        t0 = time.perf_counter()
        result = run_to_end(session.run_round(RoundConfig()), clock)
        wall = time.perf_counter() - t0
        others = [k for k in project.keys if k not in set(first)]
        dice, agree_median, agree_mean = score_other_frames(project, session, others)
        quality = round_quality(project.rounds[-1])
        paste = decide_autofill(quality, enabled=True, has_prediction=True, touched=False)
        step_wall, step_cpu = clock.per_step()
        return {
            "labels": len(first),
            "others": len(others),
            "wall": wall,
            "train": result.timings.get("train", float("nan")),
            "steps": result.train.steps if result.train else 0,
            "step_wall": step_wall,
            "step_cpu": step_cpu,
            "dice": dice,
            "agree_median": agree_median,
            "agree_mean": agree_mean,
            "quality": quality.text(),
            "autofill": paste.reason,
        }
    finally:
        project.close()


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=str(SAMPLE), help="CholecSeg8k tree with ground truth")
    parser.add_argument(
        "--preset", default="cpu", help="training preset (default: cpu, the default)"
    )
    parser.add_argument("--runs", type=int, default=1, help="fresh projects, one after the other")
    args = parser.parse_args(argv)

    import torch

    from alges_napari.core.learn.config import PRESETS

    print(f"nproc={os.cpu_count()} torch_threads={torch.get_num_threads()} load={load_avg()}")
    print(f"preset {args.preset}: {PRESETS[args.preset]}")
    for run in range(1, args.runs + 1):
        with tempfile.TemporaryDirectory() as tmp:
            r = one_run(Path(args.data), args.preset, Path(tmp))
        print(
            f"run {run}: round 1 {r['wall']:.1f} s (train {r['train']:.1f} s, {r['steps']} steps, "
            f"{r['step_wall']:.2f} s/step wall, {r['step_cpu']:.2f} s/step CPU); "
            f"{r['labels']} labels; on the other {r['others']} frames: mean Dice "
            f"{r['dice']:.3f} (data-set Dice, scored classes), pixel agreement median "
            f"{r['agree_median']:.3f} mean {r['agree_mean']:.3f}; round quality {r['quality']}; "
            f"auto-fill: {r['autofill']}; load={load_avg()}",
            flush=True,
        )


if __name__ == "__main__":
    main()
