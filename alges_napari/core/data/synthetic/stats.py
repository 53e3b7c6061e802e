"""Measure a CholecSeg8k-layout tree's class statistics and print them beside the targets.

``python -m alges_napari.core.data.synthetic.stats TREE [--per-clip] [--json OUT]`` reads every
frame's mask (``_endo_mask.png``, else ``_endo_watershed_mask.png``, else
``_endo_color_mask.png``) and reports, per class: the share of frames it appears in, its share
of all labelled pixels, and how many clips and videos hold it, beside the published CholecSeg8k
figures of :mod:`.preset`. It reads a real CholecSeg8k download the same way, so the targets
can be checked against the real set. When the tree has a ``benchmark.json`` (a benchmark
tree), the hard-frame rates and clip kinds are reported too.
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from alges_napari.core.data.classes import CHOLECSEG8K, ClassSchema
from alges_napari.core.data.masks import read_mask
from alges_napari.core.data.synthetic.preset import BENCHMARK, BenchmarkPreset
from alges_napari.core.errors import AlgesError

MASK_FILES = (("_mask.png", "auto"), ("_watershed_mask.png", "watershed"),
              ("_color_mask.png", "color"))


@dataclass
class TreeStats:
    """Class statistics of a tree; arrays are indexed by class id.

    Attributes
    ----------
    frames : int
        Frames with a mask.
    frames_with : numpy.ndarray
        Frames in which each class appears.
    pixels : numpy.ndarray
        Labelled pixels of each class (255 = ignore is left out).
    clips : dict
        Clip folder (``videoXX/videoXX_<start>``) -> (frames, frames in which each class appears).
    """

    frames: int = 0
    frames_with: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    pixels: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    clips: dict[str, tuple[int, np.ndarray]] = field(default_factory=dict)

    def clips_with(self) -> np.ndarray:
        """Clips in which each class appears in at least one frame."""
        return sum((w > 0).astype(np.int64) for _, w in self.clips.values())

    def videos_with(self) -> np.ndarray:
        """Videos (top folders) in which each class appears in at least one frame."""
        per_video: dict[str, np.ndarray] = {}
        for name, (_, w) in self.clips.items():
            video = name.split("/")[0]
            per_video[video] = per_video.get(video, 0) | (w > 0)
        return sum(v.astype(np.int64) for v in per_video.values())

    @property
    def videos(self) -> int:
        """Number of videos."""
        return len({name.split("/")[0] for name in self.clips})


def _mask_of(frame: Path, schema: ClassSchema) -> np.ndarray | None:
    stem = frame.with_suffix("").as_posix()
    for suffix, kind in MASK_FILES:
        path = Path(stem + suffix)
        if path.exists():
            return read_mask(path, schema, kind=kind)
    return None


def measure_tree(root: str | Path, schema: ClassSchema = CHOLECSEG8K) -> TreeStats:
    """Count, per class, the frames, pixels, clips and videos it appears in.

    Parameters
    ----------
    root : path-like
        A CholecSeg8k-layout tree (``videoXX/videoXX_<start>/frame_<n>_endo.png`` + masks).
    schema : ClassSchema
        The classes the masks encode.

    Returns
    -------
    TreeStats

    Raises
    ------
    AlgesError
        No frame with a mask under ``root``.
    """
    root = Path(root)
    n = schema.num_classes
    stats = TreeStats(frames_with=np.zeros(n, np.int64), pixels=np.zeros(n, np.int64))
    for frame in sorted(root.rglob("*_endo.png")):
        mask = _mask_of(frame, schema)
        if mask is None:
            continue
        counts = np.bincount(mask.ravel(), minlength=256)[:n]
        clip = frame.parent.relative_to(root).as_posix()
        seen, with_class = stats.clips.get(clip, (0, np.zeros(n, np.int64)))
        stats.clips[clip] = (seen + 1, with_class + (counts > 0))
        stats.frames += 1
        stats.frames_with += counts > 0
        stats.pixels += counts
    if stats.frames == 0:
        raise AlgesError(f"no frame with a mask under {root}")
    return stats


def _hard_frames(manifest: dict) -> dict[str, float]:
    total = len(manifest["clips"]) * manifest["frames_per_clip"]
    out = {}
    for kind in ("smoke", "blur", "closeup"):
        out[kind] = sum(len(c["hard_frames"][kind]) for c in manifest["clips"]) / total
    any_hard = sum(len(set().union(*map(set, c["hard_frames"].values())))
                   for c in manifest["clips"])
    out["any"] = any_hard / total
    return out


def format_report(stats: TreeStats, preset: BenchmarkPreset = BENCHMARK,
                  schema: ClassSchema = CHOLECSEG8K, manifest: dict | None = None,
                  per_clip: bool = False) -> str:
    """The statistics as a text table beside the published targets (see the module docstring).

    The "published clips" column is a lower bound the counts imply: a class seen in ``n`` of
    CholecSeg8k's frames fills at least ``ceil(n / 80)`` of its 101 clips of 80 frames.
    """
    n_clips, n_videos = len(stats.clips), stats.videos
    clips_with, videos_with = stats.clips_with(), stats.videos_with()
    share = stats.pixels / max(int(stats.pixels.sum()), 1)
    lines = [f"{stats.frames} frames, {n_clips} clips, {n_videos} videos",
             f"{'class':<24} {'frames %':>8} {'target':>7} {'pixels %':>9} {'target':>7} "
             f"{'clips':>9} {'published clips':>15} {'videos':>8}"]
    for c in range(schema.num_classes):
        lower = math.ceil(preset.targets[c].frames / preset.frames_per_clip)
        lines.append(
            f"{schema.names[c]:<24} {100 * stats.frames_with[c] / stats.frames:8.1f} "
            f"{100 * preset.frame_fraction(c):7.1f} {100 * share[c]:9.3f} "
            f"{100 * preset.pixel_fraction(c):7.3f} {clips_with[c]:>4}/{n_clips:<4} "
            f"{'>=' + str(lower) + '/' + str(preset.clips):>15} {videos_with[c]:>3}/{n_videos:<4}")
    if manifest:
        kinds = [c["kind"] for c in manifest["clips"]]
        lines.append("clip kinds: " + ", ".join(f"{k} {kinds.count(k)}" for k in sorted(set(kinds))))
        rates = _hard_frames(manifest)
        lines.append("hard frames: " + ", ".join(f"{k} {100 * v:.1f} %" for k, v in rates.items()))
    if per_clip:
        lines.append("per clip: tenths of its frames holding each class (# = all, . = none)")
        lines.append(f"{'clip':<24} " + " ".join(f"{c:>2}" for c in range(schema.num_classes)))
        kind_of = {c["folder"]: c["kind"] for c in (manifest or {}).get("clips", [])}
        for name, (seen, with_class) in sorted(stats.clips.items()):
            cells = ["#" if w == seen else "." if w == 0 else str(10 * w // seen)
                     for w in with_class]
            lines.append(f"{name:<24} " + " ".join(f"{x:>2}" for x in cells)
                         + f"  {kind_of.get(name, '')}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m alges_napari.core.data.synthetic.stats TREE``."""
    parser = argparse.ArgumentParser(
        prog="python -m alges_napari.core.data.synthetic.stats",
        description="Class frame and pixel frequencies of a CholecSeg8k-layout tree, beside "
        "the published CholecSeg8k figures.",
    )
    parser.add_argument("tree", type=Path)
    parser.add_argument("--per-clip", action="store_true", help="also print per-clip presence")
    parser.add_argument("--json", type=Path, help="also write the counts to this JSON file")
    args = parser.parse_args(argv)
    try:
        stats = measure_tree(args.tree)
    except AlgesError as exc:
        parser.exit(2, f"error: {exc}\n")
    path = args.tree / "benchmark.json"
    manifest = json.loads(path.read_text()) if path.exists() else None
    print(format_report(stats, manifest=manifest, per_clip=args.per_clip))
    if args.json:
        args.json.write_text(json.dumps({
            "frames": stats.frames, "frames_with": stats.frames_with.tolist(),
            "pixels": stats.pixels.tolist(), "clips_with": stats.clips_with().tolist(),
            "videos_with": stats.videos_with().tolist(), "videos": stats.videos,
            "clips": len(stats.clips)}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
