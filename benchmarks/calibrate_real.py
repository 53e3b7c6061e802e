"""Calibration on real frames (issue 21, step 4): which training schedule learns every class, and
what label budgets leave something for a strategy to find. Random frames only.

Each run trains one ResNet-18 U-Net from random weights with the product's own training loop
(:func:`alges_napari.core.learn.train.iter_train`: cross-entropy + ``dice_weight`` x soft Dice,
the batch augmentations, AdamW) on ``--frames`` random frames of the pool (``all``: every pool
frame), and evaluates it on the test frames at every step count of ``--eval-at`` without
interrupting training (the generator is paused, the model evaluated under ``no_grad``, then put
back in training mode). The metric is the experiment's primary one: data-set-level Dice per
class, averaged over the foreground classes present in the test truth
(:func:`alges_napari.core.experiment.pool.evaluation_columns`).

Every finished evaluation is appended as one JSON line to ``--out`` (a run already there, same
settings, is skipped) and the model is saved in ``--work-dir``; a stopped run resumes from its
last evaluation point. Training between two evaluation points is one call of the product's
loop continuing the same model, so AdamW's moments restart at each point (as in the widget's
warm-started rounds); each segment's data order is seeded by ``seed + step``, so a resumed run
trains exactly as an uninterrupted one. Seeds used here (``--seed``, default 900+) are
never used by the comparison (seeds 0..)::

    .venv/bin/python benchmarks/calibrate_real.py --frames all --eval-at 300 600 1200 2400 \\
        --out docs/experiment/real/calibration/runs.jsonl

Data: ``--pool`` and ``--test`` default to the Endoscapes-Seg50 ``train_seg`` and ``val_seg``
splits beside the repository (``../shared/data/endoscapes-seg50``; never copied into it).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

from alges_napari.core.acquire.scoring import ScoreOptions, iter_score
from alges_napari.core.data.frames import open_frames
from alges_napari.core.data.frames.stream import KeyedFrames
from alges_napari.core.learn.config import TrainConfig
from alges_napari.core.learn.metrics import SegmentationMeter
from alges_napari.core.learn.model import (
    ModelSpec,
    build_model,
    checkpoint_metadata,
    load_weights,
    save_checkpoint,
)
from alges_napari.core.learn.train import TrainSamples, iter_train, make_samples

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "endoscapes-seg50"


def load(path: Path, size: tuple[int, int]) -> tuple[list[str], TrainSamples, object]:
    """Every frame of ``path`` with its ground truth, resized once to ``size``."""
    source = open_frames(str(path))
    if not source.has_ground_truth:
        raise SystemExit(f"{path}: the reader finds no ground-truth masks there")
    pairs = []
    for i in range(len(source)):
        truth = source.ground_truth(i)
        if truth is None:
            raise SystemExit(f"{path}: frame {source.keys[i]!r} has no ground truth")
        pairs.append((source[i], truth))
    return list(source.keys), make_samples(pairs, size), source.schema


def evaluate(model, test: TrainSamples, spec: ModelSpec, num_classes: int) -> dict:
    """Data-set Dice per class on ``test`` and the primary mean (foreground classes present)."""
    meter = SegmentationMeter(num_classes)
    masks = test.masks.numpy()

    def on_frame(i: int, pred: np.ndarray, heat: object) -> None:
        meter.update(pred, masks[i])

    frames = KeyedFrames(lambda k: test.images[int(k)].permute(1, 2, 0).numpy(),
                         [str(i) for i in range(len(test))])
    options = ScoreOptions(batch_size=32)
    for _ in iter_score(model, frames, spec, want=set(), on_frame=on_frame, options=options):
        pass
    dice = meter.dice()
    present = [c for c in range(1, num_classes) if (masks == c).any()]
    fg = [float(dice[c]) if np.isfinite(dice[c]) else 0.0 for c in present]
    return {
        "dice": [None if not np.isfinite(d) else round(float(d), 4) for d in dice],
        "mean_fg_present": round(float(np.mean(fg)), 4),
        "present": present,
        "mean_per_image": round(meter.mean_per_image_dice(), 4),
    }


def yield_segment(model, data: TrainSamples, config: TrainConfig, steps: int, losses: list,
                  offset: int) -> int:
    """Train ``steps`` optimiser steps (whole epochs are cut short there); the steps taken."""
    config.epochs = -(-steps // -(-len(data) // config.batch_size))
    config.min_steps = 0
    gen = iter_train(model, data, config, device="cpu")
    taken = 0
    for prog in gen:
        if prog.stage != "train" or prog.loss is None:
            continue
        losses.append(float(prog.loss))
        taken = int(prog.done)
        if taken % 50 == 0:
            print(f"step {offset + taken} loss {np.mean(losses[-50:]):.4f}", flush=True)
        if taken >= steps:
            gen.close()
            break
    return taken


def resume(model, work: Path) -> tuple[int, float]:
    """Load the run's latest checkpoint into ``model``: (its step, its training seconds)."""
    found = sorted(work.glob("step_*.safetensors"))
    if not found:
        return 0, 0.0
    meta = checkpoint_metadata(found[-1]) or {}
    load_weights(model, found[-1])
    extra = meta.get("extra", meta)
    return int(extra.get("step", found[-1].stem.split("_")[1])), float(extra.get("train_s", 0.0))


