"""PyTorch on a shared CPU: OpenMP threads that spin vs threads that sleep, quiet and under load.

The widget trains and scores in a background thread while napari's GUI, and whatever else the
surgeon's laptop runs, use the same cores. PyTorch's OpenMP threads busy-wait between parallel
regions by default; when another process holds a core, each of them waits for a thread that is
not running. ``alges_napari`` therefore sets ``OMP_WAIT_POLICY=PASSIVE`` when it is imported
(before PyTorch; a value the user set is kept). This measures what that changes.

Each cell runs in a fresh process (OpenMP reads the variable once, when PyTorch loads), with
``OMP_WAIT_POLICY`` unset (PyTorch's default) or ``PASSIVE``, on a quiet machine or beside one
busy process (a pure-Python loop, one core's worth of load), cells interleaved over ``--runs``
rounds; medians. Per cell: eager fp32 inference of the product's Unet-resnet18 (13 classes,
batch 8 at ``--size``) in ms per frame, and one training step (forward, loss, backward, AdamW).

    .venv/bin/python benchmarks/bench_load.py              # 128x224, 3 runs
    .venv/bin/python benchmarks/bench_load.py --size 256 448 --runs 5

Last line: ``under load, passive / spinning OpenMP: inference R, training step S``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

BUSY = "while True: pass"


def child(size: tuple[int, int], frames: int) -> dict[str, float]:
    """Seconds per frame of inference and seconds per training step, in this process."""
    import torch

    from alges_napari.core.learn.losses import segmentation_loss
    from alges_napari.core.learn.model import ModelSpec

    torch.manual_seed(0)
    spec = ModelSpec(arch="Unet", encoder="resnet18", num_classes=13, input_size=size)
    model = spec.build()
    x = torch.randn(8, 3, *size)
    y = torch.randint(0, 13, (8, *size))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)

    def infer() -> None:
        model.eval()
        with torch.no_grad():
            for _ in range(frames // 8):
                model(x)

    def step() -> None:
        model.train()
        opt.zero_grad(set_to_none=True)
        segmentation_loss(model(x), y).backward()
        opt.step()

    out = {}
    for name, fn, per in (("infer", infer, frames), ("train", step, 1)):
        fn()  # warm-up
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            fn()
            times.append((time.perf_counter() - t0) / per)
        out[name] = min(times)
    return out


def cell(policy: str | None, loaded: bool, size: tuple[int, int], frames: int) -> dict[str, float]:
    """One measurement in a fresh process, with or without a busy process beside it."""
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if policy:
        env["OMP_WAIT_POLICY"] = policy
    busy = subprocess.Popen([sys.executable, "-c", BUSY]) if loaded else None
    try:
        res = subprocess.run(
            [sys.executable, __file__, "--child", "--size", *map(str, size),
             "--frames", str(frames)],
            env=env, capture_output=True, text=True, check=True,
        )  # fmt: skip
    finally:
        if busy is not None:
            busy.kill()
            busy.wait()
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--size", type=int, nargs=2, default=(128, 224), metavar=("H", "W"))
    ap.add_argument("--frames", type=int, default=32, help="frames per timed inference")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    size = tuple(args.size)
    if args.child:
        print(json.dumps(child(size, args.frames)))
        return
    cells = [(p, ld) for ld in (False, True) for p in (None, "PASSIVE")]
    got: dict[tuple, list[dict[str, float]]] = {c: [] for c in cells}
    for run in range(args.runs):
        for c in cells:  # interleaved: a drift of the machine hits every cell alike
            got[c].append(cell(*c, size, args.frames))
        print(f"run {run + 1} of {args.runs} done", flush=True)
    med = {
        c: {k: statistics.median(r[k] for r in rs) for k in ("infer", "train")}
        for c, rs in got.items()
    }
    h, w = size
    print(
        f"\nUnet-resnet18, batch 8 at {h}x{w}, 2 threads unless the machine has fewer; median of {args.runs}"
    )
    for (policy, loaded), m in med.items():
        print(
            f"  OMP_WAIT_POLICY={policy or 'unset (spin)':14s} {'busy neighbour' if loaded else 'quiet':15s}"
            f" inference {m['infer'] * 1000:7.1f} ms/frame   training step {m['train']:6.2f} s"
        )
    q = med[("PASSIVE", False)], med[(None, False)]
    lo = med[("PASSIVE", True)], med[(None, True)]
    print(
        f"quiet, passive / spinning OpenMP: inference {q[0]['infer'] / q[1]['infer']:.2f}, "
        f"training step {q[0]['train'] / q[1]['train']:.2f}"
    )
    print(
        f"under load, passive / spinning OpenMP: inference {lo[0]['infer'] / lo[1]['infer']:.2f}, "
        f"training step {lo[0]['train'] / lo[1]['train']:.2f}"
    )


if __name__ == "__main__":
    main()
