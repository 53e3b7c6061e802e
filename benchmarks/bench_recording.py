"""Rounds on a recording: one forward decode per pass, the pool cache, memory (issue 26).

Usage::

    .venv/bin/python benchmarks/bench_recording.py --minutes 2 [--gop 250] [--fps 25]
        [--stride 25] [--size 854x480] [--input 128x224] [--labels 10] [--keep DIR]

Makes a recording with PyAV (H.264, B-frames, a keyframe every ``--gop`` frames as consumer
and OR recorders write, ``--size`` synthetic laparoscopic content from
``alges_napari.core.data.synthetic``: one rendered frame every 2 s, cross-faded in between, a
new clip every 30 s), opens it at 1 frame per ``--stride`` frames (25: 1 frame/s at 25 fps) and
prints, in one run:

- open time (demux index), mean random-read time of a pool frame (no frame cache);
- sequential decode: PyAV, threaded, every frame decoded, the pool's frames converted to RGB
  (what a pass must do at least);
- plain inference of the pool: an eager fp32 forward of the pool frames already at the
  model's input size, then the prediction at the frame's size as the pass computes it
  (``upscale.upscaled_argmax``: the predictions the round's pass makes, without its scores,
  heat maps and overlay files; round 2's trained model), best of 2; beside it the same with
  the literal resize-then-argmax (the earlier baseline) and the forward alone;
- round 1 and round 2 (``ActiveLearningSession.run_round``, 1 epoch, ``--labels`` labels, the
  queue's frames labelled between them): wall time, scoring stage, frames decoded;
- peak RSS of each round and of each of its stages (VmHWM, reset before each), and of the
  whole run;
- the ratios against the targets: round 1's scoring <= 1.3 x (sequential decode + plain
  inference), round 2's <= 1.3 x plain inference, peak RSS under 1.5 GB; and the same two
  ratios against the forward alone;
- the **model stack floor**: in a fresh child process (``--stack-only``), the memory of the
  model stack alone, with no project, frame or pool: after ``import torch``, after importing
  segmentation-models-pytorch (with timm and torchvision) and the product's model module,
  after building the rounds' model (``ModelSpec``/``build_model``: Unet, ResNet-18, the
  recording's 13 classes), after ``--floor-steps`` training steps of the product's loop
  (``iter_train``, the rounds' batch of 4 at the model's input) and after one scoring-batch
  forward (8 frames, ``no_grad``). Each stage prints VmRSS, RssAnon (heap and tensors),
  RssFile (mapped libraries) and VmHWM (the peak so far), read in one snapshot, and the
  rounds' peaks are printed above it: what a round adds to what any process that trains this
  model must hold.

``--stack-only`` alone runs only that child's measurement and prints it as JSON (with
``--malloc-mmap-threshold MB`` it first sets glibc's ``M_MMAP_THRESHOLD`` and
``M_TRIM_THRESHOLD`` to that size through ``mallopt``, so large buffers are mapped and given
back instead of kept in the heap: the experiment in the README). Its rule, fixed before it
ran: the product adopts the thresholds only if, over three alternating pairs of children at
128x224 and 20 training steps, the median VmHWM after training falls by at least 100 MB and
the median training step costs at most 5 % more; otherwise the figures are reported and
nothing changes.

``--trim`` runs ``gc.collect()`` and glibc's ``malloc_trim(0)`` before each round, as the
session could at a round's start: free heap pages (left by the last round's pass and training,
in holes glibc cannot give back by itself) are returned to the system, and the time it takes
is printed. Its rule, fixed before it ran: the session adopts it only if, in two alternating
pairs of ``--minutes 2`` runs with and without it, round 2's peak RSS falls by at least 50 MB
in both pairs and the trim takes under 50 ms; otherwise the figures are reported and nothing
changes.

**The session's heap trims** (registered 2026-12-04, before the pairs it names ran).
``ActiveLearningSession.run_round`` was made to call glibc's ``malloc_trim(0)``
(``core/memory.release_free_heap``, commit 57df0a2) at the round's start, after training and at
its end, adding the seconds to the round's ``timings["trim"]``; each round printed them and
prints the RSS left after it (what the process holds while the user labels). It differs from ``--trim`` (one call
before each round, not adopted) in where it trims and in its rule, which was set after one
exploratory run of a diagnostic script at 1080p that read glibc's ``mallinfo2`` at every stage
change (after two rounds the heap held 1,225 MB, 729 MB of it free, while at most 862 MB were
in use at once; trimming at those three points took round 2's peak from 1,725 to 1,605 MB in
one run). Rule: the trims stay only if, in two alternating pairs of ``--minutes 1 --size
1920x1080 --recording REC`` runs (this tree against the tree before it, through
``PYTHONPATH``), (1) round 2's peak RSS falls by at least 100 MB in both pairs, (2) the RSS after
round 2 falls by at least 200 MB in both pairs, and (3) the trims take under 2 % of each
round's wall time in every run; otherwise they are taken out and the figures reported.
Result, 01:48-02:03 UTC, load 1.6-2.1 (the calibration on the other core), logs in
``docs/recording/trim_pair_*.txt``: round 2's peak 1,636 against 1,876 MB (-240) in the first
pair and 1,672 against 1,726 MB (-54) in the second; the RSS after round 2 1,149 against 1,822
(-673) and 1,186 against 1,719 MB (-533); the trims 0.06 s per round (0.2-0.4 %). Rule (1)
failed in the second pair, so the trims were **taken out** (the session is as before 57df0a2).

The machine's load averages are printed beside the figures: on a shared CPU the absolute
times move with the other processes, the in-run ratios much less.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

RENDER_EVERY_S = 2.0  # one synthetic frame rendered every 2 s of video, cross-faded between
CLIP_EVERY_S = 30.0  # a new synthetic clip (scene, lighting) every 30 s


def load_avg() -> str:
    """The 1/5/15-minute load averages, as text."""
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def status_fields(fields: tuple[str, ...]) -> dict[str, float]:
    """Memory fields of ``/proc/self/status`` in MB, from one read (empty off Linux)."""
    out = {}
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            name = line.split(":", 1)[0]
            if name in fields:
                out[name] = int(line.split()[1]) / 1024
    except OSError:
        pass
    return out


def status_mb(field: str) -> float | None:
    """A memory field of ``/proc/self/status`` (``"VmRSS"``, ``"VmHWM"``) in MB; None off Linux."""
    return status_fields((field,)).get(field)


def peak_rss_mb() -> float:
    """The process's peak resident set since the last :func:`reset_peak` (VmHWM), in MB."""
    peak = status_mb("VmHWM")
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 if peak is None else peak


