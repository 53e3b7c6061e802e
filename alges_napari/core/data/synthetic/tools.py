"""Surgical instruments for the synthetic clips: a grasper and an L-hook, drawn in frame space.

Instruments hang from the trocars, not from the scene, so they are drawn after the camera
transform: each one enters through the border of the field of view as a shaded cylinder and
moves smoothly (slides in and out, swings, opens its jaws) as a sum of slow sinusoids of the
frame index, so any frame of a clip can be drawn on its own.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

GRASPER, L_HOOK = 5, 9  # CholecSeg8k class ids


@dataclass(frozen=True)
class Tool:
    """One instrument of a clip: its class, trocar side, size and motion."""

    kind: int
    theta: float  # direction of the trocar seen from the centre of the field of view, radians
    radius: float  # shaft radius at the tip, pixels
    phases: tuple[float, float, float, float]
    freqs: tuple[float, float, float, float]  # cycles per frame: swing, aim, depth, jaws

    def pose(self, i: int, centre: tuple[float, float], fov_radius: float):
        """Entry point, tip point, unit direction and jaw half-opening angle at frame ``i``."""
        wave = [np.sin(2 * np.pi * f * i + p) for f, p in zip(self.freqs, self.phases, strict=True)]
        ang = self.theta + 0.25 * wave[0]
        entry = np.array(centre) + 1.3 * fov_radius * np.array([np.sin(ang), np.cos(ang)])
        aim = ang + np.pi + 0.3 * wave[1]
        direction = np.array([np.sin(aim), np.cos(aim)])
        depth = fov_radius * (0.95 + 0.6 * wave[2])
        return entry, entry + depth * direction, direction, 0.3 + 0.22 * wave[3]


def make_tools(rng: np.random.Generator, frame_height: int) -> list[Tool]:
    """One or two instruments on different sides, at least one of them always in the clip."""
    kinds = [GRASPER] if rng.random() < 0.5 else [L_HOOK]
    if rng.random() < 0.6:
        kinds.append(L_HOOK if kinds[0] == GRASPER else GRASPER)
    first = rng.uniform(0, 2 * np.pi)
    tools = []
    for n, kind in enumerate(kinds):
        theta = first + n * rng.uniform(0.6 * np.pi, 1.4 * np.pi)
        tools.append(
            Tool(
                kind=kind,
                theta=float(theta),
                radius=float(frame_height * rng.uniform(0.035, 0.05)),
                phases=tuple(rng.uniform(0, 2 * np.pi, 4)),
                freqs=tuple(rng.uniform(0.006, 0.03, 4)),
            )
        )
    return tools


def _capsule(py, px, a, b, ra: float, rb: float):
    """Signed distance to a tapered capsule a-b, and the lateral coordinate across it (-1..1)."""
    d = b - a
    length2 = float(d @ d) + 1e-9
    rel_y, rel_x = py - a[0], px - a[1]
    s = np.clip((rel_y * d[0] + rel_x * d[1]) / length2, 0.0, 1.0)
    dist = np.hypot(rel_y - s * d[0], rel_x - s * d[1])
    r = ra + (rb - ra) * s
    lateral = (rel_y * d[1] - rel_x * d[0]) / (np.sqrt(length2) * r)
    return dist - r, lateral


def _parts(tool: Tool, entry, tip, direction, jaw: float):
    """The instrument as capsules: (a, b, radius at a, radius at b, colour, highlight)."""
    r = tool.radius
    metal = np.array([160, 162, 168], np.float32)
    if tool.kind == GRASPER:
        parts = [(entry, tip, 1.45 * r, r, metal, 190.0)]
        hinge = tip + 0.6 * r * direction
        parts.append((tip, hinge, 0.95 * r, 0.9 * r, 0.8 * metal, 150.0))
        for sign in (-1, 1):
            c, s = np.cos(sign * jaw), np.sin(sign * jaw)
            jaw_dir = np.array(
                [c * direction[0] - s * direction[1], s * direction[0] + c * direction[1]]
            )
            parts.append((hinge, hinge + 3.2 * r * jaw_dir, 0.6 * r, 0.25 * r, 0.7 * metal, 120.0))
        return parts
    insulation = np.array([48, 48, 54], np.float32)
    bend = tip + 2.4 * r * direction
    hook = bend + 1.2 * r * np.array([direction[1], -direction[0]])
    return [
        (entry, tip, 1.45 * r, r, insulation, 90.0),
        (tip - 0.2 * r * direction, bend, 0.38 * r, 0.32 * r, 1.25 * metal, 200.0),
        (bend, hook, 0.32 * r, 0.28 * r, 1.25 * metal, 200.0),
    ]


def _strips(a, b, pad: float, h: int, w: int, band: int = 32):
    """Row bands and the column span a padded segment covers in each: a thin diagonal shaft
    touches a small part of its bounding box, so it is drawn band by band."""
    lo_y = max(int(np.floor(min(a[0], b[0]) - pad)), 0)
    hi_y = min(int(np.ceil(max(a[0], b[0]) + pad)), h)
    d = b - a
    for y0 in range(lo_y, hi_y, band):
        y1 = min(y0 + band, hi_y)
        if abs(d[0]) > 1e-6:
            s = np.sort([(y0 - pad - a[0]) / d[0], (y1 + pad - a[0]) / d[0]])
            s = np.clip(s, 0.0, 1.0)
        else:
            s = np.array([0.0, 1.0])
        xs = a[1] + s * d[1]
        x0 = max(int(np.floor(xs.min() - pad)), 0)
        x1 = min(int(np.ceil(xs.max() + pad)), w)
        if x0 < x1:
            yield y0, y1, x0, x1


def draw_tools(
    image: np.ndarray,
    label: np.ndarray,
    tools: list[Tool],
    i: int,
    centre: tuple[float, float],
    fov_radius: float,
) -> None:
    """Paint the instruments of frame ``i`` into ``image`` (float RGB) and ``label``, in place.

    Parameters
    ----------
    image : numpy.ndarray
        float32 (H, W, 3) frame before lighting; modified in place.
    label : numpy.ndarray
        uint8 (H, W) index mask; instrument pixels get the instrument's class.
    tools : list of Tool
        The clip's instruments, drawn in order (later ones occlude earlier ones).
    i : int
        Frame index.
    centre, fov_radius
        The circular field of view the instruments enter through.
    """
    h, w = label.shape
    for tool in tools:
        entry, tip, direction, jaw = tool.pose(i, centre, fov_radius)
        for k, (a, b, ra, rb, colour, highlight) in enumerate(
            _parts(tool, entry, tip, direction, jaw)
        ):
            shadow = 2.5 * tool.radius if k == 0 else 0.0
            for y0, y1, x0, x1 in _strips(a, b, max(ra, rb) + shadow + 1, h, w):
                py = np.arange(y0, y1, dtype=np.float32)[:, None] + 0.5
                px = np.arange(x0, x1, dtype=np.float32)[None, :] + 0.5
                sd, lateral = _capsule(py, px, a, b, ra, rb)
                box = image[y0:y1, x0:x1]
                if shadow:  # a soft contact shadow of the shaft on the tissue around it
                    box *= (1 - 0.4 * np.exp(-np.maximum(sd, 0) / (0.7 * tool.radius)))[..., None]
                alpha = np.clip(0.5 - sd, 0.0, 1.0)
                across = np.clip(1 - lateral * lateral, 0.0, 1.0)
                shade = (0.3 + 0.7 * np.sqrt(across))[..., None] * colour
                shine = highlight * np.exp(-(((lateral + 0.45) / 0.16) ** 2))[..., None]
                box += alpha[..., None] * (shade + shine - box)
                label[y0:y1, x0:x1][alpha >= 0.5] = tool.kind
