"""Benchmark lazy frame access: open time, random fetch time, extra memory.

Writes (once; reused on later runs) a folder of JPEG frames of 854x480 (CholecSeg8k's size)
and a short H.264 video, then prints:

- time to open the folder (header + end-marker probe of every file, natural sort),
- median time to fetch a random frame (>= 50 fetches),
- extra resident memory (VmRSS) after opening and fetching,
- median time of a random-access video fetch (exact seek + decode).

Targets: open < 2 s, fetch < 50 ms median, extra memory < 300 MB. The page cache is warm
(the files were just written or read), which is the usual case in an annotation session.

Usage: ``python benchmarks/bench_frames.py [--dir DIR] [--frames 2000] [--fetches 100]``
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench_recording, beside this file
from bench_recording import rss_mb  # noqa: E402

H, W = 480, 854


def _frame(i: int, noise: np.ndarray) -> np.ndarray:
    """A cheap, distinct frame: moving gradients plus a rolled noise texture."""
    yy, xx = np.mgrid[0:H, 0:W]
    img = np.empty((H, W, 3), np.uint8)
    img[..., 0] = (xx + 3 * i) % 256
    img[..., 1] = (yy + 5 * i) % 256
    img[..., 2] = np.roll(noise, (7 * i) % H, axis=0)
    return img


def make_folder(root: Path, n: int) -> float:
    """Write ``n`` JPEG frames into ``root`` unless they are there already; return seconds."""
    from PIL import Image

    root.mkdir(parents=True, exist_ok=True)
    if len(list(root.glob("frame_*.jpg"))) == n:
        return 0.0
    started = time.perf_counter()
    noise = np.random.default_rng(0).integers(0, 256, (H, W), dtype=np.uint8)
    for i in range(n):
        Image.fromarray(_frame(i, noise)).save(root / f"frame_{i}.jpg", quality=85)
    return time.perf_counter() - started


def make_video(path: Path, n: int = 250, gop: int = 25) -> None:
    """Write an H.264 mp4 of ``n`` frames with a keyframe every ``gop`` frames (cached)."""
    import av

    if path.exists():
        return
    noise = np.random.default_rng(1).integers(0, 256, (H, W), dtype=np.uint8)
    tmp = path.with_suffix(".part.mp4")
    with av.open(str(tmp), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt, stream.gop_size = W, H, "yuv420p", gop
        for i in range(n):
            frame = av.VideoFrame.from_ndarray(_frame(i, noise), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    tmp.rename(path)


def time_fetches(source, n_fetches: int, seed: int = 0) -> list[float]:
    """Fetch ``n_fetches`` random frames; return the seconds each took."""
    rng = np.random.default_rng(seed)
    times = []
    for i in rng.integers(0, len(source), n_fetches):
        started = time.perf_counter()
        frame = source[int(i)]
        times.append(time.perf_counter() - started)
        assert frame.shape == (H, W, 3)
    return times


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "alges_bench")
    parser.add_argument("--frames", type=int, default=2000)
    parser.add_argument("--fetches", type=int, default=100)
    args = parser.parse_args(argv)

    from alges_napari.core.data.frames import open_frames

    folder = args.dir / f"jpg_{W}x{H}_{args.frames}"
    written = make_folder(folder, args.frames)
    if written:
        print(f"wrote {args.frames} frames in {written:.1f} s to {folder}")
    base = rss_mb()
    started = time.perf_counter()
    source = open_frames(folder)
    opened = time.perf_counter() - started
    times = time_fetches(source, args.fetches)
    extra = rss_mb() - base
    print(f"folder: {len(source)} frames of {W}x{H} JPEG")
    print(f"  open:                 {opened:.3f} s   (target < 2 s)")
    print(f"  random fetch median:  {1000 * statistics.median(times):.1f} ms "
          f"(p90 {1000 * np.percentile(times, 90):.1f} ms, n={len(times)})   (target < 50 ms)")  # fmt: skip
    print(f"  extra memory:         {extra:.1f} MB   (target < 300 MB)")

    video = args.dir / f"clip_{W}x{H}_gop25.mp4"
    make_video(video)
    started = time.perf_counter()
    clip = open_frames(video)
    opened = time.perf_counter() - started
    clip._cache.size = 0  # measure real seeks, not cache hits
    vtimes = time_fetches(clip, 50, seed=1)
    seq = []
    for i in range(50):
        t0 = time.perf_counter()
        clip[i]
        seq.append(time.perf_counter() - t0)
    print(f"video: {len(clip)} frames of {W}x{H} H.264, keyframe every 25")
    print(f"  open (packet index):  {opened:.3f} s")
    print(f"  random fetch median:  {1000 * statistics.median(vtimes):.1f} ms "
          f"(p90 {1000 * np.percentile(vtimes, 90):.1f} ms, n={len(vtimes)})")  # fmt: skip
    print(f"  sequential fetch median: {1000 * statistics.median(seq[1:]):.1f} ms")


if __name__ == "__main__":
    main()
