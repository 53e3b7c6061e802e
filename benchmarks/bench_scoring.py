"""Cost of the ALGES scoring pass relative to plain inference, and of the reference recipe.

Prints, for Unet-resnet18 (13 classes) on random frames, the median over ``--runs`` runs measured
in one process of:

- (ALGES-seg pass, with predictions and heat maps) / (plain batched inference, same predictions)
- (ALGES-img pass, with predictions) / (plain inference)
- (reference recipe: one image at a time, full-network backward, ``weight.grad`` norms) /
  (ALGES-img pass)

Targets (DESIGN.md section 3): <= 1.10, <= 1.25 and >= 2.5.

    .venv/bin/python benchmarks/bench_scoring.py            # 64 frames of 256x448, batch 8, 3 runs
    .venv/bin/python benchmarks/bench_scoring.py --frames 16 --runs 3
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
import torch.nn.functional as F

from alges_napari.core.acquire.scoring import predict_masks, score_frames
from alges_napari.core.learn.model import ModelSpec, last_layer, preprocess


def reference_recipe(
    model: torch.nn.Module, frames: list[np.ndarray], spec: ModelSpec
) -> np.ndarray:
    """The paper's script: per image, a full backward of the mean CE vs argmax, weight.grad norms."""
    conv = last_layer(model)
    out = []
    for frame in frames:
        model.zero_grad()
        logits = model(preprocess(frame[None], spec))
        F.cross_entropy(logits, logits.argmax(1)).backward()
        out.append(conv.weight.grad.flatten(1).norm(dim=1).numpy().copy())
    return np.array(out)


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--frames", type=int, default=64)
    ap.add_argument("--size", type=int, nargs=2, default=(256, 448), metavar=("H", "W"))
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    h, w = args.size
    spec = ModelSpec(arch="Unet", encoder="resnet18", num_classes=13, input_size=(h, w))
    model = spec.build().eval()
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for _ in range(args.frames)]
    noop = lambda i, pred, heat: None  # noqa: E731 -- predictions and heat maps are produced, not kept
    jobs = {
        "plain": lambda: predict_masks(model, frames, spec, batch_size=args.batch),
        "alges-seg": lambda: score_frames(
            model, frames, spec, batch_size=args.batch, want={"emb_seg"}, on_frame=noop
        ),
        "alges-img": lambda: score_frames(
            model, frames, spec, batch_size=args.batch, want={"emb_img"}, on_frame=noop
        ),
        "reference": lambda: reference_recipe(model, frames, spec),
    }
    jobs["plain"]()  # warm-up: first-call allocations and kernel selection
    times: dict[str, list[float]] = {k: [] for k in jobs}
    for run in range(args.runs):
        for name, job in jobs.items():  # interleaved, so load drifts hit every variant alike
            times[name].append(timed(job))
        print(
            f"run {run + 1}: " + "  ".join(f"{k} {v[-1]:.2f}s" for k, v in times.items()),
            flush=True,
        )
    med = {k: statistics.median(v) for k, v in times.items()}
    print(
        f"\nUnet-resnet18, 13 classes, {args.frames} frames {h}x{w}, batch {args.batch}, "
        f"torch threads {torch.get_num_threads()}, median of {args.runs} runs"
    )
    for k, v in med.items():
        print(f"  {k:10s} {v:7.2f} s  ({v / args.frames * 1000:6.1f} ms/frame)")
    rows = [
        ("ALGES-seg pass / plain inference", med["alges-seg"] / med["plain"], "<= 1.10"),
        ("ALGES-img pass / plain inference", med["alges-img"] / med["plain"], "<= 1.25"),
        ("reference recipe / ALGES-img pass", med["reference"] / med["alges-img"], ">= 2.5"),
    ]
    for label, ratio, target in rows:
        print(f"  {label:36s} {ratio:5.2f}   target {target}")


if __name__ == "__main__":
    main()