def rss_mb() -> float:
    """The process's resident set now (VmRSS), in MB (psutil where there is no /proc)."""
    now = status_mb("VmRSS")
    if now is None:
        import psutil

        now = psutil.Process().memory_info().rss / 2**20
    return now


def reset_peak() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0); False where that is not possible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


class StagePeaks:
    """An ``on_progress`` callback: the peak RSS of each stage of a round, in MB.

    VmHWM is read and reset whenever the stage changes, so each stage's figure is its own
    (a stage that comes back, e.g. validation, keeps the larger of its peaks). ``starts`` keeps
    the RSS when each stage was first entered: a peak well above its stage's start was
    allocated by that stage; one close to it was mostly left by the stages before.
    """

    def __init__(self) -> None:
        self.peaks: dict[str, float] = {}
        self.starts: dict[str, float] = {}
        self.stage = ""

    def __call__(self, progress: Any) -> None:
        if progress.stage != self.stage:
            self._close()
            self.stage = progress.stage
            self.starts.setdefault(self.stage, rss_mb())

    def _close(self) -> None:
        if self.stage:
            self.peaks[self.stage] = max(self.peaks.get(self.stage, 0.0), peak_rss_mb())
            reset_peak()

    def finish(self) -> dict[str, float]:
        """The peaks, once the round has ended."""
        self._close()
        self.stage = ""
        return self.peaks