def done_runs(out: Path) -> set[str]:
    if not out.exists():
        return set()
    return {json.loads(line)["run"] for line in out.read_text().splitlines() if line.strip()}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--pool", type=Path, default=DEFAULT_DATA / "train_seg")
    p.add_argument("--test", type=Path, default=DEFAULT_DATA / "val_seg")
    p.add_argument("--frames", default="all", help="random pool frames to train on, or 'all'")
    p.add_argument("--size", type=int, nargs=2, default=(128, 224))
    p.add_argument("--eval-at", type=int, nargs="+", default=(300, 600, 1200, 2400))
    p.add_argument("--dice-weight", type=float, default=1.0)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--encoder", default="resnet18")
    p.add_argument("--no-augment", action="store_true")
    p.add_argument("--seed", type=int, default=900)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument(
        "--work-dir",
        type=Path,
        default=Path("/tmp/alges_calibration"),
        help="checkpoints after every evaluation point, so a stopped run resumes from the last",
    )
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    size = (int(args.size[0]), int(args.size[1]))
    eval_at = sorted(set(args.eval_at))
    run = (
        f"frames={args.frames} size={size[0]}x{size[1]} steps={eval_at[-1]} "
        f"dice={args.dice_weight} lr={args.lr} bs={args.batch_size} enc={args.encoder} "
        f"aug={not args.no_augment} seed={args.seed}"
    )
    if run in done_runs(args.out):
        print(f"done already: {run}")
        return 0
    t0 = time.perf_counter()
    keys, pool, schema = load(args.pool, size)
    _, test, _ = load(args.test, size)
    print(f"loaded {len(keys)} pool and {len(test)} test frames in {time.perf_counter() - t0:.0f} s",
          flush=True)
    if args.frames == "all":
        idx = np.arange(len(keys))
    else:
        rng = np.random.default_rng(args.seed)
        idx = np.sort(rng.choice(len(keys), size=int(args.frames), replace=False))
    data = TrainSamples(pool.images[torch.from_numpy(idx)], pool.masks[torch.from_numpy(idx)])
    torch.manual_seed(args.seed)
    num_classes = schema.num_classes
    model = build_model("Unet", args.encoder, num_classes=num_classes)
    spec = ModelSpec.for_schema(schema, "Unet", args.encoder, size)
    work = args.work_dir / hashlib.sha1(run.encode()).hexdigest()[:12]
    done, t_train = resume(model, work)
    if done:
        print(f"resumed at step {done} from {work}", flush=True)
    for target in [s for s in eval_at if s > done]:
        config = TrainConfig(
            encoder=args.encoder,
            input_size=size,
            epochs=1,
            min_steps=target - done,
            batch_size=args.batch_size,
            lr=args.lr,
            dice_weight=args.dice_weight,
            augment=not args.no_augment,
            seed=args.seed + done,  # each segment's own data order, the same on a rerun
        )
        t_start, losses = time.perf_counter(), []
        steps = yield_segment(model, data, config, target - done, losses, done)
        t_train += time.perf_counter() - t_start
        done += steps
        model.eval()
        with torch.no_grad():
            scores = evaluate(model, test, spec, num_classes)
        record = {
            "run": run if done >= eval_at[-1] else run + " (partial)",
            "frames": args.frames,
            "n_train": int(len(data)),
            "step": done,
            "train_s": round(t_train, 1),
            "s_per_step": round(t_train / done, 3),
            "loss_last100": round(float(np.mean(losses[-100:])), 4),
            **scores,
            "when": time.strftime("%Y-%m-%d %H:%M"),
        }
        print(json.dumps(record), flush=True)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        with args.out.open("a") as fh:
            fh.write(json.dumps(record) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        work.mkdir(parents=True, exist_ok=True)
        save_checkpoint(model, work / f"step_{done:05d}.safetensors", spec,
                        extra={"step": done, "train_s": round(t_train, 1)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
