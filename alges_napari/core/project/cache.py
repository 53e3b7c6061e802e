"""``cache/``: per-frame predictions and heat maps of the last scoring pass, disposable files.

What is stored, and why so (issue 26: the pass's per-frame writing cost more than its forward):

- ``pred/<key>.png``: the predicted class indices at the frame's size, a greyscale PNG (zlib
  level 1: the cache is rewritten every round and read once per frame shown).
- ``heat/<key>.npy``: the heat map as the pass computes it, float32 at the model's output
  resolution (``sqrt(g)``, 128 x 224 for a 128x224 Unet: 115 KB raw). It is resized to the
  frame and scaled to uint8 when read (:meth:`FrameCache.read`), with the same bilinear resize
  and scaling the pass applied before it wrote frame-sized PNGs, so what the viewer shows is
  bit-identical. The frame-sized 8-bit PNG of a smooth map compressed to ~280 KB and cost
  ~100 ms per 854x480 frame to encode on this CPU; the raw low-resolution map costs ~1 ms.
- ``heat/<key>.png``: a heat map given already as uint8 (any size) is kept as a PNG, as before.

Writes are atomic (temporary file, then rename: a reader never sees half a file) but not
fsynced: the cache is derived data, and an entry a power cut left empty or damaged reads as a
miss (None), as does anything missing, because the cache may be deleted at any time.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
from pathlib import Path

import numpy as np

from alges_napari.core.errors import ProjectError
from alges_napari.core.project.files import decode_index_png, encode_index_png, makedirs
from alges_napari.core.project.paths import key_to_relpath

#: File suffix of each kind of entry and format ("heat" maps given as floats are raw arrays).
SUFFIXES = {"pred": ".png", "heat": ".png", "heat-float": ".npy"}


def heat_to_uint8(heat: np.ndarray) -> np.ndarray:
    """Scale a heat map to uint8 (its maximum -> 255); uint8 maps pass unchanged."""
    if heat.dtype == np.uint8:
        return heat
    heat = np.nan_to_num(heat.astype(np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    top = float(heat.max()) if heat.size else 0.0
    return (
        np.zeros(heat.shape, np.uint8) if top <= 0 else np.round(heat / top * 255).astype(np.uint8)
    )


def resize_heat(heat: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A float heat map resized bilinearly to ``size`` (H, W), as the scoring pass resizes.

    ``torch.nn.functional.interpolate`` with ``align_corners=False`` on float32, the call the
    pass made before it kept heat maps at the model's resolution: same input, same output.
    """
    if tuple(heat.shape) == tuple(size):
        return heat
    import torch
    import torch.nn.functional as F

    t = torch.from_numpy(np.ascontiguousarray(heat, dtype=np.float32))[None, None]
    up = F.interpolate(t, size=tuple(int(s) for s in size), mode="bilinear", align_corners=False)
    return up[0, 0].numpy()


def _replace_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path`` and rename it over ``path``.

    Atomic for readers, not durable (no fsync): right for derived, disposable files.
    Temporaries are named ``.<name>.<random>.tmp`` like :mod:`alges_napari.core.atomic`'s,
    so a killed writer's leftovers are removed when the project is next opened for writing.
    """
    tmp = path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp"
    try:
        with open(tmp, "xb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise ProjectError(f"cannot write {path}: {exc.strerror or exc}") from exc


def _npy_bytes(array: np.ndarray) -> bytes:
    import io

    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(array, dtype=np.float32), allow_pickle=False)
    return buf.getvalue()


class FrameCache:
    """Per-frame predictions and heat maps of the last scoring pass, as files under ``root``.

    See the module docstring for the files. ``read`` returns arrays at the frame's size when
    given it, so a reader never sees the model's resolution.
    """

    def __init__(self, root: Path):
        self.root = root

    def path(self, kind: str, key: str, fmt: str | None = None) -> Path:
        """File of ``kind`` ("pred" or "heat") for ``key``; ``fmt="heat-float"``: the raw map."""
        return self.root / kind / f"{key_to_relpath(key)}{SUFFIXES[fmt or kind]}"

    def clear(self) -> None:
        """Delete every cached entry."""
        shutil.rmtree(self.root, ignore_errors=True)
        makedirs(self.root)

    def write(self, key: str, prediction: np.ndarray, heat: np.ndarray | None = None) -> None:
        """Store a frame's predicted mask (uint8, frame size) and, optionally, its heat map.

        ``heat``: uint8 (kept as a PNG) or float (kept raw at its own size, usually the
        model's output resolution; resized and scaled when read).
        """
        pred_path = self.path("pred", key)
        makedirs(pred_path.parent)
        _replace_bytes(pred_path, encode_index_png(np.asarray(prediction, np.uint8), 1))
        if heat is None:
            return
        heat = np.asarray(heat)
        fmt = "heat" if heat.dtype == np.uint8 else "heat-float"
        path, other = self.path("heat", key, fmt), self.path("heat", key, {
            "heat": "heat-float", "heat-float": "heat"}[fmt])  # fmt: skip
        makedirs(path.parent)
        data = encode_index_png(heat, 1) if fmt == "heat" else _npy_bytes(heat)
        _replace_bytes(path, data)
        with contextlib.suppress(FileNotFoundError):
            other.unlink()  # an entry of the other format would shadow or confuse this one

    def read(self, kind: str, key: str, size: tuple[int, int] | None = None) -> np.ndarray | None:
        """The cached uint8 array of ``kind`` for ``key``, or None.

        Parameters
        ----------
        kind : {"pred", "heat"}
            The prediction (class ids) or the heat map (0-255, 255 = hottest of the frame).
        key : str
            The frame.
        size : (int, int), optional
            The frame's (H, W): a heat map kept at the model's resolution is resized to it
            (bilinear) before it is scaled to uint8. None: as stored.
        """
        if kind == "heat":
            raw = self.path("heat", key, "heat-float")
            if raw.is_file():
                try:
                    heat = np.load(raw, allow_pickle=False)
                except (OSError, ValueError, EOFError):
                    return None  # a damaged entry is just a miss
                if heat.ndim != 2:
                    return None
                return heat_to_uint8(resize_heat(heat, size) if size else heat)
        path = self.path(kind, key)
        if not path.is_file():
            return None
        try:
            return decode_index_png(path)
        except ProjectError:
            return None  # a damaged entry is just a miss
