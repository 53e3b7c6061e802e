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
settings, is skipped: the calibration resumes). Seeds used here (``--seed``, default 900+) are
never used by the comparison (seeds 0..)::

    .venv/bin/python benchmarks/calibrate_real.py --frames all --eval-at 300 600 1200 2400 \\
        --out docs/experiment/real/calibration/runs.jsonl

Data: ``--pool`` and ``--test`` default to the Endoscapes-Seg50 ``train_seg`` and ``val_seg``
splits beside the repository (``../shared/data/endoscapes-seg50``; never copied into it).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

from alges_napari.core.acquire.scoring import iter_score
from alges_napari.core.acquire.step import KeyedFrames
from alges_napari.core.data.frames import open_frames
from alges_napari.core.learn.config import TrainConfig
from alges_napari.core.learn.metrics import SegmentationMeter
from alges_napari.core.learn.model import ModelSpec, build_model
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
    for _ in iter_score(model, frames, spec, batch_size=32, want=set(), on_frame=on_frame):
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
    steps_per_epoch = -(-len(data) // args.batch_size)
    config = TrainConfig(
        encoder=args.encoder,
        input_size=size,
        epochs=1,
        batch_size=args.batch_size,
        lr=args.lr,
        dice_weight=args.dice_weight,
        augment=not args.no_augment,
        seed=args.seed,
    )
    # whole epochs that cover the last evaluation point; the loop stops right after it
    config.epochs, config.min_steps = -(-eval_at[-1] // steps_per_epoch), 0
    gen = iter_train(model, data, config, device="cpu")
    t_train, t_start, losses = 0.0, time.perf_counter(), []
    pending = list(eval_at)
    for prog in gen:
        if prog.stage != "train" or prog.loss is None:
            continue
        losses.append(float(prog.loss))
        done = int(prog.done)
        if pending and done >= pending[0]:
            t_train += time.perf_counter() - t_start
            model.eval()
            with torch.no_grad():
                scores = evaluate(model, test, spec, num_classes)
            model.train()
            record = {
                "run": run,
                "frames": args.frames,
                "n_train": int(len(data)),
                "step": done,
                "train_s": round(t_train, 1),
                "s_per_step": round(t_train / done, 3),
                "loss_last100": round(float(np.mean(losses[-100:])), 4),
                **scores,
                "when": time.strftime("%Y-%m-%d %H:%M"),
            }
            pending.pop(0)
            if pending:
                record["run"] = run + " (partial)"
            print(json.dumps(record), flush=True)
            args.out.parent.mkdir(parents=True, exist_ok=True)
            with args.out.open("a") as fh:
                fh.write(json.dumps(record) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            t_start = time.perf_counter()
            if not pending:
                gen.close()
                break
    return 0


if __name__ == "__main__":
    sys.exit(main())
