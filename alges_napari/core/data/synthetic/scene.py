"""The scene canvas of a synthetic laparoscopic clip: organs, textures, shading, gloss.

A clip's scene is painted once on a canvas larger than a frame: a label map of organs as warped
level sets, drawn back to front; textured albedo per tissue; a height field whose slopes give
diffuse shading, dark crevices between organs and, later per frame, specular highlights. Noise
is value noise upsampled by matrix products (cubic B-spline weights), so all of it is plain,
vectorised numpy.
"""

from __future__ import annotations

import numpy as np

# CholecSeg8k class ids (docs/method.md, "Data facts").
(BACKGROUND, WALL, LIVER, GI_TRACT, FAT, GRASPER, CONNECTIVE, BLOOD, CYSTIC_DUCT, L_HOOK,
 GALLBLADDER, HEPATIC_VEIN, LIGAMENT) = range(13)  # fmt: skip

#: Tissue albedo (RGB 0..255), texture strength, relief height, gloss; jittered per clip.
TISSUE: dict[int, tuple[tuple[float, float, float], float, float, float]] = {
    WALL: ((196, 128, 118), 0.10, 0.5, 0.35),
    LIVER: ((128, 42, 32), 0.16, 1.0, 0.9),
    GI_TRACT: ((200, 112, 118), 0.12, 0.8, 0.7),
    FAT: ((214, 176, 84), 0.14, 0.7, 0.6),
    CONNECTIVE: ((206, 168, 150), 0.14, 0.6, 0.5),
    BLOOD: ((104, 6, 8), 0.10, 0.4, 1.0),
    CYSTIC_DUCT: ((198, 172, 128), 0.08, 1.2, 0.8),
    GALLBLADDER: ((150, 150, 84), 0.14, 1.3, 1.0),
    HEPATIC_VEIN: ((70, 52, 96), 0.10, 0.6, 0.8),
    LIGAMENT: ((220, 196, 150), 0.12, 0.9, 0.5),
}
SLOPE_SCALE = 48  # surface slopes are stored as int8 in units of 1/48 (|slope| < 2.6)


def _interp_matrix(n_out: int, n_in: int) -> np.ndarray:
    """Cubic B-spline resampling matrix (n_out x n_in): smooth upsampling by matrix product."""
    t = np.linspace(0.0, n_in - 1.0, n_out, dtype=np.float64)
    base = np.floor(t).astype(int)
    frac = t - base
    m = np.zeros((n_out, n_in), np.float64)
    weights = (
        (1 - frac) ** 3 / 6,
        (3 * frac**3 - 6 * frac**2 + 4) / 6,
        (-3 * frac**3 + 3 * frac**2 + 3 * frac + 1) / 6,
        frac**3 / 6,
    )
    for k, w in zip(range(-1, 3), weights, strict=True):
        np.add.at(m, (np.arange(n_out), np.clip(base + k, 0, n_in - 1)), w)
    return m.astype(np.float32)


def _blur_matrix(n: int, sigma: float) -> np.ndarray:
    """Gaussian blur as an (n x n) matrix with renormalised edges (reflect-free, no shrinkage)."""
    idx = np.arange(n, dtype=np.float32)
    m = np.exp(-0.5 * ((idx[:, None] - idx[None, :]) / sigma) ** 2)
    return (m / m.sum(axis=1, keepdims=True)).astype(np.float32)


def fractal_noise(
    rng: np.random.Generator, shape: tuple[int, int], cell: float, octaves: int = 4
) -> np.ndarray:
    """Multi-octave value noise, zero mean and unit standard deviation.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of the random lattices.
    shape : (int, int)
        Output shape (H, W).
    cell : float
        Size in pixels of the coarsest octave's features; each octave halves it.
    octaves : int
        Number of octaves; amplitudes halve per octave.

    Returns
    -------
    numpy.ndarray
        float32 array of ``shape``.
    """
    h, w = shape
    out = np.zeros(shape, np.float32)
    for o in range(octaves):
        size = max(cell / 2**o, 2.0)
        gh, gw = int(np.ceil(h / size)) + 3, int(np.ceil(w / size)) + 3
        lattice = rng.standard_normal((gh, gw)).astype(np.float32)
        out += 0.5**o * (_interp_matrix(h, gh) @ lattice @ _interp_matrix(w, gw).T)
    out -= out.mean()
    return out / (out.std() + 1e-6)


