"""nnU-Net v2 raw datasets: ``imagesTr/<case>_0000.png``, ``labelsTr/<case>.png``, ``dataset.json``.

As nnU-Net documents 2D natural images (its ``dataset_format.md``, and the road-segmentation
example Dataset120): one RGB PNG per case read as three channels (``channel_names`` R, G, B by
``NaturalImage2DIO``), labels as 8-bit PNGs of consecutive class ids with 0 the background.
nnU-Net names label 0 ``background`` whatever the schema calls it, and wants an ignore label to
be the highest value: an exported label's ignore pixels (255 here) are written as C, the number
of classes, and declared ``"ignore": C`` in ``dataset.json``, only when some label has any.
``dataset.json`` also carries the schema itself (``alges_class_schema``), which nnU-Net ignores.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from alges_napari.core.data.classes import IGNORE_INDEX
from alges_napari.core.errors import AlgesError
from alges_napari.core.project.files import atomic_write_json
from alges_napari.core.project.formats import (
    KEYMAP_FILE,
    FoundLabel,
    flat_name,
    map_values,
    read_frame,
    read_keymap,
    read_label_png,
    schema_note,
    write_png,
)

DATASET_JSON = "dataset.json"
FILE_ENDING = ".png"
CHANNELS = {"0": "R", "1": "G", "2": "B"}


def label_names(schema: Any, with_ignore: bool) -> dict[str, int]:
    """The ``labels`` of ``dataset.json``: name -> value, background 0 (and ignore C)."""
    labels = {"background": 0}
    reserved = {"background", "ignore"} if with_ignore else {"background"}
    for i, name in enumerate(schema.names[1:], start=1):
        if name in reserved:
            raise AlgesError(
                f"class {i} of schema {schema.name!r} is named {name!r}, which nnU-Net reserves "
                "for class 0 or the ignore label: rename it in the schema to export as nnunet"
            )
        labels[name] = i
    if with_ignore:
        labels["ignore"] = schema.num_classes
    return labels


def write(
    project: Any,
    keys: list[str],
    frames: Any,
    stage: Path,
    validation_as_test: bool = False,
) -> dict[str, str]:
    """Write ``keys``'s labels and frames as an nnU-Net v2 raw dataset into ``stage``.

    A label whose frame cannot be read is left out (nnU-Net needs both).

    Parameters
    ----------
    validation_as_test : bool
        Put validation frames into ``imagesTs``/``labelsTs`` instead of the training cases.

    Returns
    -------
    dict of str to str
        The keys left out, and why their frame could not be read.

    Raises
    ------
    AlgesError
        No frame could be read: the dataset would hold no case.
    """
    schema = project.schema
    held_out = set(project.validation_keys()) if validation_as_test else set()
    unread, keymap, n_train, any_ignore = {}, {}, 0, False
    for key in keys:
        frame, why = read_frame(frames, key)
        if frame is None:
            unread[key] = why
            continue
        mask = project.load_label(key)
        ignore = mask == IGNORE_INDEX
        any_ignore |= bool(ignore.any())
        values = np.where(ignore, np.uint8(schema.num_classes), mask)
        case = flat_name(key)
        kind = "Ts" if key in held_out else "Tr"
        write_png(stage / f"images{kind}" / f"{case}_0000{FILE_ENDING}", frame)
        write_png(stage / f"labels{kind}" / f"{case}{FILE_ENDING}", values)
        keymap[case] = key
        n_train += kind == "Tr"
    if not keymap:
        raise AlgesError(
            f"no frame of project {project.root} could be read, and an nnU-Net dataset needs "
            f"the images: {next(iter(unread.values()), 'no labels')}"
        )
    atomic_write_json(stage / DATASET_JSON, dataset_json(project, n_train, any_ignore))
    atomic_write_json(stage / KEYMAP_FILE, keymap)
    return unread


def dataset_json(project: Any, n_train: int, with_ignore: bool) -> dict[str, Any]:
    """``dataset.json`` of an export of ``project`` with ``n_train`` training cases."""
    return {
        "name": project.root.name,
        "description": "accepted labels exported by alges-napari",
        "channel_names": CHANNELS,
        "labels": label_names(project.schema, with_ignore),
        "numTraining": n_train,
        "file_ending": FILE_ENDING,
        "overwrite_image_reader_writer": "NaturalImage2DIO",
        "alges_class_schema": schema_note(project.schema),
    }


def read(path: Path, schema: Any) -> list[FoundLabel]:
    """Read the labels (``labelsTr`` and ``labelsTs``) of the nnU-Net raw dataset ``path``.

    Label values map to the schema by the names of ``dataset.json``'s ``labels``:
    ``background`` is class 0, ``ignore`` is 255, any other name must be a schema class.

    Raises
    ------
    AlgesError
        ``path`` has no readable ``dataset.json``, or its ``file_ending`` is not ``.png``.
    """
    path = Path(path)
    info = _read_dataset_json(path)
    ending = info.get("file_ending", FILE_ENDING)
    if ending != FILE_ENDING:
        raise AlgesError(
            f"{path / DATASET_JSON}: file_ending {ending!r}; only 2D PNG datasets are imported"
        )
    lut, bad_names = _value_table(info.get("labels"), schema, path / DATASET_JSON)
    keymap = read_keymap(path)
    found = []
    for sub in ("labelsTr", "labelsTs"):
        for file in sorted((path / sub).glob(f"*{ending}")):
            if file.name.startswith("."):
                continue
            name = file.name[: -len(ending)]
            values, problem = read_label_png(file)
            mask, outside = None, False
            if values is not None:
                mask, problem = map_values(values, lut, str(file), "label values")
                outside = bool(problem)
                if problem and bad_names:
                    problem += f" ({bad_names})"
            found.append(FoundLabel(name, str(file), mask, problem, keymap.get(name), outside))
    return found


def _read_dataset_json(path: Path) -> dict[str, Any]:
    file = path / DATASET_JSON
    try:
        info = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AlgesError(f"{path} is not an nnU-Net raw dataset (no {DATASET_JSON})") from None
    except (OSError, ValueError) as exc:
        raise AlgesError(f"{file} is not readable JSON: {exc}") from None
    if not isinstance(info, dict) or not isinstance(info.get("labels"), dict):
        raise AlgesError(f"{file} has no 'labels' object")
    return info


def _value_table(labels: dict[str, Any], schema: Any, where: Path) -> tuple[dict[int, int], str]:
    """Label value -> class id (255 for ignore), and the names that are not schema classes."""
    lut: dict[int, int] = {}
    unknown = []
    for name, value in labels.items():
        if isinstance(value, bool) or not isinstance(value, int):
            raise AlgesError(
                f"{where}: label {name!r} is {value!r}; region labels are not imported, only "
                "one value per class"
            )
        if name == "background":
            lut[value] = 0
        elif name == "ignore":
            lut[value] = IGNORE_INDEX
        elif name in schema.names:
            lut[value] = schema.names.index(name)
        else:
            unknown.append(f"{name!r} = {value}")
    why = f"labels {', '.join(unknown)} of {where.name} are not classes of schema {schema.name!r}"
    return lut, why if unknown else ""
