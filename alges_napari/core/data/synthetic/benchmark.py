"""Benchmark trees: videos of clips with the class statistics of CholecSeg8k.

``python -m alges_napari.core.data.synthetic --preset benchmark --videos V --clips-per-video C
--frames F --size H W --seed S --out DIR`` plans the tree (:mod:`.plan`), composes each clip's
scene (:mod:`.layout`) and renders its frames here: a camera that barely moves in 3.2 s, the
video's instruments calibrated to their planned area, a bleeding pool that grows, and hard
frames (surgical smoke, motion blur, an instrument close to the lens). Smoke and blur change
the picture only; the ground truth stays the exact class of every pixel. The tree has the
default generator's layout and files (:func:`.clips.write_frame_files`) plus ``benchmark.json``,
the plan with every clip's kind, classes and hard frames.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from collections.abc import Generator
from pathlib import Path

import numpy as np

from alges_napari.core.atomic import atomic_write_bytes
from alges_napari.core.data.classes import CHOLECSEG8K
from alges_napari.core.data.synthetic.camera import (
    add_specular,
    distance_from,
    look,
    motion_waves,
    rim_width,
)
from alges_napari.core.data.synthetic.clips import _check_index, _check_size, write_frame_files
from alges_napari.core.data.synthetic.layout import ClipCanvas
from alges_napari.core.data.synthetic.plan import BenchmarkPlan, plan_benchmark
from alges_napari.core.data.synthetic.preset import PRESETS, BenchmarkPreset
from alges_napari.core.data.synthetic.scene import (
    BACKGROUND,
    BLOOD,
    CYSTIC_DUCT,
    TISSUE,
    fractal_noise,
)
from alges_napari.core.data.synthetic.tools import GRASPER, L_HOOK, Tool, draw_tools
from alges_napari.core.errors import AlgesError
from alges_napari.core.progress import Progress, SupportsIsSet, is_stopped, run_to_end

CANVAS_SCALE = (1.5, 1.35)  # canvas / frame (H, W): room for the small in-clip camera motion
CLIP_SPACING = 1500  # frames between clip starts in a video: one minute at 25 fps
MANIFEST = "benchmark.json"


class BenchmarkClip:
    """One planned clip, rendered frame by frame.

    Parameters
    ----------
    plan : BenchmarkPlan
        The tree's plan (:func:`.plan.plan_benchmark`).
    video, clip : int
        Which clip of the plan.
    size : (int, int)
        Frame size (H, W), at least 32x32; the plan does not depend on it.
    """

    def __init__(self, plan: BenchmarkPlan, video: int, clip: int, size=(480, 854)):
        h, w = self.size = _check_size(size)
        self.spec, self.video = plan.clips[video][clip], plan.videos[video]
        self._preset, seed = plan.preset, plan.seed
        self._key = (seed, video, clip)
        rng = np.random.default_rng([seed, 6, video, clip])
        off = self.video.fov_offset
        self.centre = (h / 2 + off[0] * h, w / 2 + off[1] * w)
        radius = distance_from(self.size, self.centre)
        # The field of view leaves the video's planned share of the frame black.
        self.fov_radius = float(np.quantile(radius, 1 - self.video.background))
        self._outside = radius > self.fov_radius
        self._waves = motion_waves(rng, 4)
        self._roll = float(rng.uniform(-0.08, 0.08))
        self._canvas_shape = (int(np.ceil(CANVAS_SCALE[0] * h)), int(np.ceil(CANVAS_SCALE[1] * w)))
        canvas = ClipCanvas(self.video, self.spec, self.size, self._canvas_shape, self.camera(0),
                            (*self.centre, self.fov_radius), seed)
        self._canvas, self._blood_levels = canvas.packed, canvas.blood_levels
        # Canvas pixels per frame pixel in view: turns a planned share of the frame into a
        # count of the canvas's blood potentials.
        self._blood_scale = canvas.blood_levels.size / max(int((~self._outside).sum()), 1)
        self._light = _light_map(self.video, self.size, self.centre, self.fov_radius)
        noise_rng = np.random.default_rng([seed, 7, video])  # one sensor per video
        self._noise = noise_rng.normal(0, self.video.sensor_noise, (h + 16, w + 16, 3))
        self._noise = self._noise.astype(np.float32)
        self.tools = self._make_tools(rng)
        self._closeup_tool = int(rng.integers(max(len(self.tools), 1)))
        self._smoke = _smoke_field(rng, self.size) if self.spec.smoke else None
        self._blood_area = self._final_blood_area()

    def camera(self, i: int) -> tuple[float, float, float, float]:
        """Camera centre on the canvas (y, x), zoom and roll at frame ``i``: small and smooth."""
        f, p = self._waves[..., 0], self._waves[..., 1]
        s = np.sin(2 * np.pi * f * i + p).sum(axis=1) / 2
        (h, w), (ch, cw), pre = self.size, self._canvas_shape, self._preset
        cy = ch / 2 + pre.camera_pan * h * s[0]
        cx = cw / 2 + pre.camera_pan * w * s[1]
        zoom = self.video.zoom * np.exp(pre.camera_zoom * s[2])
        return float(cy), float(cx), float(zoom), float(self._roll + pre.camera_roll * s[3])

    def _make_tools(self, rng: np.random.Generator) -> list[Tool]:
        """The clip's instruments through the video's ports, sized to their planned areas."""
        tools = []
        for n, kind in enumerate((GRASPER, L_HOOK)):
            if kind not in self.spec.present:
                continue
            tool = Tool(kind=kind, theta=self.video.ports[n] + float(rng.uniform(-0.3, 0.3)),
                        radius=0.04 * self.size[0], phases=tuple(rng.uniform(0, 2 * np.pi, 4)),
                        freqs=tuple(rng.uniform(0.004, 0.02, 4)))
            tools.append(self._calibrate(tool, self.spec.areas[kind]))
        return tools

    def _calibrate(self, tool: Tool, share: float) -> Tool:
        """Scale the tool's radius until its mean area in view over a few frames is ``share``:
        area grows about linearly with the radius, so two rescalings are enough."""
        h, w = self.size
        frames = np.linspace(0, max(self.spec.n_frames - 1, 0), 4).astype(int)
        for _ in range(2):
            area = 0
            for i in frames:
                label = np.zeros(self.size, np.uint8)
                draw_tools(np.zeros((h, w, 3), np.float32), label, [tool], int(i), self.centre,
                           self.fov_radius)
                area += int(((label == tool.kind) & ~self._outside).sum())
            if area == 0:
                break
            scale = share * h * w * len(frames) / area
            tool = dataclasses.replace(tool, radius=float(np.clip(tool.radius * scale, 0.5,
                                                                   0.3 * h)))
        return tool

    def _growth(self, i: int) -> float:
        """Size of the bleeding pool at frame ``i`` as a share of its full size (0: none)."""
        onset = self.spec.blood_onset
        if onset is None or i < onset:
            return 0.0
        ramp = max(1.0, self._preset.blood_ramp * self.spec.n_frames)
        return min(1.0, 0.2 + 0.8 * (i - onset + 1) / ramp)

    def _final_blood_area(self) -> float:
        """Full pool size such that its mean over the bleeding frames is the planned area."""
        if self.spec.blood_onset is None:
            return 0.0
        grown = [self._growth(i) for i in range(self.spec.blood_onset, self.spec.n_frames)]
        mean = float(np.mean(grown)) if grown else 1.0
        return min(self.spec.areas[BLOOD] / mean, self._preset.targets[BLOOD].area_max / 100)

    def _pool(self, i: int, potential: np.ndarray) -> np.ndarray | None:
        """The bleeding pool of frame ``i``: where the potential reaches the level that floods
        the planned area at the first frame's view."""
        share = self._blood_area * self._growth(i)
        count = int(round(share * self.size[0] * self.size[1] * self._blood_scale))
        if count < 1 or self._blood_levels.size == 0:
            return None
        level = max(int(self._blood_levels[min(count, self._blood_levels.size) - 1]), 1)
        return potential >= level

    def _keep_duct(self, pool: np.ndarray, label: np.ndarray) -> np.ndarray:
        """The duct is a raised tube the surgeon has just exposed: blood pools around it."""
        return pool & (label != CYSTIC_DUCT)

    def frame(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """Render frame ``i``: (RGB uint8 (H, W, 3), index mask uint8 (H, W))."""
        h, w = self.size
        view = look(self._canvas, self._canvas_shape, self.size, self.camera(i))
        px = view.pixels
        label, image, gloss = px[..., 3].copy(), px[..., :3].astype(np.float32), px[..., 6].copy()
        pool = self._pool(i, px[..., 7])
        if pool is not None:
            pool = self._keep_duct(pool, label)
            lum = image[pool].mean(axis=1, keepdims=True) / 120
            image[pool] = np.array(TISSUE[BLOOD][0], np.float32) * (0.5 + 0.5 * lum)
            label[pool], gloss[pool] = BLOOD, 255  # fresh blood is wet
        add_specular(image, gloss, view)
        draw_tools(image, label, self._tools_at(i), i, self.centre, self.fov_radius)
        if self.spec.smoke and self.spec.smoke[0] <= i < self.spec.smoke[1]:
            image = self._haze(image, i)
        image *= self._light
        frame_rng = np.random.default_rng([*self._key, 8, i])
        if i in self.spec.blur:
            image = _motion_blur(image, frame_rng.uniform(0, np.pi), max(2, round(0.03 * w)))
        oy, ox = frame_rng.integers(0, 16, 2)
        image += self._noise[oy : oy + h, ox : ox + w]
        label[self._outside] = BACKGROUND
        return np.clip(image, 0, 255).astype(np.uint8), label

    def _tools_at(self, i: int) -> list[Tool]:
        """The instruments of frame ``i``; in a close-up one of them is near the lens."""
        window = self.spec.closeup
        if not self.tools or window is None or not window[0] <= i < window[1]:
            return self.tools
        tools = list(self.tools)
        near = tools[self._closeup_tool]
        tools[self._closeup_tool] = dataclasses.replace(
            near, radius=near.radius * self._preset.closeup_scale)
        return tools

    def _haze(self, image: np.ndarray, i: int) -> np.ndarray:
        """Surgical smoke: a drifting grey-white veil that rises and clears over its window."""
        start, stop = self.spec.smoke
        envelope = np.sin(np.pi * (i - start + 0.5) / (stop - start))
        drift = np.roll(self._smoke[1], i // 2, axis=1)
        alpha = (self._smoke[0] * envelope * np.clip(0.55 + 0.45 * drift, 0, 1))[..., None]
        return image * (1 - alpha) + alpha * np.array([212, 206, 200], np.float32)


def _smoke_field(rng: np.random.Generator, size) -> tuple[float, np.ndarray]:
    """Peak opacity of a clip's smoke and its (frame-sized) density pattern."""
    return float(rng.uniform(0.45, 0.75)), fractal_noise(rng, size, size[0] / 3, 2)


def _motion_blur(image: np.ndarray, angle: float, length: int) -> np.ndarray:
    """Average of ``length`` copies shifted along ``angle``: a camera jerk during exposure."""
    h, w = image.shape[:2]
    padded = np.pad(image, ((length, length), (length, length), (0, 0)), mode="edge")
    out = np.zeros_like(image)
    for k in range(length):
        t = k - (length - 1) / 2
        oy, ox = int(round(t * np.sin(angle))), int(round(t * np.cos(angle)))
        out += padded[length + oy : length + oy + h, length + ox : length + ox + w]
    return out / length


def _light_map(video, size, centre, fov_radius) -> np.ndarray:
    """The video's lighting (colour temperature, brightness, fall-off) and the lens rim."""
    gains = np.array([1 + 0.12 * video.warmth, 1 + video.green, 1 - 0.14 * video.warmth])
    r = distance_from(size, centre) / fov_radius
    rim = np.clip((1 - r) * fov_radius / rim_width(size[1]), 0, 1)
    return (((1 - video.falloff * r * r) * rim)[..., None] * gains * video.brightness).astype(
        np.float32)


def benchmark_clip_dir(video: int, clip: int) -> tuple[str, int]:
    """Folder of clip ``clip`` of video ``video`` (both from 0), e.g. ``video01/video01_01580``,
    and its first frame number; clips of a video start a minute apart, as if cut from one
    operation."""
    name = f"video{video + 1:02d}"
    start = 80 + CLIP_SPACING * clip
    return f"{name}/{name}_{start:05d}", start


def manifest(plan: BenchmarkPlan, size) -> dict:
    """The plan as JSON-ready data: tree shape, videos, and per clip its folder, kind,
    planned classes and areas, bleeding onset and hard frames."""
    names = CHOLECSEG8K.names
    clips = []
    for spec in plan.all_clips():
        folder, start = benchmark_clip_dir(spec.video, spec.index)
        clips.append({
            "folder": folder, "first_frame": start, "video": spec.video, "clip": spec.index,
            "kind": spec.kind,
            "areas": {names[c]: round(a, 6) for c, a in spec.areas.items()},
            "blood_onset": spec.blood_onset, "hard_frames": spec.hard_frames(),
        })
    return {
        "preset": plan.preset.name, "seed": plan.seed, "size": list(size),
        "videos": [dataclasses.asdict(v) for v in plan.videos],
        "frames_per_clip": plan.clips[0][0].n_frames, "clips": clips,
    }


def iter_write_benchmark_tree(
    root: str | Path,
    n_videos: int = 10,
    clips_per_video: int = 3,
    frames_per_clip: int = 40,
    size: tuple[int, int] = (480, 854),
    seed: int = 0,
    stop: SupportsIsSet | None = None,
    preset: BenchmarkPreset = PRESETS["benchmark"],
) -> Generator[Progress, None, Path]:
    """Write a benchmark tree (CholecSeg8k layout and files), yielding progress; returns ``root``.

    Parameters
    ----------
    root : path-like
        Folder to write into (created if missing).
    n_videos, clips_per_video, frames_per_clip : int
        Tree shape: at most 99 videos, 60 clips per video and 1,500 frames per clip.
    size : (int, int)
        Frame size (H, W), at least 32x32.
    seed : int
        Seed; the same arguments write byte-identical files.
    stop : object with ``is_set()``, optional
        Checked before each frame; when set, writing stops and ``root`` is returned.
    preset : BenchmarkPreset
        Targets and assumptions.
    """
    size = _check_size(size)
    shape = [_check_index(n, v) for n, v in (("n_videos", n_videos),
             ("clips_per_video", clips_per_video), ("frames_per_clip", frames_per_clip))]
    if not (1 <= shape[0] <= 99 and 1 <= shape[1] <= 60 and 1 <= shape[2] <= CLIP_SPACING):
        raise AlgesError(f"need 1-99 videos, 1-60 clips per video, 1-{CLIP_SPACING} frames per "
                         f"clip; got {shape[0]}, {shape[1]}, {shape[2]}")
    plan = plan_benchmark(*shape, seed=_check_index("seed", seed), preset=preset)
    root = Path(root)
    try:
        root.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(root / MANIFEST, json.dumps(manifest(plan, size), indent=1).encode())
    except OSError as exc:
        raise AlgesError(f"cannot write to {root}: {exc.strerror or exc}") from exc
    total, done = shape[0] * shape[1] * shape[2], 0
    for spec in plan.all_clips():
        folder, start = benchmark_clip_dir(spec.video, spec.index)
        (root / folder).mkdir(parents=True, exist_ok=True)
        clip = BenchmarkClip(plan, spec.video, spec.index, size)
        for i in range(spec.n_frames):
            if is_stopped(stop):
                return root
            write_frame_files(root / folder / f"frame_{start + i}_endo", *clip.frame(i))
            done += 1
            yield Progress("synthesise", done, total, detail=folder)
    return root


def main(argv: list[str] | None = None, preset_name: str = "benchmark") -> int:
    """Command line of a preset: ``... --preset benchmark --videos V --clips-per-video C ...``."""
    preset = PRESETS[preset_name]
    parser = argparse.ArgumentParser(
        prog=f"python -m alges_napari.core.data.synthetic --preset {preset_name}",
        description="Write a benchmark tree: videos of clips with CholecSeg8k's class "
        "frequencies, rare structures in few clips and videos, and hard frames "
        "(docs/benchmark_data.md).",
    )
    parser.add_argument("--out", required=True, type=Path, help="output folder")
    parser.add_argument("--videos", type=int, default=preset.videos)
    parser.add_argument("--clips-per-video", type=int, default=round(preset.clips / preset.videos))
    parser.add_argument("--frames", type=int, default=preset.frames_per_clip,
                        help="frames per clip")
    parser.add_argument("--size", type=int, nargs=2, default=preset.size, metavar=("H", "W"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    gen = iter_write_benchmark_tree(args.out, args.videos, args.clips_per_video, args.frames,
                                    tuple(args.size), args.seed, preset=preset)
    try:
        root = run_to_end(gen)
    except AlgesError as exc:
        parser.exit(2, f"error: {exc}\n")
    print(f"wrote {args.videos} videos x {args.clips_per_video} clips x {args.frames} frames of "
          f"{args.size[0]}x{args.size[1]} ({preset.name} preset, seed {args.seed}) to {root}")
    return 0
