"""The scene canvas of a benchmark clip, composed so each class covers its planned area.

A benchmark clip shows a planned composition (:class:`~.plan.ClipSpec.areas`): which classes,
and what share of the frame each covers. The canvas is laid out in the coordinates of the
clip's first frame, so areas can be met exactly where the camera starts (and closely for the
rest of a 3.2 s clip, whose camera barely moves):

- every class region is a sublevel set of a smooth field (distance to a gallbladder axis, to
  the gallbladder neck, to a ligament line, ...), and the level is the quantile of that field
  over the pixels in view that gives the planned pixel count;
- organs are bands across the view (abdominal wall, liver, fat, gastrointestinal tract, top
  to bottom in the video's orientation) whose boundaries are quantiles of the same kind;
- orientation, warps, textures and tissue tints come from the video's streams, so every clip
  of a video shows the same anatomy, lit the same way; only the composition changes, as when
  the camera looks at another part of the same abdomen.

Shading and packing reuse :mod:`.scene`, so benchmark frames look like the default clips.
"""

from __future__ import annotations

import numpy as np

from alges_napari.core.data.synthetic.plan import ClipSpec, VideoSpec
from alges_napari.core.data.synthetic.scene import (
    BLOOD,
    CONNECTIVE,
    CYSTIC_DUCT,
    FAT,
    GALLBLADDER,
    GI_TRACT,
    HEPATIC_VEIN,
    LIGAMENT,
    LIVER,
    WALL,
    _albedo,
    _pack,
    _segment_dist,
    _shade,
    fractal_noise,
)

BANDS = (WALL, LIVER, FAT, GI_TRACT)  # top to bottom in the video's orientation


def _lowest(field: np.ndarray, candidates: np.ndarray, count: int) -> np.ndarray:
    """Pixels whose ``field`` is at most the ``count``-th smallest value among ``candidates``.

    The level comes from the candidates (pixels in view that may take the class), so about
    ``count`` of them are chosen; the returned mask holds every pixel under that level,
    in view or not, so the region continues smoothly past the frame's edge.
    """
    values = field[candidates]
    if count <= 0 or values.size == 0:
        return np.zeros(field.shape, bool)
    level = np.partition(values, min(count, values.size) - 1)[min(count, values.size) - 1]
    return field <= level