def _layout(
    rng: np.random.Generator, noise: np.random.Generator, shape: tuple[int, int]
) -> np.ndarray:
    """Paint the scene's label map: organs as warped level sets, drawn back to front."""
    ch, cw = shape
    y, x = np.mgrid[0:ch, 0:cw].astype(np.float32) / ch  # units of canvas height
    warp = 0.035 * fractal_noise(noise, shape, ch / 2.5, 3)
    angle = rng.uniform(-0.35, 0.35)
    if rng.random() < 0.5:  # mirror half the scenes so the liver is not always on one side
        x = cw / ch - x
    cx, cy = 0.5 * cw / ch, 0.5
    u = cx + (x - cx) * np.cos(angle) - (y - cy) * np.sin(angle) + warp
    v = cy + (x - cx) * np.sin(angle) + (y - cy) * np.cos(angle) - warp
    label = np.full(shape, WALL, np.uint8)
    edge = fractal_noise(noise, shape, ch / 6, 3)
    gi_line = rng.uniform(0.68, 0.82) + 0.06 * np.sin(4 * u + rng.uniform(0, 6)) + 0.03 * edge
    label[v > gi_line] = GI_TRACT
    fat_line = rng.uniform(0.42, 0.55) + 0.05 * np.sin(3 * u + rng.uniform(0, 6))
    lobes = fractal_noise(noise, shape, ch / 14, 2)
    label[(v > fat_line + 0.03 * lobes) & (v < gi_line + 0.05 * lobes - 0.02)] = FAT
    liver_line = fat_line - rng.uniform(0.0, 0.08) + 0.04 * np.sin(5 * u + rng.uniform(0, 6))
    wall_line = rng.uniform(-0.2, 0.12) + 0.04 * edge
    label[(v < liver_line + 0.02 * edge) & (v > wall_line)] = LIVER
    if rng.random() < 0.5:
        _band(label, u, v, LIGAMENT, rng, width=rng.uniform(0.02, 0.04), within=LIVER)
    if rng.random() < 0.25:
        vein = _capsule_mask(u, v, rng, length=0.12, r0=0.012, r1=0.02, region=(0.2, 0.4))
        label[vein & (label == LIVER)] = HEPATIC_VEIN
    neck = _gallbladder(label, u, v, rng, liver_line_mid=float(np.median(liver_line)))
    blob = np.hypot(u - neck[0], v - neck[1]) < rng.uniform(0.08, 0.14) * (1 + 0.35 * lobes)
    label[blob & np.isin(label, (FAT, WALL, GI_TRACT))] = CONNECTIVE
    strands = (fractal_noise(noise, shape, ch / 10, 2) > 1.6) & (label == FAT)
    label[strands] = CONNECTIVE
    if rng.random() < 0.35:
        tip = (neck[0] + rng.uniform(-0.25, 0.25), neck[1] + rng.uniform(0.15, 0.3))
        duct = _segment_dist(u, v, neck, tip) < rng.uniform(0.012, 0.02)
        label[duct & (label != GALLBLADDER)] = CYSTIC_DUCT
    return label


def _segment_dist(
    u: np.ndarray, v: np.ndarray, a: tuple[float, float], b: tuple[float, float]
) -> np.ndarray:
    """Distance of every (u, v) to the segment a-b."""
    du, dv = b[0] - a[0], b[1] - a[1]
    s = np.clip(((u - a[0]) * du + (v - a[1]) * dv) / (du * du + dv * dv + 1e-9), 0, 1)
    return np.hypot(u - a[0] - s * du, v - a[1] - s * dv)


def _capsule_mask(u, v, rng, length, r0, r1, region) -> np.ndarray:
    """A tapered tube of random position and direction, as a boolean mask."""
    a = (rng.uniform(0.3, 1.4), rng.uniform(*region))
    ang = rng.uniform(0, np.pi)
    b = (a[0] + length * np.cos(ang), a[1] + length * np.sin(ang))
    return _segment_dist(u, v, a, b) < rng.uniform(r0, r1)


