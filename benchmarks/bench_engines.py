"""The forward alone on each engine the scoring pass can use, quiet or beside a busy process.

Unet-resnet18 (13 classes, as the product builds it), batch 8 of random frames, ``--frames``
frames per timed run, engines interleaved within each of ``--runs`` runs; medians, in ms per
frame and relative to eager fp32 PyTorch:

- eager: PyTorch fp32, contiguous (the baseline of ``bench_scoring.py``)
- channels-last: the same in channels-last memory format
- onnx dynamic: ONNX Runtime on an export with dynamic height and width (the export before
  2026-11-25)
- onnx static: ONNX Runtime on the export the product makes now (height and width fixed)
- onnx static, spinning: the same with ONNX Runtime's threads allowed to spin (the product
  lets them sleep: the ALGES maths runs in torch on the same cores between batches)
- openvino: OpenVINO on the static export, when the ``openvino`` package is installed (it is
  not a dependency)

``--busy`` starts one busy process (a pure-Python loop) beside the measurement.

    .venv/bin/python benchmarks/bench_engines.py                      # 256x448, 64 frames
    .venv/bin/python benchmarks/bench_engines.py --size 128 224 --busy
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

from alges_napari.core.learn import engines
from alges_napari.core.learn.model import ModelSpec, preprocess


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--size", type=int, nargs=2, default=(256, 448), metavar=("H", "W"))
    ap.add_argument("--frames", type=int, default=64)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--busy", action="store_true", help="one busy process beside the runs")
    args = ap.parse_args()
    h, w = args.size
    torch.manual_seed(0)
    spec = ModelSpec(arch="Unet", encoder="resnet18", num_classes=13, input_size=(h, w))
    model = spec.build().eval()
    cl = engines.TorchEngine(spec.build().eval(), channels_last=True)
    cl.model.load_state_dict(model.state_dict())
    cl.prepare()
    rng = np.random.default_rng(0)
    x = preprocess(rng.integers(0, 256, (8, h, w, 3), dtype=np.uint8), spec)
    xn, n = x.numpy(), args.frames // 8
    static = engines.export_onnx(model, (h, w))
    dyn, sta, spin = (
        engines.onnx_session(engines.export_onnx(model, None)),
        engines.onnx_session(static),
        engines.onnx_session(static, spinning=True),
    )

    def eager() -> None:
        with torch.no_grad():
            for _ in range(n):
                model(x)

    jobs = {
        "eager": eager,
        "channels-last": lambda: [cl.run(x, False) for _ in range(n)],
        "onnx dynamic": lambda: [dyn.run(None, {"x": xn}) for _ in range(n)],
        "onnx static": lambda: [sta.run(None, {"x": xn}) for _ in range(n)],
        "onnx static, spinning": lambda: [spin.run(None, {"x": xn}) for _ in range(n)],
    }
    try:
        import openvino as ov

        core = ov.Core()
        core.set_property("CPU", {"INFERENCE_NUM_THREADS": torch.get_num_threads()})
        path = os.path.join(tempfile.mkdtemp(), "model.onnx")
        with open(path, "wb") as f:
            f.write(static)
        compiled = core.compile_model(
            core.read_model(path), "CPU", {"INFERENCE_PRECISION_HINT": "f32"}
        )
        req = compiled.create_infer_request()
        jobs["openvino"] = lambda: [req.infer({0: xn}) for _ in range(n)]
    except ImportError:
        pass
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if args.busy else None
    try:
        for job in jobs.values():
            job()  # warm-up
        times: dict[str, list[float]] = {k: [] for k in jobs}
        for _ in range(args.runs):
            for name, job in jobs.items():  # interleaved
                t0 = time.perf_counter()
                job()
                times[name].append(time.perf_counter() - t0)
    finally:
        if busy is not None:
            busy.kill()
            busy.wait()
    base = statistics.median(times["eager"])
    print(
        f"Unet-resnet18, 13 classes, {n * 8} frames {h}x{w}, batch 8, torch threads "
        f"{torch.get_num_threads()}, {'beside one busy process' if args.busy else 'quiet'}, "
        f"median of {args.runs} runs"
    )
    for name, t in times.items():
        m = statistics.median(t)
        print(f"  {name:24s} {m / (n * 8) * 1000:7.1f} ms/frame   / eager {m / base:.2f}")


if __name__ == "__main__":
    main()
