"""Cost of the scoring pass relative to plain eager inference, and of the reference recipe.

Prints, for Unet-resnet18 (13 classes, as the product builds it) on random frames, the median
over ``--runs`` runs measured in one process, the variants interleaved within each run, of:

- (ALGES-seg pass, with predictions and heat maps) / (plain batched inference, same predictions),
  both on eager torch: what the ALGES maths adds to a forward
- (ALGES-img pass, with predictions) / (plain inference), eager torch
- (reference recipe: one image at a time, full-network backward, ``weight.grad`` norms) /
  (ALGES-img pass)
- the training-step time in channels-last over contiguous memory format (forward, loss,
  backward, AdamW step at ``--train-batch`` images of ``--train-size``; ``--train-steps`` steps
  per timed run)
- last: (the scoring pass as the product runs it: the ALGES-seg pass, predictions and heat maps
  on the engine ``auto`` picks, an ONNX export of the round's weights included) / (eager fp32
  inference). The weights change before every run, as after a training round, so each run pays
  for its export.

Targets: <= 1.10, <= 1.25, >= 2.5 (docs/method.md, "ALGES"), and <= 0.67 for the last line.

    .venv/bin/python benchmarks/bench_scoring.py            # 64 frames of 256x448, batch 8, 3 runs
    .venv/bin/python benchmarks/bench_scoring.py --frames 16 --runs 3 --no-reference
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time

import numpy as np
import torch
import torch.nn.functional as F

from alges_napari.core.acquire.scores import HEAT
from alges_napari.core.acquire.scoring import ScoreOptions, predict_masks, score_frames
from alges_napari.core.learn import engine
from alges_napari.core.learn.engines import set_memory_format
from alges_napari.core.learn.losses import segmentation_loss
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


def timed(fn) -> tuple[float, float]:
    """Wall and CPU seconds (all of this process's threads) of ``fn()``."""
    t0, c0 = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - t0, time.process_time() - c0


def train_step_jobs(spec: ModelSpec, size: tuple[int, int], batch: int, steps: int) -> dict:
    """``steps`` training steps (forward, loss, backward, AdamW) per memory format, own models."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(batch, 3, *size, generator=gen)
    y = torch.randint(0, spec.num_classes, (batch, *size), generator=gen)
    jobs = {}
    for name, cl in (("train contiguous", False), ("train channels-last", True)):
        model = spec.build().train()
        set_memory_format(model, cl)
        opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
        xs = x.contiguous(memory_format=torch.channels_last) if cl else x

        def step(model=model, opt=opt, xs=xs) -> None:
            for _ in range(steps):
                opt.zero_grad(set_to_none=True)
                segmentation_loss(model(xs), y).backward()
                opt.step()

        jobs[name] = step
    return jobs


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--frames", type=int, default=64)
    ap.add_argument("--size", type=int, nargs=2, default=(256, 448), metavar=("H", "W"))
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--no-reference", action="store_true", help="skip the (slow) reference recipe")
    ap.add_argument("--train-size", type=int, nargs=2, default=(128, 224), metavar=("H", "W"))
    ap.add_argument("--train-batch", type=int, default=8)
    ap.add_argument("--train-steps", type=int, default=3, help="training steps per timed run")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    h, w = args.size
    spec = ModelSpec(arch="Unet", encoder="resnet18", num_classes=13, input_size=(h, w))
    model = spec.build().eval()
    eager = copy.deepcopy(model)  # the baseline keeps its own contiguous fp32 model
    head = last_layer(model)
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for _ in range(args.frames)]
    noop = lambda i, pred, heat: None  # noqa: E731 -- predictions and heat maps are produced, not kept

    def product_pass() -> None:
        with torch.no_grad():  # a new round's weights: the pass pays for a new export
            head.bias.add_(1e-4)
        score_frames(
            model, frames, spec, want={"emb_seg", HEAT}, on_frame=noop,
            options=ScoreOptions(batch_size=args.batch, engine="auto"),
        )  # fmt: skip

    def eager_pass(field: str):
        return lambda: score_frames(
            eager, frames, spec, want={field, HEAT}, on_frame=noop,
            options=ScoreOptions(batch_size=args.batch, engine="torch-contiguous"),
        )  # fmt: skip

    jobs = {
        "plain": lambda: predict_masks(eager, frames, spec, batch_size=args.batch),
        "alges-seg": eager_pass("emb_seg"),
        "alges-img": eager_pass("emb_img"),
        "scoring": product_pass,
        **train_step_jobs(spec, tuple(args.train_size), args.train_batch, args.train_steps),
    }
    if not args.no_reference:
        jobs["reference"] = lambda: reference_recipe(eager, frames, spec)
    for job in (jobs["plain"], jobs["scoring"], jobs["train contiguous"]):
        job()  # warm-up: first-call allocations, kernel selection, the engines' measurement
    jobs["train channels-last"]()
    times: dict[str, list[float]] = {k: [] for k in jobs}
    cpu: dict[str, list[float]] = {k: [] for k in jobs}
    for run in range(args.runs):
        for name, job in jobs.items():  # interleaved, so load drifts hit every variant alike
            wall, used = timed(job)
            times[name].append(wall)
            cpu[name].append(used)
        print(
            f"run {run + 1}: " + "  ".join(f"{k} {v[-1]:.2f}s" for k, v in times.items()),
            flush=True,
        )
    med = {k: statistics.median(v) for k, v in times.items()}
    med_cpu = {k: statistics.median(v) for k, v in cpu.items()}
    print(
        f"\nUnet-resnet18, 13 classes, {args.frames} frames {h}x{w}, batch {args.batch}, "
        f"torch threads {torch.get_num_threads()}, median of {args.runs} runs"
    )
    for k, v in med.items():
        if "train" in k:
            print(f"  {k:20s} {v / args.train_steps:7.2f} s  (per step)")
        else:
            print(f"  {k:20s} {v:7.2f} s  ({v / args.frames * 1000:6.1f} ms/frame)")
    for key, t in engine.measured_timings().items():
        shown = ", ".join(f"{k} {v * 1000:.0f} ms/frame" for k, v in t.per_frame.items())
        print(f"  auto measured at {key[2]}: {shown}; ONNX export {t.export_s:.2f} s")
    rows = [
        ("ALGES-seg pass / plain inference", med["alges-seg"] / med["plain"], "<= 1.10"),
        ("ALGES-img pass / plain inference", med["alges-img"] / med["plain"], "<= 1.25"),
    ]
    if "reference" in med:
        rows.append(
            ("reference recipe / ALGES-img pass", med["reference"] / med["alges-img"], ">= 2.5")
        )
    for label, ratio, target in rows:
        print(f"  {label:36s} {ratio:5.2f}   target {target}")
    # CPU seconds hardly move with other processes' load, wall seconds do: on a shared machine
    # the CPU-time ratios tell whether a wall-time ratio is the machine's or the load's.
    print(
        "  CPU-time ratios (this process's threads): "
        f"scoring / plain {med_cpu['scoring'] / med_cpu['plain']:.2f}, "
        f"train channels-last / contiguous "
        f"{med_cpu['train channels-last'] / med_cpu['train contiguous']:.2f}"
    )
    th, tw = args.train_size
    print(
        f"training step ({args.train_batch} x {th}x{tw}) channels-last / contiguous: "
        f"{med['train channels-last'] / med['train contiguous']:.2f}"
    )
    print(f"scoring pass / eager fp32 inference: {med['scoring'] / med['plain']:.2f}")


if __name__ == "__main__":
    main()