def size_arg(text: str) -> tuple[int, int]:
    """``854x480`` (width x height) -> (480, 854)."""
    w, h = (int(v) for v in text.lower().split("x"))
    return h, w


def hw_arg(text: str) -> tuple[int, int]:
    """``128x224`` (height x width, as model input sizes are written) -> (128, 224)."""
    h, w = (int(v) for v in text.lower().split("x"))
    return h, w


class Scenes:
    """Rendered synthetic frames by time, cached two at a time (the cross-fade's ends)."""

    def __init__(self, size: tuple[int, int], seed: int = 0):
        from alges_napari.core.data.synthetic.clips import SyntheticClip

        self.size, self.seed, self._clip_type = size, seed, SyntheticClip
        self._clips: dict[int, Any] = {}
        self._rendered: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def rendered(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Rendered frame ``k`` (one every RENDER_EVERY_S seconds) and its mask."""
        if k not in self._rendered:
            per_clip = int(CLIP_EVERY_S / RENDER_EVERY_S)
            clip = k // per_clip
            if clip not in self._clips:
                self._clips = {clip: self._clip_type(clip, self.size, self.seed)}
            self._rendered = {j: v for j, v in self._rendered.items() if j >= k - 1}
            self._rendered[k] = self._clips[clip].frame((k % per_clip) * 4)
        return self._rendered[k]

    def frame(self, t: float) -> np.ndarray:
        """The video frame at ``t`` seconds: a cross-fade of the rendered frames around it."""
        k, a = divmod(t / RENDER_EVERY_S, 1.0)
        f0 = self.rendered(int(k))[0].astype(np.float32)
        f1 = self.rendered(int(k) + 1)[0].astype(np.float32)
        return (f0 * (1 - a) + f1 * a).astype(np.uint8)

    def mask(self, t: float) -> np.ndarray:
        """A label for the frame at ``t``: the mask of the nearest rendered frame."""
        return self.rendered(int(round(t / RENDER_EVERY_S)))[1]


def make_recording(path: Path, minutes: float, fps: int, gop: int, size: tuple[int, int]) -> int:
    """Write the recording; returns its frame count."""
    import av

    n = int(round(minutes * 60 * fps))
    scenes = Scenes(size)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.height, stream.width = size
        stream.pix_fmt, stream.gop_size = "yuv420p", gop
        # veryfast keeps x264's B-frames (3) and b-pyramid; a fixed GOP as recorders write.
        stream.options = {"preset": "veryfast", "sc_threshold": "0", "crf": "23"}
        for i in range(n):
            img = av.VideoFrame.from_ndarray(scenes.frame(i / fps), format="rgb24")
            for packet in stream.encode(img):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return n


def sequential_decode(path: Path, stride: int) -> float:
    """Seconds for a threaded PyAV decode of every frame, converting the pool's to RGB."""
    import av

    t0 = time.perf_counter()
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for i, frame in enumerate(container.decode(stream)):
            if i % stride == 0:
                frame.to_ndarray(format="rgb24")
    return time.perf_counter() - t0


def memory_fields() -> dict[str, float]:
    """VmRSS, RssAnon, RssFile and VmHWM of this process in MB, one snapshot (empty off Linux)."""
    fields = ("VmRSS", "RssAnon", "RssFile", "VmHWM")
    values = status_fields(fields)
    return {k: round(values[k], 1) for k in fields if k in values}


def libc() -> Any:
    """The C library through ctypes (glibc on Linux), or None where it cannot be loaded."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    try:
        return None if name is None else ctypes.CDLL(name)
    except OSError:
        return None


def set_malloc_thresholds(mb: float) -> bool:
    """Set glibc's ``M_MMAP_THRESHOLD`` and ``M_TRIM_THRESHOLD`` to ``mb`` MB; False off glibc.

    Allocations above the mmap threshold are mapped on their own and unmapped when freed; the
    trim threshold is how much free memory at the heap's top is kept before it is given back.
    glibc raises the mmap threshold by itself after large frees (up to 32 MB on 64-bit), so
    tensors of a few MB end up in the heap and fragment it; setting the threshold pins it.
    """
    c = libc()
    m_trim_threshold, m_mmap_threshold = -1, -3  # glibc's malloc.h
    size = int(mb * 2**20)
    try:
        return bool(c.mallopt(m_mmap_threshold, size)) and bool(c.mallopt(m_trim_threshold, size))
    except AttributeError:  # no C library, or one without mallopt
        return False


def trim_free_memory() -> float | None:
    """``gc.collect()`` then glibc's ``malloc_trim(0)``; its seconds, or None off glibc."""
    import gc

    c = libc()
    t0 = time.perf_counter()
    gc.collect()
    try:
        c.malloc_trim(0)
    except AttributeError:  # no C library, or one without malloc_trim
        return None
    return time.perf_counter() - t0


def stack_floor(input_size: tuple[int, int], steps: int, classes: int = 13) -> dict[str, Any]:
    """The model stack's memory, stage by stage, in this (fresh) process.

    Parameters
    ----------
    input_size : (int, int)
        The model's input (H, W), as the rounds train it.
    steps : int
        Training steps of the product's loop at batch 4, as the rounds train: ``steps``
        epochs over 4 random frames, one step each.
    classes : int
        Output classes of the model (13: the CholecSeg8k schema the recording's project has).

    Returns
    -------
    dict
        ``stages``: a list of ``{"stage": name, **memory_fields()}``; ``step_s``: the median
        seconds of a training step after the first.
    """
    stages = []

    def mark(name: str) -> None:
        stages.append({"stage": name, **memory_fields()})

    mark("python")
    import torch

    torch.set_num_threads(1)
    mark("import torch")
    # The product imports smp when it first builds a model; imported here, apart, so that
    # this stage is the library (smp, timm, torchvision) and the next one the model alone.
    import segmentation_models_pytorch  # noqa: F401

    from alges_napari.core.learn.config import TrainConfig
    from alges_napari.core.learn.model import ModelSpec, build_model, preprocess
    from alges_napari.core.learn.train import iter_train, make_samples

    mark("import smp")
    h, w = input_size
    spec = ModelSpec(num_classes=classes, input_size=(h, w))
    model = build_model(spec.arch, spec.encoder, num_classes=spec.num_classes)
    mark("model built")
    rng = np.random.default_rng(0)
    pairs = [(rng.integers(0, 256, (h, w, 3), dtype=np.uint8),
              rng.integers(0, classes, (h, w), dtype=np.uint8)) for _ in range(4)]  # fmt: skip
    samples = make_samples(pairs, (h, w))
    config = TrainConfig(input_size=(h, w), batch_size=4, epochs=steps, min_steps=0, patience=0)
    times, t0 = [], time.perf_counter()
    for _ in iter_train(model, samples, config, device="cpu"):
        now = time.perf_counter()
        times.append(now - t0)
        t0 = now
    mark(f"training steps: {len(times)}")
    model.eval()
    batch = preprocess(rng.integers(0, 256, (8, h, w, 3), dtype=np.uint8), spec)
    with torch.no_grad():
        model(batch)
    mark("one scoring batch (8 frames, no_grad)")
    rest = sorted(times[1:]) or times
    return {"stages": stages, "step_s": rest[len(rest) // 2] if rest else float("nan")}


def run_stack_floor(input_size: tuple[int, int], steps: int,
                    malloc_mb: float | None = None) -> dict[str, Any]:  # fmt: skip
    """:func:`stack_floor` in a fresh child process (nothing of this one's counts), as a dict."""
    import json

    cmd = [sys.executable, __file__, "--stack-only", "--input", f"{input_size[0]}x{input_size[1]}",
           "--floor-steps", str(steps)]  # fmt: skip
    if malloc_mb is not None:
        cmd += ["--malloc-mmap-threshold", str(malloc_mb)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def format_floor(floor: dict[str, Any]) -> str:
    """The floor's stages as lines of text."""
    lines = []
    for row in floor["stages"]:
        fields = ", ".join(f"{k} {v:.0f}" for k, v in row.items() if k != "stage")
        lines.append(f"  {row['stage']}: {fields} MB")
    lines.append(f"  median training step {floor['step_s'] * 1e3:.0f} ms")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=2.0)
    ap.add_argument("--gop", type=int, default=250, help="frames between keyframes")
    ap.add_argument("--fps", type=int, default=25)
    ap.add_argument("--stride", type=int, default=25, help="keep every stride-th frame")
    ap.add_argument("--size", type=size_arg, default=(480, 854), help="WxH of the recording")
    ap.add_argument("--input", type=hw_arg, default=(128, 224), help="HxW of the model input")
    ap.add_argument("--labels", type=int, default=10)
    ap.add_argument("--keep", type=Path, default=None, help="keep the recording and project here")
    ap.add_argument("--recording", type=Path, default=None, help="use this recording instead")
    ap.add_argument("--make-only", type=Path, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--stack-only", action="store_true",
                    help="print only the model stack floor (JSON), measured in this process")
    ap.add_argument("--floor-steps", type=int, default=5, help="training steps of the floor")
    ap.add_argument("--malloc-mmap-threshold", type=float, default=None, metavar="MB",
                    help="with --stack-only: set glibc's mmap and trim thresholds first")
    ap.add_argument("--trim", action="store_true",
                    help="gc.collect() and malloc_trim(0) before each round (an experiment)")
    args = ap.parse_args(argv)
    if args.make_only is not None:  # the child that writes the recording
        make_recording(args.make_only, args.minutes, args.fps, args.gop, args.size)
        return
    if args.stack_only:  # the child that measures the model stack alone
        import json

        malloc = None
        if args.malloc_mmap_threshold is not None:
            malloc = set_malloc_thresholds(args.malloc_mmap_threshold)
        floor = stack_floor(args.input, args.floor_steps)
        print(json.dumps({**floor, "mallopt": malloc}))
        return
    input_size = args.input
    work = args.keep or Path(tempfile.mkdtemp(prefix="bench_recording_"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"cores {os.cpu_count()}, load average {load_avg()} (start)")
    path = work / "recording.mp4"
    if args.recording is not None:
        path = args.recording
        print(f"recording: {path} (given)")
        run(args, path, work, input_size)
        print(f"load average {load_avg()} (end)")
        return
    t0 = time.perf_counter()
    # In a child process: rendering leaves memory behind that would count in this one's peak.
    h, w = args.size
    subprocess.run(
        [sys.executable, __file__, "--make-only", str(path), "--minutes", str(args.minutes),
         "--fps", str(args.fps), "--gop", str(args.gop), "--size", f"{w}x{h}"],
        check=True,
    )  # fmt: skip
    n = int(round(args.minutes * 60 * args.fps))
    mb = path.stat().st_size / 1e6
    print(f"recording: {n} frames of {w}x{h} at {args.fps} fps, GOP {args.gop}, {mb:.1f} MB, "
          f"made in {time.perf_counter() - t0:.1f} s")  # fmt: skip
    run(args, path, work, input_size)
    print(f"load average {load_avg()} (end)")


def run(args: Any, path: Path, work: Path, input_size: tuple[int, int]) -> None:
    """Everything after the recording exists."""
    import torch

    from alges_napari.core.data.frames.video import VideoSource
    t0 = time.perf_counter()
    src = VideoSource(path, stride=args.stride, cache_size=0)
    t_open = time.perf_counter() - t0
    rng = np.random.default_rng(0)
    picks = rng.choice(len(src), size=min(10, len(src)), replace=False)
    t0 = time.perf_counter()
    for i in picks:
        src[int(i)]
    t_random = (time.perf_counter() - t0) / len(picks)
    src.close()
    t_seq = sequential_decode(path, args.stride)
    print(f"open {t_open:.2f} s ({len(src)} pool frames at stride {args.stride}); random read "
          f"{t_random * 1e3:.0f} ms/frame; sequential decode {t_seq:.1f} s")  # fmt: skip
    rounds = run_rounds(args, path, work, input_size)
    runs = [plain_inference(rounds["project"], input_size) for _ in range(2)]
    t_plain, n_plain = min(t for t, _ in runs), runs[0][1]
    print(f"plain inference of the pool: {t_plain:.1f} s, best of "
          f"{', '.join(f'{t:.1f}' for t, _ in runs)} ({n_plain} frames at "
          f"{input_size[0]}x{input_size[1]}, torch threads {torch.get_num_threads()})")
    other = {
        how: min(plain_inference(rounds["project"], input_size, how)[0] for _ in range(2))
        for how in ("literal", "forward")
    }
    print(f"plain inference, other predictions: with the literal resize and argmax "
          f"{other['literal']:.1f} s; the forward alone (no prediction at the frame's size) "
          f"{other['forward']:.1f} s (best of 2 each)")  # fmt: skip
    r1, r2 = rounds["rounds"]
    for r in (r1, r2):
        print(f"round {r['round']}: RSS after it {r['after']:.0f} MB (what the process holds "
              "while the queue is labelled)")
        print(f"round {r['round']}: wall {r['wall']:.1f} s, train {r['train']:.1f} s, validate "
              f"{r['validate']:.1f} s, scoring {r['score']:.1f} s ({r['pool']} frames), frames "
              f"decoded {r['decoded']}, peak RSS {r['rss']:.0f} MB (by stage: "
              + ", ".join(f"{k} {v:.0f}" for k, v in r["stages"].items()) + "; RSS as each "
              "stage began: " + ", ".join(f"{k} {v:.0f}" for k, v in r["starts"].items())
              + ")")  # fmt: skip
    print(rounds["cache"])
    floor = run_stack_floor(input_size, args.floor_steps)
    top = max(row.get("VmHWM", 0.0) for row in floor["stages"])
    print(f"model stack floor (a fresh process: no project, frame or pool; peak {top:.0f} MB):")
    print(format_floor(floor))
    print("round peak above the floor: " + ", ".join(
        f"round {r['round']} {r['rss'] - top:+.0f} MB" for r in rounds["rounds"]))  # fmt: skip
    per_frame = t_plain / n_plain  # each round's pool is a little smaller than the last
    overall = max(r1["rss"], r2["rss"], peak_rss_mb())  # VmHWM was reset before each round
    floor1, floor2 = t_seq + per_frame * r1["pool"], per_frame * r2["pool"]
    print(f"ratios: round 1 scoring / (sequential decode + plain inference) = "
          f"{r1['score'] / floor1:.2f} (target <= 1.3); round 2 scoring / plain inference = "
          f"{r2['score'] / floor2:.2f} (target <= 1.3); peak RSS {overall:.0f} MB "
          "(target < 1500)")  # fmt: skip
    fwd = other["forward"] / n_plain
    print(f"the same ratios against the forward alone: round 1 "
          f"{r1['score'] / (t_seq + fwd * r1['pool']):.2f}; round 2 "
          f"{r2['score'] / (fwd * r2['pool']):.2f}")  # fmt: skip
    rounds["project"].close()


def run_rounds(args: Any, path: Path, work: Path, input_size: tuple[int, int]) -> dict[str, Any]:
    """Round 1 and round 2 on a new project of the recording."""
    from alges_napari.core.progress import run_to_end
    from alges_napari.core.project.pool_cache import PoolCache
    from alges_napari.core.project.project import Project
    from alges_napari.core.session import ActiveLearningSession, RoundConfig

    root = work / f"project_{time.time_ns()}"
    proj = Project.create(
        root, path, stride=args.stride, input_size=input_size, epochs=1, batch_size=4,
        min_steps=0, patience=0,
    )  # fmt: skip
    scenes = Scenes(args.size)
    keys = proj.keys

    def label(key: str) -> None:
        proj.accept_label(key, scenes.mask(proj.frames.index_of(key) * args.stride / args.fps))

    for i in np.linspace(0, len(keys) - 1, args.labels).round().astype(int):
        label(keys[int(i)])
    # The rounds' passes run eager torch, as the plain baseline does (plain_inference).
    session = ActiveLearningSession(proj, device="cpu", engine="torch-contiguous")
    out = []
    for r in (1, 2):
        decoded = proj.frames.decode_counts["decoded"]
        pool = len(proj.unlabelled_keys())
        if getattr(args, "trim", False):
            before = rss_mb()
            spent = trim_free_memory()
            took = "not available" if spent is None else f"{spent * 1e3:.0f} ms"
            print(f"trim before round {r}: RSS {before:.0f} -> {rss_mb():.0f} MB, {took}")
        exact = reset_peak()
        peaks = StagePeaks()
        t0 = time.perf_counter()
        result = run_to_end(session.run_round(RoundConfig(query_size=10)), peaks)
        wall = time.perf_counter() - t0
        after = rss_mb()  # what the process holds while the user labels the queue
        stages = peaks.finish()
        out.append({
            "round": r, "wall": wall, "train": result.timings.get("train", 0.0),
            "score": result.timings.get("score", 0.0), "pool": pool,
            "validate": result.timings.get("validate", 0.0),
            "decoded": proj.frames.decode_counts["decoded"] - decoded,
            "rss": max(stages.values(), default=peak_rss_mb()) if exact else float("nan"),
            "stages": stages if exact else {}, "starts": dict(peaks.starts), "after": after,
        })  # fmt: skip
        if r == 1:  # the user labels round 1's queue; round 2's pool is what is left
            for entry in result.queue:
                label(entry.key)
    cache = PoolCache(proj.root, proj.frames, input_size).status()
    return {"project": proj, "rounds": out, "cache": cache}


def plain_inference(proj: Any, input_size: tuple[int, int], how: str = "pass") -> tuple[float, int]:
    """Seconds of plain batched inference over the pool, and the pool's frame count.

    Eager fp32 forward of the pool frames already at the model's input size (from the pool
    cache batch by batch, the reads untimed), batch 8, then per frame (``how``):

    - ``"pass"``: the prediction at the frame's size as the round's pass computes it
      (:func:`~alges_napari.core.acquire.upscale.upscaled_argmax`): the predictions the pass
      produces, without its scores, heat maps and overlay files;
    - ``"literal"``: the same mask computed literally (all logits resized to the frame, then
      argmax), the baseline before ``upscaled_argmax``;
    - ``"forward"``: nothing after the forward (the strictest floor).
    """
    import torch
    import torch.nn.functional as F

    from alges_napari.core.acquire.upscale import upscaled_argmax
    from alges_napari.core.learn.model import load_checkpoint, preprocess
    from alges_napari.core.project.pool_cache import PoolCache

    model, spec, _ = load_checkpoint(proj.latest_checkpoint(), device="cpu")
    model.eval()
    rows = PoolCache(proj.root, proj.frames, input_size).open()
    index = [proj.frames.index_of(k) for k in proj.unlabelled_keys()]
    size = proj.frames.shape
    spent = 0.0
    try:
        with torch.no_grad():
            for start in range(0, len(index), 8):
                # Read batch by batch, outside the clock: the pass streams its pool too, and
                # a stacked hour (3,600 frames, 310 MB) would count in the run's peak RSS.
                batch = np.stack([rows[i] for i in index[start : start + 8]])
                t0 = time.perf_counter()
                logits = model(preprocess(batch, spec))
                for one in logits:  # one frame at a time, as the pass resizes them
                    if how == "pass":
                        upscaled_argmax(one, size)
                    elif how == "literal":
                        F.interpolate(one[None], size=size, mode="bilinear").argmax(dim=1)
                spent += time.perf_counter() - t0
    finally:
        rows.close()
    return spent, len(index)


if __name__ == "__main__":
    main()
