"""Folders of random frames and random masks for the project tests (no ground truth needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

SHAPE = (32, 48)


def make_folder(root: Path, n: int = 6, shape: tuple[int, int] = SHAPE, seed: int = 0) -> Path:
    """A folder of ``n`` random RGB PNG frames."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (*shape, 3), dtype=np.uint8)).save(
            root / f"frame_{i:03d}.png"
        )
    return root


def random_mask(seed: int, shape: tuple[int, int] = SHAPE, classes: int = 13) -> np.ndarray:
    rng = np.random.default_rng(seed)
    mask = rng.integers(0, classes, shape, dtype=np.uint8)
    mask[0, :5] = 255
    return mask
