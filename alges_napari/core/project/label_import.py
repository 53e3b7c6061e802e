"""Import labels made elsewhere into a project as accepted labels, with a report.

Formats: ``masks`` (an ``images/`` + ``masks/`` folder, or a folder of masks: index PNGs, or
colour masks in the schema's colours), ``coco`` (polygons and RLE), ``cvat-mask`` (CVAT's
segmentation mask 1.1) and ``nnunet`` (a raw dataset). Each label is matched to a project frame
by name (:func:`~.formats.match_names`); every label goes through the project's one write gate,
:meth:`~.project.Project.accept_label`, which records where it came from (``origin`` in the
frame's entry of ``state.json``). Nothing is dropped without a word: the :class:`ImportReport`
names every file that matched no frame, whose values are outside the schema, whose size is not
the frames', and every frame that already had an accepted label (kept unless ``overwrite``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from alges_napari.core.data.classes import IGNORE_INDEX
from alges_napari.core.errors import AlgesError
from alges_napari.core.project.formats import (
    COLOUR_IMAGE,
    FoundLabel,
    coco,
    cvat,
    map_values,
    match_names,
    nnunet,
    read_label_png,
    read_rgb_png,
)
from alges_napari.core.project.project import LabelExistsError, Project

#: Every import format, in the order the CLI and the widget offer them.
IMPORT_FORMATS = ("masks", "coco", "cvat-mask", "nnunet")
_MASK_SUFFIXES = (".png", ".tif", ".tiff", ".bmp")


@dataclass
class ImportReport:
    """What an import did, file by file.

    Attributes
    ----------
    imported : list of (str, str)
        (frame key, file) of each label accepted.
    unmatched : list of str
        Files whose name matches no frame of the project.
    out_of_schema : list of str
        One line per file holding a class id or colour the schema lacks (not imported).
    invalid : list of str
        One line per file that could not be imported for another reason (size, unreadable,
        no labelled pixel).
    kept : list of (str, str)
        (frame key, file) where the frame already had an accepted label and ``overwrite`` was
        not asked: the existing label stays.
    overwritten : list of str
        Frame keys whose accepted label was replaced (``overwrite=True``).
    """

    imported: list[tuple[str, str]] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)
    out_of_schema: list[str] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)
    kept: list[tuple[str, str]] = field(default_factory=list)
    overwritten: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """True when every label found was imported."""
        return not (self.unmatched or self.out_of_schema or self.invalid or self.kept)

    def lines(self, limit: int = 20) -> list[str]:
        """The report for people: a summary line, then each problem (``limit`` per kind)."""
        out = [
            f"imported {len(self.imported)} label(s)"
            + (f" ({len(self.overwritten)} replacing accepted labels)" if self.overwritten else "")
            + f"; {len(self.unmatched)} matched no frame; {len(self.out_of_schema)} outside the "
            f"schema; {len(self.invalid)} invalid; {len(self.kept)} kept (frame already labelled)"
        ]
        sections = (
            ("matched no frame of the project", self.unmatched),
            ("outside the schema, not imported", self.out_of_schema),
            ("not imported", self.invalid),
            (
                "already labelled, kept (use --overwrite to replace)",
                [f"{k} ({f})" for k, f in self.kept],
            ),
        )
        for title, items in sections:
            for item in items[:limit]:
                out.append(f"  {title}: {item}")
            if len(items) > limit:
                out.append(f"  ... {len(items) - limit} more {title}")
        return out


def read_labels(fmt: str, path: str | os.PathLike[str], schema: Any) -> list[FoundLabel]:
    """Read every label of ``path`` in format ``fmt`` (see :data:`IMPORT_FORMATS`).

    Raises
    ------
    AlgesError
        Unknown format, or ``path`` is not a dataset of that format.
    """
    path = Path(path)
    if fmt not in IMPORT_FORMATS:
        raise AlgesError(f"unknown import format {fmt!r}; use one of {', '.join(IMPORT_FORMATS)}")
    if not path.exists():
        raise AlgesError(f"{path} does not exist")
    readers: dict[str, Callable[[Path, Any], list[FoundLabel]]] = {
        "masks": read_masks,
        "coco": coco.read,
        "cvat-mask": cvat.read,
        "nnunet": nnunet.read,
    }
    return readers[fmt](path, schema)


def import_labels(
    project: Project,
    fmt: str,
    path: str | os.PathLike[str],
    overwrite: bool = False,
) -> ImportReport:
    """Import the labels of ``path`` (format ``fmt``) into ``project`` as accepted labels.

    Parameters
    ----------
    project : Project
        Open for writing.
    fmt : {"masks", "coco", "cvat-mask", "nnunet"}
        The dataset's format.
    path : path-like
        The dataset folder (COCO: the JSON file, or a folder holding one).
    overwrite : bool
        Replace frames' existing accepted labels; without it they are kept and reported.

    Returns
    -------
    ImportReport

    Raises
    ------
    AlgesError
        The dataset cannot be read at all (nothing is imported).
    """
    found = read_labels(fmt, path, project.schema)
    if not found:
        raise AlgesError(f"{path}: no label files found for format {fmt!r}")
    matched, unmatched = match_names(found, project.keys)
    report = ImportReport(unmatched=[f.file for f in unmatched])
    shape = tuple(project.frames.shape)
    for label, key in matched:
        if label.mask is None:
            (report.out_of_schema if label.outside else report.invalid).append(label.problem)
            continue
        if label.mask.shape != shape:
            report.invalid.append(
                f"{label.file}: {label.mask.shape[1]}x{label.mask.shape[0]} (WxH), but frame "
                f"{key!r} is {shape[1]}x{shape[0]}"
            )
            continue
        if not (label.mask != IGNORE_INDEX).any():
            report.invalid.append(f"{label.file}: labels no pixel (everything is unlabelled)")
            continue
        had = project.has_label(key)
        origin = {"format": fmt, "file": label.file, "name": label.name}
        try:
            # replace=False: checked again inside the write gate, so a label accepted in the
            # widget while this import runs is kept too
            project.accept_label(key, label.mask, origin=origin, replace=overwrite)
        except LabelExistsError:
            report.kept.append((key, label.file))
            continue
        report.imported.append((key, label.file))
        if had:
            report.overwritten.append(key)
    return report


# ---------------------------------------------------------------- the generic masks layout


def _mask_folder(path: Path) -> Path:
    """``masks/`` (or ``labels/``) of an ``images/`` + ``masks/`` layout, else ``path`` itself."""
    for sub in ("masks", "labels"):
        if (path / sub).is_dir():
            return path / sub
    return path


def read_masks(path: Path, schema: Any) -> list[FoundLabel]:
    """Read a folder of masks: index images (class ids, 255 ignore) or colour masks.

    A mask of three unequal channels is a colour mask and must use the schema's colours
    exactly (white is ignore); any other colour, or an id outside the schema, is reported.
    Names are the paths below ``masks/`` without suffix (``video01/frame_3``); a trailing
    ``_mask`` is dropped (``frame_3_mask.png`` is frame ``frame_3``).
    """
    folder = _mask_folder(Path(path))
    ids = {v: v for v in range(schema.num_classes)} | {IGNORE_INDEX: IGNORE_INDEX}
    colours = {tuple(c): i for i, c in enumerate(schema.colors)}
    colours.setdefault((255, 255, 255), IGNORE_INDEX)
    found = []
    for file in sorted(p for p in folder.rglob("*") if p.suffix.lower() in _MASK_SUFFIXES):
        if file.name.startswith("."):
            continue
        name = file.relative_to(folder).with_suffix("").as_posix().removesuffix("_mask")
        values, problem = read_label_png(file)
        mask, outside = None, False
        if values is not None:
            mask, problem = map_values(values, ids, str(file), "class ids")
            outside = bool(problem)
        elif problem.endswith(COLOUR_IMAGE):
            rgb, problem = read_rgb_png(file)
            if rgb is not None:
                mask, problem = _colour_mask(rgb, colours, file)
                outside = bool(problem)
        if outside:
            problem += f" (schema {schema.name!r}: ids 0..{schema.num_classes - 1}, 255 ignore)"
        found.append(FoundLabel(name, str(file), mask, problem, outside=outside))
    return found


def _colour_mask(
    rgb: np.ndarray, colours: dict[tuple[int, ...], int], file: Path
) -> tuple[np.ndarray | None, str]:
    codes = (rgb[..., 0].astype(np.int64) << 16) | (rgb[..., 1].astype(np.int64) << 8) | rgb[..., 2]
    lut = {(c[0] << 16) | (c[1] << 8) | c[2]: i for c, i in colours.items()}
    return map_values(codes, lut, str(file), "colours", show=lambda v: f"#{v:06x}")
