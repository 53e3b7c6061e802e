"""napari writer contribution: save a Labels layer as index PNG masks.

A 2-D layer becomes one PNG at ``path``; a 3-D layer (first axis = frames) becomes a folder named
like ``path`` without its ``.png`` suffix, holding ``frame_00000.png``, ``frame_00001.png``...
Both go through :mod:`alges_napari.core.project.export`, the same code as the project export: writes are
atomic, a folder is staged and renamed when complete, and values outside 0-255 are refused.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alges_napari.core.atomic import atomic_write_bytes
from alges_napari.core.errors import MaskError
from alges_napari.core.project.export import as_index_masks, write_index_pngs
from alges_napari.core.project.project import encode_index_png


def write_labels(path: str, data: Any, attributes: dict[str, Any]) -> list[str]:
    """Write a Labels layer's data as index PNG(s) (napari single-layer writer).

    Parameters
    ----------
    path : str
        Target chosen in napari's save dialog (``.png`` is added when missing).
    data : array-like
        The layer data: (H, W) or (frames, H, W) integers in 0-255.
    attributes : dict
        The layer's attributes (its name is used in error messages).

    Returns
    -------
    list of str
        The files written.
    """
    name = str(attributes.get("name", "labels")) if attributes else "labels"
    arr = as_index_masks(data, name)
    target = Path(path)
    if arr.ndim == 2:
        target = (
            target if target.suffix.lower() == ".png" else target.with_name(target.name + ".png")
        )
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(target, encode_index_png(arr))
        return [str(target)]
    if arr.ndim == 3:
        folder = target.with_suffix("") if target.suffix.lower() == ".png" else target
        written = write_index_pngs(
            folder, ((f"frame_{i:05d}", arr[i]) for i in range(arr.shape[0]))
        )
        return [str(p) for p in written]
    raise MaskError(
        f"{name}: a Labels layer with {arr.ndim} dimensions cannot be saved as PNG (2-D or 3-D only)"
    )
