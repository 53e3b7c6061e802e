"""Label formats other tools train on or review in: nnU-Net v2, COCO (RLE) and CVAT mask 1.1.

Each format module has a writer (``write(project, keys, stage)``, called by
:func:`~alges_napari.core.project.export.export_labels` inside its staged folder) and a reader
(``read(path, schema)``, used by :mod:`alges_napari.core.project.label_import`) that yields one
:class:`FoundLabel` per label file. Readers never drop a value they do not know: a class id or
colour outside the schema is named in the found label's ``problem`` and the import refuses
that frame.

Names: nnU-Net wants flat case names (:func:`flat_name`); COCO and CVAT keep the frame's key as
its path. Every export also writes ``alges_keymap.json`` (its names -> frame keys) so that an
import of it matches every frame exactly; a folder from elsewhere is matched by name
(:func:`match_names`).
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from alges_napari.core.errors import AlgesError
from alges_napari.core.project.files import atomic_write_bytes, encode_index_png
from alges_napari.core.project.paths import key_to_relpath, relpath_to_key

#: Names an export gave its frames -> their frame keys (written by every format here).
KEYMAP_FILE = "alges_keymap.json"
#: How :func:`read_label_png` ends its problem with a mask of unequal channels.
COLOUR_IMAGE = "a colour image, not a label of class ids"


@dataclass
class FoundLabel:
    """One label read from a foreign dataset.

    Attributes
    ----------
    name : str
        The label's name in its dataset (a file stem, a COCO ``file_name`` without suffix).
    file : str
        Where it was read from, for the report (a path; COCO: ``annotations.json#image 3``).
    mask : ndarray (H, W) uint8 or None
        Class ids of the project's schema, 255 = ignore; None when it could not be read.
    problem : str
        Why the label cannot be imported ("" when it can): values outside the schema, ...
    key : str or None
        The frame key the dataset itself names (an alges export's keymap, a COCO
        ``alges_key``), if any.
    outside : bool
        The problem is a class id, colour or category outside the schema.
    """

    name: str
    file: str
    mask: np.ndarray | None
    problem: str = ""
    key: str | None = None
    outside: bool = False


def flat_name(key: str) -> str:
    """A frame key as one file name (nnU-Net case ids have no folders): components join by ``__``."""
    return "__".join(key_to_relpath(key).parts)


def unflat_name(name: str) -> str:
    """A best guess of the key a :func:`flat_name` came from (the keymap is exact)."""
    return relpath_to_key("/".join(name.split("__")))


def match_names(
    found: Iterable[FoundLabel], keys: Iterable[str]
) -> tuple[list[tuple[FoundLabel, str]], list[FoundLabel]]:
    """Match found labels to frame keys by name.

    A label matches, in this order: the key its dataset names; a key equal to its name, or to
    its name unescaped (:func:`~.paths.relpath_to_key`); the key its flat name stands for; the one key whose last path component equals its name (a
    name shared by several keys matches none of them).

    Returns
    -------
    matched : list of (FoundLabel, key)
    unmatched : list of FoundLabel
    """
    keys = list(keys)
    key_set = set(keys)
    by_stem: dict[str, list[str]] = {}
    for k in keys:
        by_stem.setdefault(k.rsplit("/", 1)[-1], []).append(k)
    matched, unmatched = [], []
    for label in found:
        candidates = [label.key, label.name, relpath_to_key(label.name), unflat_name(label.name)]
        key = next((c for c in candidates if c is not None and c in key_set), None)
        if key is None and len(by_stem.get(label.name, ())) == 1:
            key = by_stem[label.name][0]
        if key is None:
            unmatched.append(label)
        else:
            matched.append((label, key))
    return matched, unmatched


def schema_note(schema: Any) -> dict[str, Any]:
    """The class schema as every export writes it (alges-napari's own JSON form)."""
    return schema.to_json()


def frame_suffix(frames: Any, key: str) -> str:
    """The file suffix of ``key``'s frame in its source (``.png`` when it has no file)."""
    try:
        return Path(frames.file_of(frames.index_of(key))).suffix or ".png"
    except (AttributeError, AlgesError, IndexError):  # a video or TIFF, or a frame not listed
        return ".png"


def read_frame(frames: Any, key: str) -> tuple[np.ndarray | None, str]:
    """The frame image of ``key``, or None and why it cannot be read."""
    if frames is None:
        return None, "the frame source cannot be opened"
    try:
        return np.asarray(frames.frame(key)), ""
    except AlgesError as exc:
        return None, str(exc)


def write_png(path: Path, array: np.ndarray) -> None:
    """Write an index (H, W) or RGB (H, W, 3) uint8 array as a PNG, atomically."""
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    if array.ndim == 2:
        atomic_write_bytes(path, encode_index_png(array))
        return
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(array, dtype=np.uint8)).save(buf, format="PNG")
    atomic_write_bytes(path, buf.getvalue())


def read_label_png(path: Path) -> tuple[np.ndarray | None, str]:
    """Read a label PNG (8 or 16 bit, grey or three equal channels) as integers.

    Returns
    -------
    mask : ndarray (H, W) int64 or None
    problem : str
        Why it cannot be read ("" when it can), naming the file.
    """
    from PIL import Image

    try:
        with Image.open(path) as im:
            arr = np.asarray(im)
    except (OSError, ValueError) as exc:
        return None, f"{path}: cannot be read ({exc})"
    if arr.ndim == 3:
        if not (arr[..., :3] == arr[..., :1]).all():
            return None, f"{path}: {COLOUR_IMAGE}"
        arr = arr[..., 0]
    if arr.ndim != 2 or not np.issubdtype(arr.dtype, np.integer) and arr.dtype != bool:
        return None, f"{path}: not a single-channel label image ({arr.shape}, {arr.dtype})"
    return arr.astype(np.int64), ""


def read_rgb_png(path: Path) -> tuple[np.ndarray | None, str]:
    """Read a colour mask as (H, W, 3) uint8; None and the reason when it cannot be."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            arr = np.asarray(im.convert("RGB"))
    except (OSError, ValueError) as exc:
        return None, f"{path}: cannot be read ({exc})"
    return arr, ""


def map_values(
    values: np.ndarray,
    lut: dict[int, int],
    where: str,
    what: str = "values",
    show: Callable[[int], str] = str,
) -> tuple[np.ndarray | None, str]:
    """Map integer ``values`` through ``lut`` (value -> class id or 255) to a uint8 mask.

    Returns None and a problem naming ``where`` and every value the table lacks (each shown
    by ``show``); the problem is always one of values outside the schema.
    """
    present = [int(v) for v in np.unique(values)]
    missing = [v for v in present if v not in lut]
    if missing:
        shown = ", ".join(show(v) for v in missing[:10]) + (" ..." if len(missing) > 10 else "")
        return None, f"{where}: {what} {shown} are outside the schema"
    table = np.zeros(max(present) + 1, dtype=np.uint8)
    for v in present:
        table[v] = lut[v]
    return table[values], ""


def read_keymap(folder: Path) -> dict[str, str]:
    """The keymap an alges export wrote into ``folder`` (empty when there is none)."""
    path = folder / KEYMAP_FILE
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise AlgesError(f"{path} is not readable JSON: {exc}") from None
    if not isinstance(data, dict):
        raise AlgesError(f"{path} must map names to frame keys")
    return {str(k): str(v) for k, v in data.items()}
