"""The model whose predictions ``bench_correction.py`` corrects on real frames: trained once, re-makeable.

A ResNet-18 U-Net from random weights, trained as the simulator trains a round's model
(:meth:`alges_napari.core.experiment.pool.Runner.train`: the product's
:func:`~alges_napari.core.learn.train.iter_train`, cross-entropy + soft Dice, the batch
augmentations, AdamW) on 40 random frames of the Endoscapes-Seg50 ``train_seg`` split, at
128 x 224, batch 8, learning rate 1e-3, for 600 optimiser steps (120 epochs of 5 batches), seed
22. It is saved outside the repository (the frames' licence, CC BY-NC-SA, keeps them and what is
learnt from them out of it)::

    nice -n 10 .venv/bin/python benchmarks/make_correction_model.py \\
        --out /work/exp/correction/model40.safetensors

The checkpoint's metadata records the training keys, the settings, the time taken and the
validation Dice (data-set Dice per class on ``val_seg`` at 128 x 224, the foreground mean over the
classes present), which the script also prints.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from calibrate_real import DEFAULT_DATA, evaluate, load  # noqa: E402

from alges_napari.core.learn.config import TrainConfig  # noqa: E402
from alges_napari.core.learn.model import ModelSpec, build_model, save_checkpoint  # noqa: E402
from alges_napari.core.learn.train import TrainSamples, iter_train  # noqa: E402

FRAMES, STEPS, SIZE, BATCH, LR, SEED = 40, 600, (128, 224), 8, 1e-3, 22


def main(argv: list[str] | None = None) -> int:
    """Train the model once and save it to ``--out``."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--pool", type=Path, default=DEFAULT_DATA / "train_seg")
    p.add_argument("--test", type=Path, default=DEFAULT_DATA / "val_seg")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads (1: on a shared, loaded CPU two threads spin-wait)")
    p.add_argument("--steps", type=int, default=STEPS, help="optimiser steps (600)")
    args = p.parse_args(argv)
    if args.out.resolve().is_relative_to(Path(__file__).resolve().parents[1]):
        raise SystemExit(f"{args.out}: keep the model outside the repository (licence of the data)")
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    keys, pool, schema = load(args.pool, SIZE)
    _, test, _ = load(args.test, SIZE)
    rng = np.random.default_rng(SEED)
    idx = np.sort(rng.choice(len(keys), size=FRAMES, replace=False))
    data = TrainSamples(pool.images[torch.from_numpy(idx)], pool.masks[torch.from_numpy(idx)])
    print(f"loaded in {time.perf_counter() - t0:.0f} s; training on {[keys[i] for i in idx]}",
          flush=True)
    torch.manual_seed(SEED)
    model = build_model("Unet", "resnet18", num_classes=schema.num_classes)
    spec = ModelSpec.for_schema(schema, "Unet", "resnet18", SIZE)
    config = TrainConfig(
        encoder="resnet18", input_size=SIZE, epochs=-(-args.steps // -(-FRAMES // BATCH)),
        batch_size=BATCH, lr=LR, dice_weight=1.0, augment=True, seed=SEED,
    )  # fmt: skip
    config.min_steps = 0
    t1, steps, losses = time.perf_counter(), 0, []
    for prog in iter_train(model, data, config, device="cpu"):
        if prog.stage == "train" and prog.loss is not None:
            losses.append(float(prog.loss))
            steps = int(prog.done)
            if steps % 10 == 0:
                print(f"step {steps} loss {np.mean(losses[-10:]):.4f} "
                      f"({time.perf_counter() - t1:.0f} s)", flush=True)
    train_s = time.perf_counter() - t1
    model.eval()
    with torch.no_grad():
        scores = evaluate(model, test, spec, schema.num_classes)
    extra = {
        "purpose": "bench_correction.py (real frames, the default mode): predictions to correct",
        "train_keys": [keys[i] for i in idx], "steps": steps, "frames": FRAMES,
        "size": list(SIZE), "batch_size": BATCH, "lr": LR, "seed": SEED, "dice_weight": 1.0,
        "augment": True, "train_s": round(train_s, 1), "val": scores,
    }  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    save_checkpoint(model, args.out, spec, extra)
    print(f"{steps} steps in {train_s:.0f} s; val_seg Dice per class {scores['dice']}, "
          f"foreground mean (classes present) {scores['mean_fg_present']}; saved {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
