"""CVAT "Segmentation mask 1.1": colour masks a CVAT task imports for review.

Layout (CVAT's, from the PASCAL VOC one)::

    labelmap.txt                       # label:color_rgb:parts:actions, one class a line
    SegmentationClass/<frame>.png      # RGB: each pixel its class's colour
    ImageSets/Segmentation/default.txt # the frame names, one a line

Frame names are the keys' paths (``video01/video01_00080/frame_80_endo``), as CVAT names
images uploaded from a folder tree. CVAT paints unlabelled pixels black under the label
``background``: the first line of ``labelmap.txt`` is that (``ignore`` when a class of the
schema is itself called ``background``) and 255 (ignore) pixels are black; a class whose colour
is black cannot be told from them, so such a schema is refused. Reading maps each label of
``labelmap.txt`` to the schema class of its name, and the black unlabelled one to 255.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from alges_napari.core.data.classes import IGNORE_INDEX
from alges_napari.core.errors import AlgesError
from alges_napari.core.project.files import atomic_write_bytes, atomic_write_json
from alges_napari.core.project.formats import (
    KEYMAP_FILE,
    FoundLabel,
    read_keymap,
    read_rgb_png,
    write_png,
)
from alges_napari.core.project.paths import key_to_relpath

LABELMAP = "labelmap.txt"
MASKS = "SegmentationClass"
IMAGE_SET = "ImageSets/Segmentation/default.txt"
UNLABELLED_NAMES = ("background", "ignore")


def unlabelled_name(schema: Any) -> str:
    """The name of the black "no class" line: ``background``, or ``ignore`` when a class has it."""
    return "ignore" if "background" in {n.lower() for n in schema.names} else "background"


def labelmap_text(schema: Any) -> str:
    """``labelmap.txt`` of ``schema``.

    Raises
    ------
    AlgesError
        A class is black (CVAT's unlabelled colour), or named like the unlabelled line.
    """
    empty = unlabelled_name(schema)
    lines = ["# label:color_rgb:parts:actions", f"{empty}:0,0,0::"]
    for i, (name, color) in enumerate(zip(schema.names, schema.colors, strict=True)):
        if tuple(color) == (0, 0, 0) or name.lower() == empty:
            raise AlgesError(
                f"class {i} ({name!r}) of schema {schema.name!r} is black or named {empty!r}, "
                "which CVAT uses for unlabelled pixels: change its colour or name to export "
                "as cvat-mask"
            )
        if ":" in name:
            raise AlgesError(f"class {i} ({name!r}): CVAT's labelmap.txt cannot hold a ':'")
        lines.append(f"{name}:{color[0]},{color[1]},{color[2]}::")
    return "\n".join(lines) + "\n"


def write(project: Any, keys: list[str], frames: Any, stage: Path) -> dict[str, str]:
    """Write ``keys``'s labels as a CVAT mask 1.1 folder into ``stage``; no frame is read."""
    from alges_napari.core.data.masks import index_to_color

    schema = project.schema
    atomic_write_bytes(stage / LABELMAP, labelmap_text(schema).encode("utf-8"))
    names = {}
    for key in keys:
        mask = project.load_label(key)
        color = index_to_color(mask, schema)
        color[mask == IGNORE_INDEX] = 0
        name = key_to_relpath(key).as_posix()
        write_png(stage / MASKS / f"{name}.png", color)
        names[name] = key
    (stage / IMAGE_SET).parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(stage / IMAGE_SET, "".join(f"{n}\n" for n in names).encode("utf-8"))
    atomic_write_json(stage / KEYMAP_FILE, names)
    return {}


def read_labelmap(path: Path) -> list[tuple[str, tuple[int, int, int]]]:
    """The (name, colour) lines of a ``labelmap.txt``, read by the class-file reader
    (:func:`~alges_napari.core.data.frames.classfile.parse_label_map`) that frame folders use.

    Raises
    ------
    AlgesError
        The file is missing or unreadable, or is not a CVAT label map (a line that is not
        ``name:r,g,b:...`` is named).
    """
    from alges_napari.core.data.frames.classfile import parse_label_map

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise AlgesError(f"{path.parent} is not a CVAT mask 1.1 folder (no {LABELMAP})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise AlgesError(f"cannot read {path}: {exc}") from None
    names, colors = parse_label_map(text, str(path))
    if colors is None:
        raise AlgesError(f"{path} is not a CVAT label map: its lines are not 'name:r,g,b:parts:actions'")
    if any(not all(0 <= v <= 255 for v in c) for c in colors):
        raise AlgesError(f"{path}: a colour is outside 0..255")
    return [(n, (int(c[0]), int(c[1]), int(c[2]))) for n, c in zip(names, colors, strict=True)]


def read(path: Path, schema: Any) -> list[FoundLabel]:
    """Read the colour masks of a CVAT mask 1.1 folder as labels of class ids."""
    path = Path(path)
    table, unknown = {}, []
    for name, rgb in read_labelmap(path / LABELMAP):
        if name in schema.names:
            table[rgb] = schema.names.index(name)
        elif name.lower() in UNLABELLED_NAMES and rgb == (0, 0, 0):
            table[rgb] = IGNORE_INDEX
        else:
            unknown.append(name)
    keymap = read_keymap(path)
    found = []
    for file in sorted((path / MASKS).rglob("*.png")):
        if file.name.startswith("."):
            continue
        name = file.relative_to(path / MASKS).with_suffix("").as_posix()
        rgb, problem = read_rgb_png(file)
        mask = None
        if rgb is not None:
            mask, problem = _colours_to_ids(rgb, table, file, unknown, schema)
        outside = rgb is not None and mask is None
        found.append(FoundLabel(name, str(file), mask, problem, keymap.get(name), outside))
    return found


def _colours_to_ids(
    rgb: np.ndarray, table: dict[tuple[int, int, int], int], file: Path, unknown: list[str],
    schema: Any,
) -> tuple[np.ndarray | None, str]:  # fmt: skip
    codes = (rgb[..., 0].astype(np.int32) << 16) | (rgb[..., 1].astype(np.int32) << 8) | rgb[..., 2]
    uniq, inverse = np.unique(codes.ravel(), return_inverse=True)
    ids = np.zeros(len(uniq), np.uint8)
    missing = []
    for i, code in enumerate(uniq):
        colour = (int(code) >> 16 & 255, int(code) >> 8 & 255, int(code) & 255)
        if colour in table:
            ids[i] = table[colour]
        else:
            missing.append(colour)
    if missing:
        shown = ", ".join(str(c) for c in missing[:10]) + (" ..." if len(missing) > 10 else "")
        extra = f" (labelmap labels not in the schema: {', '.join(unknown)})" if unknown else ""
        return None, (f"{file}: colours {shown} are not classes of schema {schema.name!r}{extra}")
    return ids[inverse].reshape(codes.shape), ""
