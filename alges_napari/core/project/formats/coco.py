"""COCO JSON with one RLE segment per class and frame (``annotations.json``).

The layout CVAT, Label Studio, Detectron2 and MMDetection read for segmentation: ``images``
(``file_name`` is the frame's key with its source file's suffix, ``alges_key`` the key itself),
``categories`` (id = class id + 1, as COCO keeps 0 free; the schema's name and colour), and
``annotations`` whose ``segmentation`` is compressed RLE (``{"size": [h, w], "counts": str}``)
made by pycocotools, with ``area`` and ``bbox`` from it, ``iscrowd`` 0 (Detectron2 and MMDetection
skip crowd regions in training). Ignored pixels (255) are in no annotation. ``info`` carries the
class schema (``alges_class_schema``).

Reading takes polygons, uncompressed and compressed RLE; categories map to the schema by name.
Where annotations overlap, the later one wins.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from alges_napari.core.data.classes import IGNORE_INDEX
from alges_napari.core.errors import AlgesError
from alges_napari.core.project.files import atomic_write_json
from alges_napari.core.project.formats import FoundLabel, frame_suffix, schema_note

ANNOTATIONS = "annotations.json"


def write(project: Any, keys: list[str], frames: Any, stage: Path) -> dict[str, str]:
    """Write ``keys``'s labels as ``annotations.json`` into ``stage``; no frame is read.

    Returns
    -------
    dict
        Empty: COCO names its frames, it does not need their pixels.
    """
    from pycocotools import mask as rle

    schema = project.schema
    images, annotations = [], []
    for image_id, key in enumerate(keys, start=1):
        mask = project.load_label(key)
        suffix = frame_suffix(frames, key) if frames is not None else ".png"
        h, w = mask.shape
        images.append(
            {"id": image_id, "file_name": key + suffix, "height": h, "width": w, "alges_key": key}
        )
        for cls in np.unique(mask):
            if cls == IGNORE_INDEX:
                continue
            seg = rle.encode(np.asfortranarray(mask == cls, dtype=np.uint8))
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image_id,
                    "category_id": int(cls) + 1,
                    "segmentation": {"size": [h, w], "counts": seg["counts"].decode("ascii")},
                    "area": int(rle.area(seg)),
                    "bbox": [float(v) for v in rle.toBbox(seg)],
                    "iscrowd": 0,
                }
            )
    categories = [
        {"id": i + 1, "name": name, "supercategory": "", "color": list(color)}
        for i, (name, color) in enumerate(zip(schema.names, schema.colors, strict=True))
    ]
    info = {
        "description": f"accepted labels of {project.root.name}, exported by alges-napari",
        "alges_class_schema": schema_note(schema),
    }
    doc = {
        "info": info,
        "licenses": [],
        "images": images,
        "categories": categories,
        "annotations": annotations,
    }
    atomic_write_json(stage / ANNOTATIONS, doc)
    return {}


def annotation_file(path: Path) -> Path:
    """The COCO JSON file ``path`` names: itself, or the one ``annotations.json`` (or only
    ``*.json``) inside a folder."""
    path = Path(path)
    if path.is_file():
        return path
    if (path / ANNOTATIONS).is_file():
        return path / ANNOTATIONS
    found = sorted(path.glob("*.json")) + sorted(path.glob("annotations/*.json"))
    if len(found) == 1:
        return found[0]
    raise AlgesError(
        f"{path}: no COCO file ({ANNOTATIONS}, or one *.json); name the JSON file with --from"
    )


def read(path: Path, schema: Any) -> list[FoundLabel]:
    """Read every image of a COCO file as one label of class ids (polygons and RLE).

    Raises
    ------
    AlgesError
        The file is not readable COCO JSON (no ``images``, ``annotations``, ``categories``).
    """
    file = annotation_file(path)
    try:
        doc = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise AlgesError(f"{file} is not readable JSON: {exc}") from None
    if not isinstance(doc, dict) or not all(
        isinstance(doc.get(k), list) for k in ("images", "annotations", "categories")
    ):
        raise AlgesError(f"{file} is not a COCO file (images, annotations, categories lists)")
    classes = _category_classes(doc["categories"], schema)
    by_image: dict[Any, list[dict[str, Any]]] = {}
    for ann in doc["annotations"]:
        by_image.setdefault(ann.get("image_id"), []).append(ann)
    found = []
    for image in doc["images"]:
        where = f"{file}#image {image.get('id')} ({image.get('file_name')})"
        name = str(Path(str(image.get("file_name", ""))).with_suffix("").as_posix())
        anns = by_image.get(image.get("id"), [])
        outside = _outside(anns, classes)
        if outside:
            mask, problem = (
                None,
                (
                    f"{where}: categories {', '.join(outside)} are not classes of schema "
                    f"{schema.name!r}"
                ),
            )
        else:
            mask, problem = _paint(image, anns, classes, where)
        key = None if image.get("alges_key") is None else str(image["alges_key"])
        found.append(FoundLabel(name, where, mask, problem, key, bool(outside)))
    return found


def _category_classes(categories: list[dict[str, Any]], schema: Any) -> dict[Any, int | str]:
    """Category id -> class id, or the category's name where the schema has no such class."""
    out: dict[Any, int | str] = {}
    for cat in categories:
        name = str(cat.get("name"))
        out[cat.get("id")] = schema.names.index(name) if name in schema.names else name
    return out


def _outside(anns: list[dict[str, Any]], classes: dict[Any, int | str]) -> list[str]:
    """The categories of ``anns`` that are no schema class (or no category at all), named."""
    names = set()
    for ann in anns:
        cat = ann.get("category_id")
        cls = classes.get(cat)
        if cls is None:
            names.add(f"id {cat} (not in the file's categories)")
        elif isinstance(cls, str):
            names.add(f"{cls!r} (id {cat})")
    return sorted(names)


def _paint(
    image: dict[str, Any],
    anns: list[dict[str, Any]],
    classes: dict[Any, int | str],
    where: str,
) -> tuple[np.ndarray | None, str]:
    from pycocotools import mask as rle

    try:
        h, w = int(image["height"]), int(image["width"])
    except (KeyError, TypeError, ValueError):
        return None, f"{where}: the image entry has no height and width"
    mask = np.full((h, w), IGNORE_INDEX, np.uint8)
    for ann in anns:
        seg = ann.get("segmentation")
        try:
            if isinstance(seg, list):  # polygons
                region = rle.merge(rle.frPyObjects(seg, h, w))
            elif isinstance(seg, dict) and isinstance(seg.get("counts"), list):
                region = rle.frPyObjects(seg, h, w)
            elif isinstance(seg, dict):
                region = {"size": seg["size"], "counts": str(seg["counts"]).encode("ascii")}
            else:
                raise TypeError(f"segmentation {type(seg).__name__}")
            painted = rle.decode(region).astype(bool)
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            return None, f"{where}: annotation {ann.get('id')} has no readable segmentation ({exc})"
        if painted.shape != (h, w):
            return None, f"{where}: annotation {ann.get('id')} is {painted.shape}, not {(h, w)}"
        mask[painted] = classes[ann.get("category_id")]
    return mask, ""
