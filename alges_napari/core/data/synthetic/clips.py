"""Procedural laparoscopic clips with exact ground truth (sample data, tests, benchmarks).

No real surgical video can be shipped or downloaded here, so this module paints look-alikes of
CholecSeg8k frames: a circular endoscope field of view on black, liver, gallbladder, fat,
abdominal wall, gastrointestinal tract, connective tissue and ligament with procedural textures
and 3-D shading, wet specular highlights, a metallic grasper and an L-hook entering from the
border, rare blood, cystic duct and hepatic vein, smooth camera motion within a clip and
different lighting per clip. Every pixel's class is known exactly because the picture is drawn
from the label map, never the other way round.

A clip is a large scene canvas built once (labels, shaded colours, surface slopes, gloss packed
into 8 bytes per pixel); each frame is one gather through the camera transform plus a few cheap
per-pixel passes (specular, instruments, light, sensor noise), so a 480x854 frame costs tens of
milliseconds. Pure numpy; everything follows from ``(seed, clip_index)``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Generator, Iterator
from pathlib import Path

import numpy as np

from alges_napari.core.atomic import atomic_write_bytes
from alges_napari.core.data.classes import CHOLECSEG8K, IGNORE_INDEX
from alges_napari.core.data.masks import encode_png, write_color_png, write_watershed_png
from alges_napari.core.data.synthetic.camera import (
    add_specular,
    distance_from,
    look,
    motion_waves,
    rim_width,
)
from alges_napari.core.data.synthetic.scene import BACKGROUND, BLOOD, TISSUE, build_scene
from alges_napari.core.data.synthetic.tools import draw_tools, make_tools
from alges_napari.core.errors import AlgesError
from alges_napari.core.progress import Progress, SupportsIsSet, is_stopped, run_to_end

CANVAS_SCALE = (1.8, 1.6)  # scene canvas / frame size (H, W): room to pan, zoom and roll


class SyntheticClip:
    """One procedural clip: a scene, a camera path, instruments and lighting.

    Parameters
    ----------
    clip_index : int
        Which clip of the seeded family; clips differ in layout, lighting and instruments.
    size : (int, int)
        Frame size (H, W); the scene scales with it, so small frames look like large ones.
    seed : int
        Seed of the whole family; ``(seed, clip_index)`` fixes every pixel.
    """

    def __init__(self, clip_index: int, size: tuple[int, int] = (480, 854), seed: int = 0):
        h, w = _check_size(size)
        clip_index, seed = _check_index("clip_index", clip_index), _check_index("seed", seed)
        self.size = (h, w)
        # Decisions and texture lattices come from separate streams: the lattices' sizes follow
        # the frame size, the decisions must not, so a clip is the same scene at any size.
        rng = np.random.default_rng([seed, clip_index, 0])
        noise = np.random.default_rng([seed, clip_index, 1])
        ch, cw = int(np.ceil(CANVAS_SCALE[0] * h)), int(np.ceil(CANVAS_SCALE[1] * w))
        self._canvas, self._blood = build_scene(rng, noise, (ch, cw))
        self._canvas_shape = (ch, cw)
        self._camera_waves = motion_waves(rng, 4)
        self._camera_base = (rng.uniform(0.95, 1.15), rng.uniform(-0.08, 0.08))
        self.centre = (h / 2 + rng.uniform(-0.02, 0.02) * h, w / 2 + rng.uniform(-0.02, 0.02) * w)
        self.fov_radius = w * rng.uniform(0.41, 0.47)
        self.tools = make_tools(rng, h)
        self._light = _light_map(rng, self.size, self.centre, self.fov_radius)
        self._outside = distance_from(self.size, self.centre) > self.fov_radius - 0.5 * rim_width(w)
        self._noise = noise.normal(0, rng.uniform(0.8, 2.0), (h + 16, w + 16, 3)).astype(np.float32)
        self._seed = (seed, clip_index)

    def camera(self, i: int) -> tuple[float, float, float, float]:
        """Camera centre on the canvas (y, x), zoom and roll at frame ``i``."""
        (f, p) = self._camera_waves[..., 0], self._camera_waves[..., 1]
        s = np.sin(2 * np.pi * f * i + p).sum(axis=1) / 2  # four smooth channels in [-1, 1]
        zoom = self._camera_base[0] * np.exp(0.12 * s[2])
        roll = self._camera_base[1] + 0.06 * s[3]
        (h, w), (ch, cw) = self.size, self._canvas_shape
        # Room left for panning at the widest footprint the zoom and roll ranges allow.
        zmin, rmax = self._camera_base[0] * np.exp(-0.12), abs(self._camera_base[1]) + 0.06
        half_x = (w / 2 * np.cos(rmax) + h / 2 * np.sin(rmax)) / zmin
        half_y = (w / 2 * np.sin(rmax) + h / 2 * np.cos(rmax)) / zmin
        cy = ch / 2 + 0.95 * (ch / 2 - half_y - 2) * s[1]
        cx = cw / 2 + 0.95 * (cw / 2 - half_x - 2) * s[0]
        return float(cy), float(cx), float(zoom), float(roll)

    def frame(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """Render frame ``i``: (RGB uint8 (H, W, 3), index mask uint8 (H, W))."""
        h, w = self.size
        view = look(self._canvas, self._canvas_shape, self.size, self.camera(i))
        label = view.pixels[..., 3].copy()
        image = view.pixels[..., :3].astype(np.float32)
        gloss = view.pixels[..., 6].copy()
        if self._blood is not None:
            gloss[_apply_blood(*self._blood, i, view.pixels[..., 7], image, label)] = 255  # wet
        add_specular(image, gloss, view)
        draw_tools(image, label, self.tools, i, self.centre, self.fov_radius)
        image *= self._light
        oy, ox = np.random.default_rng([*self._seed, 2, i]).integers(0, 16, 2)
        image += self._noise[oy : oy + h, ox : ox + w]
        label[self._outside] = BACKGROUND
        return np.clip(image, 0, 255).astype(np.uint8), label


def _check_size(size) -> tuple[int, int]:
    try:
        h, w = (int(v) for v in size)
    except (TypeError, ValueError) as exc:
        raise AlgesError(f"size must be (height, width), got {size!r}") from exc
    if h < 32 or w < 32:
        raise AlgesError(f"size must be at least 32x32 pixels, got {h}x{w}")
    return h, w


def _check_index(name: str, value) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError) as exc:
        raise AlgesError(f"{name} must be an integer >= 0, got {value!r}") from exc
    if number < 0 or number != value:
        raise AlgesError(f"{name} must be an integer >= 0, got {value!r}")
    return number


def _light_map(rng, size, centre, fov_radius) -> np.ndarray:
    """Per-clip lighting: colour temperature, brightness, fall-off and the circular lens rim."""
    warmth = rng.uniform(-1, 1)
    gains = np.array([1 + 0.12 * warmth, 1 + rng.uniform(-0.04, 0.04), 1 - 0.14 * warmth])
    gains *= rng.uniform(0.7, 1.15)
    r = distance_from(size, centre) / fov_radius
    falloff = 1 - rng.uniform(0.3, 0.6) * r * r
    rim = np.clip((fov_radius - r * fov_radius) / rim_width(size[1]), 0, 1)
    return ((falloff * rim)[..., None] * gains).astype(np.float32)


def _apply_blood(start: int, stop: int, i: int, field, image, label) -> np.ndarray:
    """Inside the clip's bleeding window, the pool grows as the threshold on its field falls;
    returns the pool's pixels."""
    if not start <= i < stop:
        return np.zeros(label.shape, bool)
    grown = (i - start + 1) / (stop - start)
    pool = field > 235 - 135 * grown
    lum = image[pool].mean(axis=1, keepdims=True) / 120
    image[pool] = np.array(TISSUE[BLOOD][0], np.float32) * (0.5 + 0.5 * lum)
    label[pool] = BLOOD
    return pool