class ClipCanvas:
    """The packed scene canvas of one benchmark clip and the maps its frames need.

    Parameters
    ----------
    video, clip : VideoSpec, ClipSpec
        The plan of the clip's video and of the clip.
    size : (int, int)
        Frame size (H, W).
    canvas_shape : (int, int)
        Canvas size; larger than the frame so the camera can move.
    camera0 : (float, float, float, float)
        Camera centre on the canvas (y, x), zoom and roll at the clip's first frame.
    fov : (float, float, float)
        Field of view of the frames: centre (y, x) and radius, in frame pixels.
    seed : int
        Seed of the tree.

    Attributes
    ----------
    packed : numpy.ndarray
        uint64 per canvas pixel (see :func:`.scene._pack`); its eighth byte is the clip's blood
        potential (0 where it never bleeds).
    blood_levels : numpy.ndarray
        The blood potential of the pixels in view at the first frame, sorted high to low: the
        level that floods ``k`` of them is ``blood_levels[k - 1]``.
    label : numpy.ndarray
        uint8 canvas label map (before instruments and blood), kept for inspection.
    """

    def __init__(self, video: VideoSpec, clip: ClipSpec, size, canvas_shape, camera0, fov, seed):
        self._video, self._clip = video, clip
        # Anatomy, warps and textures come from the video's streams: identical in its clips.
        noise = np.random.default_rng([seed, 4, video.index])
        tints = np.random.default_rng([seed, 3, video.index])
        own = np.random.default_rng([seed, 5, video.index, clip.index])
        self._coords(size, canvas_shape, camera0, fov, noise)
        label = self._compose(own)
        rgb, bump = _albedo(tints, noise, label)
        shaded, gx, gy, gloss = _shade(label, rgb, bump, noise)
        potential = self._blood_potential(own, noise_shape=canvas_shape)
        self.packed = _pack(label, shaded, gx, gy, gloss, potential)
        self.blood_levels = np.sort(potential[self._view])[::-1]
        self.label = label

    def _coords(self, size, canvas_shape, camera0, fov, noise) -> None:
        """Anatomy coordinates (u across, v down the organ bands) of every canvas pixel, in
        frame heights from the field-of-view centre at the first frame, and the view mask."""
        (h, w), (ch, cw) = size, canvas_shape
        cy, cx, zoom, roll = camera0
        dy = np.arange(ch, dtype=np.float32)[:, None] + 0.5 - cy
        dx = np.arange(cw, dtype=np.float32)[None, :] + 0.5 - cx
        c, s = np.cos(roll), np.sin(roll)
        xs, ys = zoom * (c * dx + s * dy), zoom * (-s * dx + c * dy)  # inverse of frame()
        a, b = (xs + w / 2 - fov[1]) / h, (ys + h / 2 - fov[0]) / h
        self._view = (np.hypot(a, b) * h < fov[2]) & (np.abs(xs) < w / 2) & (np.abs(ys) < h / 2)
        ang = self._video.angle
        u = a * np.cos(ang) - b * np.sin(ang)
        v = a * np.sin(ang) + b * np.cos(ang)
        if self._video.mirror:
            u = -u
        warp = 0.03 * fractal_noise(noise, canvas_shape, ch / 2.5, 3)
        self._u, self._v = u + warp, v - warp
        self._edge = self._v + 0.035 * fractal_noise(noise, canvas_shape, ch / 6, 3)
        self._lobes = fractal_noise(noise, canvas_shape, ch / 14, 2)
        self._n_view = int(self._view.sum())
        fy = np.arange(h, dtype=np.float32)[:, None] + 0.5 - fov[0]
        fx = np.arange(w, dtype=np.float32)[None, :] + 0.5 - fov[1]
        self._view_share = float(np.mean(np.hypot(fy, fx) < fov[2]))  # of the frame's pixels

    def _count(self, cls: int) -> int:
        """Canvas pixels in view that class ``cls`` should cover at the first frame."""
        share = self._clip.areas.get(cls, 0.0) / max(self._view_share, 1e-6)
        return int(round(share * self._n_view))

    def _wobble(self, depth: float) -> np.ndarray:
        """Lobed outlines: a distance scaled by 1 +- ``depth`` x noise, clamped so that no
        far pixel can fall under a region's level (no stray specks)."""
        return np.clip(1 + depth * self._lobes, 1 - 2 * depth, 1 + 2 * depth)

    def _pool_overlap(self) -> int:
        """Pixels in view the bleeding pool covers on a mean frame of the clip: the pool grows
        on the connective tissue, so that much more tissue keeps its planned visible area."""
        clip = self._clip
        if clip.blood_onset is None:
            return 0
        bleeding = (clip.n_frames - clip.blood_onset) / clip.n_frames
        return int(round(clip.areas[BLOOD] * bleeding / max(self._view_share, 1e-6) * self._n_view))

    def _band_split(self) -> tuple[float, float]:
        """Share of the bands' area above the liver's lower edge, and above the wall's."""
        area = {b: self._clip.areas.get(b, 0.0) for b in BANDS}
        total = sum(area.values()) or 1.0
        return (area[WALL] + area[LIVER]) / total, area[WALL] / total

    def _compose(self, own: np.random.Generator) -> np.ndarray:
        """The clip's label map: blobs first (exact areas), then bands fill the rest."""
        u, v, view, present = self._u, self._v, self._view, self._clip.present
        label = np.zeros(u.shape, np.uint8)
        free = np.ones(u.shape, bool)
        liver_edge = float(np.quantile(self._edge[view], self._band_split()[0]))
        vid = self._video
        self._neck = (vid.gallbladder_u, liver_edge)
        self._axis = (float(np.cos(vid.gallbladder_tilt)), float(np.sin(vid.gallbladder_tilt)))
        if GALLBLADDER in present:
            p = (u - self._neck[0]) * self._axis[0] + (v - liver_edge) * self._axis[1]
            q = -(u - self._neck[0]) * self._axis[1] + (v - liver_edge) * self._axis[0]
            # A pear: wider towards the fundus (p > 0), narrow at the neck (p < 0).
            field = np.hypot(p, q / (0.55 + 0.15 * np.tanh(3 * p))) * self._wobble(0.1)
            gb = _lowest(field, view, self._count(GALLBLADDER))
            label[gb], free[gb] = GALLBLADDER, False
            reach = float(field[gb].max()) if gb.any() else 0.0
            self._neck = (self._neck[0] - reach * self._axis[0], liver_edge - reach * self._axis[1])
        if CONNECTIVE in present:  # loose tissue around the gallbladder neck, being dissected
            field = np.hypot(u - self._neck[0], v - self._neck[1]) * self._wobble(0.15)
            ct = _lowest(field, view & free, self._count(CONNECTIVE) + self._pool_overlap()) & free
            label[ct], free[ct] = CONNECTIVE, False
        if LIGAMENT in present:  # a band over the liver and wall, where no gallbladder is seen
            upper = self._edge < liver_edge
            field = np.abs(u - vid.ligament_u - vid.ligament_slope * v)
            lig = _lowest(field, view & free & upper, self._count(LIGAMENT)) & free & upper
            label[lig], free[lig] = LIGAMENT, False
        self._bands(label, free)
        if HEPATIC_VEIN in present:
            self._tube(label, own, HEPATIC_VEIN, label == LIVER, length=0.12)
        if CYSTIC_DUCT in present:
            self._tube(label, own, CYSTIC_DUCT, label != GALLBLADDER, length=0.3, start=self._neck)
        return label

    def _bands(self, label: np.ndarray, free: np.ndarray) -> None:
        """Organ bands across the view, boundaries at quantiles of the free pixels in view."""
        bands = [b for b in BANDS if b in self._clip.present]
        area = np.array([self._clip.areas[b] for b in bands])
        cuts = np.cumsum(area / area.sum())[:-1]
        cands = self._edge[self._view & free]
        levels = np.quantile(cands, cuts) if cands.size and len(cuts) else np.zeros(len(cuts))
        which = np.searchsorted(levels, self._edge[free])
        label[free] = np.asarray(bands, np.uint8)[which]

    def _tube(self, label, own, cls: int, allowed, length: float, start=None) -> None:
        """A short tube (vein, duct) of the planned area, from ``start`` or inside ``allowed``."""
        if start is None:
            inside = np.flatnonzero((allowed & self._view).ravel())
            if inside.size == 0:
                return
            pick = inside[int(own.integers(inside.size))]
            start = (float(self._u.flat[pick]), float(self._v.flat[pick]))
            direction = own.uniform(0, 2 * np.pi)
        else:  # the duct leaves the gallbladder neck, away from the fundus
            direction = np.arctan2(-self._axis[1], -self._axis[0]) + own.uniform(-0.5, 0.5)
        end = (start[0] + length * np.cos(direction), start[1] + length * np.sin(direction))
        field = _segment_dist(self._u, self._v, start, end)
        tube = _lowest(field, allowed & self._view, self._count(cls)) & allowed
        label[tube] = cls

    def _blood_potential(self, own: np.random.Generator, noise_shape) -> np.ndarray:
        """Where the clip bleeds: a potential, high at the bleeding point near the gallbladder
        neck (blood is only seen in dissection [NINJA-C]); the pool is where it is high."""
        if self._clip.blood_onset is None:
            return np.zeros(noise_shape, np.uint8)
        cu, cv = self._neck[0] + own.normal(0, 0.05), self._neck[1] + own.normal(0, 0.05)
        ripples = fractal_noise(own, noise_shape, noise_shape[0] / 10, 3)
        potential = 1 - np.hypot(self._u - cu, self._v - cv) / 0.35 + 0.25 * ripples
        return (np.clip(potential, 0, 1) * 255).astype(np.uint8)
