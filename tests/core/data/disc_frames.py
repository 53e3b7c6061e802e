"""A constructed object for the GrabCut tests: a textured red disc on a textured green frame."""

from __future__ import annotations

import numpy as np


def disc_frame(
    h: int = 200, w: int = 300, centre=(100, 140), radius: float = 40, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 image (h, w, 3), bool disc mask (h, w)); the disc may be cut off by the frame."""
    rng = np.random.default_rng(seed)
    image = (rng.integers(0, 60, (h, w, 3)) + np.array([20, 90, 30])).astype(np.uint8)
    rr, cc = np.mgrid[:h, :w]
    disc = (rr - centre[0]) ** 2 + (cc - centre[1]) ** 2 <= radius**2
    image[disc] = (rng.integers(0, 40, (int(disc.sum()), 3)) + np.array([200, 40, 60])).astype(
        np.uint8
    )
    return image, disc
