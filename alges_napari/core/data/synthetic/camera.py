"""The endoscope camera both synthetic renderers share: its motion, its view, its lens.

A clip's scene is a large packed canvas (:func:`.scene.build_scene`, :class:`.layout.ClipCanvas`)
painted once; a frame is one gather of canvas pixels through the camera (:func:`look`), then the
coaxial light's highlight (:func:`add_specular`) and the per-renderer passes (blood, instruments,
light, noise). The default clips (:mod:`.clips`) and the benchmark clips (:mod:`.benchmark`)
differ only in their camera *paths*; how a path is turned into pixels is written once, here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from alges_napari.core.data.synthetic.scene import SLOPE_SCALE

FPS_CYCLES = (0.004, 0.014)  # camera motion, cycles per frame: a slow sweep over 70-250 frames


def motion_waves(rng: np.random.Generator, n: int) -> np.ndarray:
    """Random (frequency, phase) pairs for ``n`` smooth motion channels of two sinusoids each.

    Parameters
    ----------
    rng : numpy.random.Generator
        The clip's decision stream.
    n : int
        Number of channels (the cameras use four: pan y, pan x, zoom, roll).

    Returns
    -------
    numpy.ndarray
        float (n, 2, 2): per channel and sinusoid, its frequency (cycles per frame) and phase.
    """
    freqs = rng.uniform(*FPS_CYCLES, (n, 2))
    phases = rng.uniform(0, 2 * np.pi, (n, 2))
    return np.stack([freqs, phases], axis=-1)


def rim_width(w: int) -> float:
    """Width in pixels of the soft rim of the field of view in a frame ``w`` pixels wide."""
    return max(2.0, 0.012 * w)


def distance_from(size: tuple[int, int], centre: tuple[float, float]) -> np.ndarray:
    """Distance of every pixel centre of an (H, W) frame from ``centre`` (y, x), float32 (H, W)."""
    h, w = size
    ys = np.arange(h, dtype=np.float32)[:, None] + 0.5 - centre[0]
    xs = np.arange(w, dtype=np.float32)[None, :] + 0.5 - centre[1]
    return np.sqrt(ys * ys + xs * xs)


@dataclass(frozen=True)
class View:
    """What the camera sees in one frame.

    Attributes
    ----------
    pixels : numpy.ndarray
        uint8 (H, W, 8): the packed canvas bytes under each frame pixel (R, G, B, label, x slope,
        y slope, gloss, blood; see :func:`.scene.build_scene`).
    dx, dy : numpy.ndarray
        float32 (H, W): each frame pixel's offset on the canvas from the camera centre, i.e. the
        direction of its view ray.
    zoom : float
        The camera's zoom (frame pixels per canvas pixel).
    """

    pixels: np.ndarray
    dx: np.ndarray
    dy: np.ndarray
    zoom: float


def look(
    canvas: np.ndarray,
    canvas_shape: tuple[int, int],
    size: tuple[int, int],
    camera: tuple[float, float, float, float],
) -> View:
    """The canvas pixels a camera sees: one gather through its rotation, zoom and pan.

    Parameters
    ----------
    canvas : numpy.ndarray
        uint64 (CH * CW,): the packed scene, one 8-byte pixel per element, rows first.
    canvas_shape : (int, int)
        (CH, CW) of the canvas.
    size : (int, int)
        (H, W) of the frame.
    camera : (float, float, float, float)
        Camera centre on the canvas (y, x), zoom and roll (radians).

    Returns
    -------
    View
        The gathered pixels and each pixel's view ray. A ray that leaves the canvas reads the
        nearest edge pixel: without the clamp, a column past either side of the canvas would
        read the neighbouring row, a row above the top the canvas's last rows, and a row
        below the bottom would raise.
    """
    (h, w), (ch, cw) = size, canvas_shape
    cy, cx, zoom, roll = camera
    ys = np.arange(h, dtype=np.float32) - h / 2 + 0.5
    xs = np.arange(w, dtype=np.float32) - w / 2 + 0.5
    cos, sin = np.cos(roll) / zoom, np.sin(roll) / zoom
    dx = cos * xs[None, :] - sin * ys[:, None]
    dy = sin * xs[None, :] + cos * ys[:, None]
    iy = np.clip((dy + cy).astype(np.intp), 0, ch - 1)
    ix = np.clip((dx + cx).astype(np.intp), 0, cw - 1)
    pixels = canvas.take(iy * cw + ix).view(np.uint8).reshape(h, w, 8)
    return View(pixels, dx, dy, zoom)


def add_specular(image: np.ndarray, gloss: np.ndarray, view: View) -> None:
    """Add the coaxial light's highlight to ``image`` in place.

    Where a surface's slope equals the view ray's, the light on the endoscope's tip mirrors back
    into the lens; the highlight's strength is the surface's gloss.

    Parameters
    ----------
    image : numpy.ndarray
        float32 (H, W, 3), changed in place.
    gloss : numpy.ndarray
        uint8 (H, W): 0 (matte) to 255 (wet); usually ``view.pixels[..., 6]`` after the
        renderer's own changes (fresh blood is wet).
    view : View
        The frame's view (:func:`look`), whose slopes and rays are compared.
    """
    px, width = view.pixels, view.dx.shape[1]
    ray, unit = np.float32(view.zoom / (1.1 * width)), np.float32(1 / SLOPE_SCALE)
    d2 = (px[..., 4].view(np.int8) * unit - view.dx * ray) ** 2
    d2 += (px[..., 5].view(np.int8) * unit - view.dy * ray) ** 2
    image += (gloss * np.exp(-d2 / 0.012) * 1.6)[..., None]