def _band(label, u, v, cls, rng, width, within) -> None:
    """A curved ligament band running across ``within``."""
    x0, slope, bend = rng.uniform(0.4, 1.3), rng.uniform(-0.6, 0.6), rng.uniform(-0.4, 0.4)
    line = x0 + slope * v + bend * v * v
    label[(np.abs(u - line) < width) & (label == within)] = cls


def _gallbladder(label, u, v, rng, liver_line_mid: float) -> tuple[float, float]:
    """A pear-shaped pouch lying under the liver edge; returns its neck point."""
    fundus = (rng.uniform(0.45, 1.3), liver_line_mid + rng.uniform(-0.05, 0.08))
    ang = rng.uniform(0.2, 0.9) * rng.choice((-1, 1))
    length = rng.uniform(0.32, 0.5)
    neck = (fundus[0] + length * np.cos(ang), fundus[1] + length * abs(np.sin(ang)) * 0.6 + 0.1)
    du, dv = fundus[0] - neck[0], fundus[1] - neck[1]
    s = np.clip(((u - neck[0]) * du + (v - neck[1]) * dv) / (du * du + dv * dv), 0, 1)
    dist = np.hypot(u - neck[0] - s * du, v - neck[1] - s * dv)
    label[dist < 0.035 + rng.uniform(0.09, 0.13) * s**0.6] = GALLBLADDER
    return neck


def _insideness(label: np.ndarray, sigma: float) -> np.ndarray:
    """How deep each pixel lies inside its own region: ~0.5 on a boundary, 1 deep inside."""
    step = 4  # a quarter-resolution blur is plenty for a feature this smooth
    small = label[::step, ::step]
    by = _blur_matrix(small.shape[0], sigma / step)
    bx = _blur_matrix(small.shape[1], sigma / step)
    inside = np.zeros(small.shape, np.float32)
    for cls in np.unique(small):
        own = (small == cls).astype(np.float32)
        inside += own * (by @ own @ bx.T)
    ch, cw = label.shape
    return _interp_matrix(ch, small.shape[0]) @ inside @ _interp_matrix(cw, small.shape[1]).T


def _lut(column: int, default: float = 0.0) -> np.ndarray:
    lut = np.full(256, default, np.float32)
    for cls, spec in TISSUE.items():
        lut[cls] = spec[column]
    return lut