def generate_clip(
    clip_index: int, n_frames: int, size: tuple[int, int] = (480, 854), seed: int = 0
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield the frames of one synthetic clip with their exact ground truth.

    Parameters
    ----------
    clip_index : int
        Which clip of the seeded family (>= 0).
    n_frames : int
        How many consecutive frames to yield; frame ``i`` does not depend on ``n_frames``.
    size : (int, int)
        Frame size (H, W), at least 32x32.
    seed : int
        Seed of the family (>= 0); the same arguments give identical arrays.

    Yields
    ------
    frame : numpy.ndarray
        uint8 (H, W, 3) RGB.
    mask : numpy.ndarray
        uint8 (H, W) CholecSeg8k class indices (0..12).
    """
    n_frames = _check_index("n_frames", n_frames)
    clip = SyntheticClip(clip_index, size, seed)
    for i in range(n_frames):
        yield clip.frame(i)


def clip_dir_name(clip_index: int) -> tuple[str, int]:
    """CholecSeg8k folder of a synthetic clip, e.g. ``video01/video01_00080``, and its first
    frame number; as in the real set, frame numbers count from the start of the video."""
    video = f"video{clip_index + 1:02d}"
    start = 80 * (clip_index + 1)
    return f"{video}/{video}_{start:05d}", start


def boundary_pixels(mask: np.ndarray) -> np.ndarray:
    """Pixels whose right or lower neighbour has another class: the one-pixel lines the real
    watershed masks carry as 255 between regions."""
    edge = np.zeros(mask.shape, bool)
    edge[:, :-1] |= mask[:, :-1] != mask[:, 1:]
    edge[:-1, :] |= mask[:-1, :] != mask[1:, :]
    return edge


def write_frame_files(stem: str | Path, frame: np.ndarray, mask: np.ndarray) -> None:
    """Write one frame and its three CholecSeg8k masks beside ``stem`` (``.../frame_<n>_endo``):
    ``.png`` (RGB), ``_mask.png`` (watershed values), ``_color_mask.png`` (class colours) and
    ``_watershed_mask.png`` (watershed values, 255 on region boundaries), each atomically."""
    lined = mask.copy()
    lined[boundary_pixels(mask)] = IGNORE_INDEX  # written as 255, as in the real set
    atomic_write_bytes(f"{stem}.png", encode_png(frame))
    write_watershed_png(f"{stem}_mask.png", mask, CHOLECSEG8K, channels=3)
    write_color_png(f"{stem}_color_mask.png", mask, CHOLECSEG8K)
    write_watershed_png(f"{stem}_watershed_mask.png", lined, CHOLECSEG8K, channels=3)


def iter_write_cholecseg8k_tree(
    root: str | Path,
    n_clips: int = 3,
    frames_per_clip: int = 40,
    size: tuple[int, int] = (480, 854),
    seed: int = 0,
    stop: SupportsIsSet | None = None,
) -> Generator[Progress, None, Path]:
    """Write synthetic clips as a CholecSeg8k tree, yielding progress; returns ``root``.

    Each frame ``n`` of clip folder ``videoXX/videoXX_<start>`` gets ``frame_<n>_endo.png``
    (RGB), ``frame_<n>_endo_mask.png`` (watershed values, three channels),
    ``frame_<n>_endo_color_mask.png`` (class colours) and ``frame_<n>_endo_watershed_mask.png``
    (watershed values with 255 on region boundaries), following docs/method.md, "Data facts". Files
    are written atomically, so a stopped run leaves only whole frames behind.

    Parameters
    ----------
    root : path-like
        Folder to write into (created if missing).
    n_clips, frames_per_clip : int
        How many clips, and frames per clip (both >= 1).
    size : (int, int)
        Frame size (H, W).
    seed : int
        Seed of the family; the same arguments write byte-identical files.
    stop : object with ``is_set()``, optional
        Checked before writing each frame; when set, writing stops and ``root`` is returned.
    """
    n_clips = _check_index("n_clips", n_clips)
    frames_per_clip = _check_index("frames_per_clip", frames_per_clip)
    if n_clips < 1 or frames_per_clip < 1:
        raise AlgesError(
            f"n_clips and frames_per_clip must be >= 1, got {n_clips}, {frames_per_clip}"
        )
    root = Path(root)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise AlgesError(f"cannot create {root}: {exc.strerror or exc}") from exc
    total = n_clips * frames_per_clip
    done = 0
    for c in range(n_clips):
        folder, start = clip_dir_name(c)
        (root / folder).mkdir(parents=True, exist_ok=True)
        for i, (frame, mask) in enumerate(generate_clip(c, frames_per_clip, size, seed)):
            if is_stopped(stop):
                return root
            write_frame_files(root / folder / f"frame_{start + i}_endo", frame, mask)
            done += 1
            yield Progress("synthesise", done, total, detail=f"clip {c}")
    return root


def write_cholecseg8k_tree(
    root: str | Path,
    n_clips: int = 3,
    frames_per_clip: int = 40,
    size: tuple[int, int] = (480, 854),
    seed: int = 0,
    on_progress: Callable[[Progress], None] | None = None,
    stop: SupportsIsSet | None = None,
) -> Path:
    """Write synthetic clips as a CholecSeg8k tree; see :func:`iter_write_cholecseg8k_tree`.

    Returns
    -------
    Path
        ``root``.
    """
    gen = iter_write_cholecseg8k_tree(root, n_clips, frames_per_clip, size, seed, stop)
    return run_to_end(gen, on_progress)


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m alges_napari.core.data.synthetic --out DIR ...``."""
    parser = argparse.ArgumentParser(
        prog="python -m alges_napari.core.data.synthetic",
        description="Write synthetic laparoscopic clips as a CholecSeg8k tree.",
        epilog="With --preset benchmark, writes videos of clips with CholecSeg8k's class "
        "statistics instead (see --preset benchmark --help).",
    )
    parser.add_argument("--out", required=True, type=Path, help="output folder")
    parser.add_argument("--clips", type=int, default=3, help="number of clips")
    parser.add_argument("--frames", type=int, default=40, help="frames per clip")
    parser.add_argument("--size", type=int, nargs=2, default=(480, 854), metavar=("H", "W"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        root = write_cholecseg8k_tree(
            args.out, args.clips, args.frames, tuple(args.size), args.seed
        )
    except AlgesError as exc:
        parser.exit(2, f"error: {exc}\n")
    print(f"wrote {args.clips} x {args.frames} frames of {args.size[0]}x{args.size[1]} to {root}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
