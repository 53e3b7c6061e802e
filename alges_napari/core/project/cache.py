"""``cache/``: per-frame predictions and heat maps of the last scoring pass, disposable PNGs."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from alges_napari.core.errors import ProjectError
from alges_napari.core.project.files import (
    atomic_write_bytes,
    decode_index_png,
    encode_index_png,
    makedirs,
)
from alges_napari.core.project.paths import key_to_relpath


def heat_to_uint8(heat: np.ndarray) -> np.ndarray:
    """Scale a heat map to uint8 (its maximum -> 255); uint8 maps pass unchanged."""
    if heat.dtype == np.uint8:
        return heat
    heat = np.nan_to_num(heat.astype(np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    top = float(heat.max()) if heat.size else 0.0
    return (
        np.zeros(heat.shape, np.uint8) if top <= 0 else np.round(heat / top * 255).astype(np.uint8)
    )


class FrameCache:
    """Per-frame predictions and heat maps of the last scoring pass, as PNGs under ``root``.

    ``root/pred/<key>.png`` holds the predicted class indices, ``root/heat/<key>.png`` the heat
    map scaled to 0-255. Writes are atomic (a reader never sees half a PNG); anything missing or
    damaged reads as None, because the cache may be deleted at any time.
    """

    def __init__(self, root: Path):
        self.root = root

    def path(self, kind: str, key: str) -> Path:
        """File of ``kind`` ("pred" or "heat") for ``key``."""
        return self.root / kind / f"{key_to_relpath(key)}.png"

    def clear(self) -> None:
        """Delete every cached entry."""
        shutil.rmtree(self.root, ignore_errors=True)
        makedirs(self.root)

    def write(self, key: str, prediction: np.ndarray, heat: np.ndarray | None = None) -> None:
        """Store a frame's predicted mask and (optionally) its heat map."""
        items = [("pred", np.asarray(prediction, dtype=np.uint8))]
        if heat is not None:
            items.append(("heat", heat_to_uint8(np.asarray(heat))))
        for kind, arr in items:
            path = self.path(kind, key)
            makedirs(path.parent)
            # Fast zlib level: the cache is rewritten every round and read once per frame.
            atomic_write_bytes(path, encode_index_png(arr, compress_level=1))

    def read(self, kind: str, key: str) -> np.ndarray | None:
        """The cached array of ``kind`` for ``key``, or None."""
        path = self.path(kind, key)
        if not path.is_file():
            return None
        try:
            return decode_index_png(path)
        except ProjectError:
            return None  # a damaged entry is just a miss