def _albedo(
    rng: np.random.Generator, noise: np.random.Generator, label: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Textured tissue colours (float RGB 0..255) and the small-scale relief they carry."""
    shape = label.shape
    ch = shape[0]
    colours = np.zeros((256, 3), np.float32)
    for cls, (rgb, *_rest) in TISSUE.items():
        colours[cls] = np.asarray(rgb) * rng.normal(1.0, 0.06, 3)  # per-clip tissue tint
    fine = fractal_noise(noise, shape, ch / 40, 3)
    mid = fractal_noise(noise, shape, ch / 12, 3)
    rgb = colours[label] * (1 + _lut(1)[label] * (0.6 * mid + 0.5 * fine))[..., None]
    ridges = np.exp(-((fractal_noise(noise, shape, ch / 22, 2) / 0.22) ** 2))  # thin lines
    fat = label == FAT
    rgb[fat] *= (1 - 0.12 * ridges[fat])[:, None]  # faint reddish septa between fat lobules
    rgb[fat, 0] += 12 * ridges[fat]
    wall = label == WALL
    rgb[wall] *= 1 - np.array([0.05, 0.35, 0.3], np.float32) * ridges[wall][:, None]  # vessels
    folds = np.sin(2 * np.pi * np.arange(shape[1], dtype=np.float32) / (ch / 7) + 5 * mid)
    gi = label == GI_TRACT
    rgb[gi] *= (0.92 + 0.08 * folds[gi])[:, None]
    gb = label == GALLBLADDER
    pink = np.clip(0.5 + 0.5 * mid[gb], 0, 1)[:, None] * rng.uniform(0.2, 0.8)
    rgb[gb] = rgb[gb] * (1 - pink) + pink * np.array([196, 140, 130], np.float32)
    bump = _lut(1)[label] * (2 * fine + 4 * mid)
    bump[fat] -= 2.5 * ridges[fat] + 3 * np.abs(fine[fat])
    bump[gi] += 3 * folds[gi]
    return rgb, bump


def _shade(label: np.ndarray, rgb: np.ndarray, bump: np.ndarray, noise: np.random.Generator):
    """Diffuse shading, crevice darkening and the slopes and gloss the specular pass needs."""
    ch = label.shape[0]
    inside = _insideness(label, sigma=0.035 * ch)
    height = _lut(2)[label] * inside * (0.12 * ch) + bump * (ch / 480)
    gy, gx = np.gradient(height)
    norm = np.sqrt(1 + gx * gx + gy * gy)
    light = np.array([0.25, -0.35, 1.0]) / np.linalg.norm([0.25, -0.35, 1.0])
    diffuse = np.clip((-gx * light[0] - gy * light[1] + light[2]) / norm, 0, 1)
    crevice = np.clip(2 * inside - 1, 0, 1) ** 0.5
    shaded = rgb * (0.3 + 0.7 * diffuse * (0.4 + 0.6 * crevice))[..., None]
    wet = np.clip(0.6 + 0.4 * fractal_noise(noise, label.shape, ch / 20, 2), 0, 1)
    gloss = _lut(3)[label] * wet * crevice
    return shaded, gx, gy, gloss


def _pack(label, shaded, gx, gy, gloss, blood) -> np.ndarray:
    """Eight bytes per canvas pixel, so a frame is a single gather: R, G, B, label, slopes, gloss, blood."""
    packed = np.empty(label.shape + (8,), np.uint8)
    packed[..., :3] = np.clip(shaded, 0, 255)
    packed[..., 3] = label
    packed[..., 4] = np.clip(gx * SLOPE_SCALE, -127, 127).astype(np.int8).view(np.uint8)
    packed[..., 5] = np.clip(gy * SLOPE_SCALE, -127, 127).astype(np.int8).view(np.uint8)
    packed[..., 6] = np.clip(gloss * 255, 0, 255)
    packed[..., 7] = blood
    return packed.reshape(-1, 8).view(np.uint64).ravel()


def _blood_event(rng, noise, shape):
    """Half the clips bleed for a few frames: a field that grows past a falling threshold."""
    if rng.random() < 0.5:
        return None
    ch, cw = shape
    cy, cx = ch * rng.uniform(0.35, 0.65), cw * rng.uniform(0.3, 0.7)
    yy, xx = np.ogrid[0:ch, 0:cw]
    dist = np.hypot(yy - cy, xx - cx) / (ch * rng.uniform(0.07, 0.12))
    field = np.clip(1 - dist + 0.35 * fractal_noise(noise, shape, ch / 12, 3), 0, 1)
    start = int(rng.integers(2, 12))
    return (field * 255).astype(np.uint8), start, start + int(rng.integers(4, 11))


def build_scene(rng: np.random.Generator, noise: np.random.Generator, shape: tuple[int, int]):
    """Paint a scene canvas of ``shape`` and pack it for per-frame gathers.

    Parameters
    ----------
    rng : numpy.random.Generator
        The clip's decisions (layout, tints, bleeding); consumed the same way at any size, so
        one clip shows the same scene whatever its frame size.
    noise : numpy.random.Generator
        The texture lattices, whose sizes depend on the canvas size.
    shape : (int, int)
        Canvas size (height, width) in pixels.

    Returns
    -------
    packed : numpy.ndarray
        uint64 (height * width,): R, G, B, label, x slope, y slope, gloss, blood bytes.
    blood : tuple or None
        (start frame, stop frame) of the clip's bleeding, None when it does not bleed.
    """
    label = _layout(rng, noise, shape)
    rgb, bump = _albedo(rng, noise, label)
    shaded, gx, gy, gloss = _shade(label, rgb, bump, noise)
    event = _blood_event(rng, noise, shape)
    field = event[0] if event else np.zeros(shape, np.uint8)
    return _pack(label, shaded, gx, gy, gloss, field), (event[1:] if event else None)
