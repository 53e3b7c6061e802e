"""Export a project's labels and its model (safetensors).

Label formats: index PNGs, a CholecSeg8k tree, and (each in its module of :mod:`.formats`) an
nnU-Net v2 raw dataset, COCO JSON with RLE segments, and CVAT's segmentation mask 1.1; this
module dispatches to them (:data:`LABEL_FORMATS`).

Every export is staged: files are written (atomically) into a hidden sibling folder
``.<name>.partial-<pid>`` which is renamed to the target only when everything is written. A
read-only or full target therefore raises an :class:`~.errors.AlgesError` naming it, and leaves
nothing half-written behind. The target must not exist or be an empty folder.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from alges_napari.core.errors import AlgesError, MaskError
from alges_napari.core.project.effort import EFFORT_CSV, effort_csv, effort_records
from alges_napari.core.project.files import atomic_write_bytes, atomic_write_json, fsync_folder
from alges_napari.core.project.formats import coco, cvat, nnunet
from alges_napari.core.project.formats import write_png as _write_png
from alges_napari.core.project.project import Project, key_to_relpath

#: Every label export format, in the order the CLI and the widget offer them.
LABEL_FORMATS = ("index", "cholecseg8k", "nnunet", "coco", "cvat-mask")
#: The formats written by a module of .formats: ``write(project, keys, frames, stage, **opts)``.
_FORMAT_WRITERS = {"nnunet": nnunet.write, "coco": coco.write, "cvat-mask": cvat.write}

#: A key that already has CholecSeg8k's shape keeps its place in an exported tree.
_CHOLEC_KEY = re.compile(r"^video\d+/video\d+_\d+/frame_\d+_endo$")


@contextlib.contextmanager
def staged_dir(out: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a hidden staging folder that becomes ``out`` when the block succeeds.

    Failure and folder state agree: when this raises, ``out`` is as it was before (absent, or
    the empty folder it was) and no staging folder remains, so the same export can be run
    again; when it returns, ``out`` holds everything, durably.

    Raises
    ------
    AlgesError
        When ``out`` exists and is not an empty folder, or cannot be written.
    """
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise AlgesError(f"export target {out} exists and is not an empty folder")
    existed = out.is_dir()
    stage = out.parent / f".{out.name}.partial-{os.getpid()}"
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(stage, ignore_errors=True)
        stage.mkdir()
    except OSError as exc:
        raise AlgesError(f"cannot write to {out}: {exc.strerror or exc}") from exc
    try:
        yield stage
        if existed:
            out.rmdir()  # rename(2) does not replace a directory on every platform
        os.replace(stage, out)
        # Until its folder is synced the rename may not survive a power cut: a failure here
        # is a failed export, and the folder must say so too (see _undo).
        fsync_folder(out.parent)
    except BaseException as exc:
        _undo(out, stage, existed)
        if isinstance(exc, OSError):
            raise AlgesError(f"cannot write to {out}: {exc.strerror or exc}") from exc
        raise


def _undo(out: Path, stage: Path, existed: bool) -> None:
    """Put ``out`` back as it was before the export; remove the staging folder."""
    if out.is_dir() and not stage.exists():
        with contextlib.suppress(OSError):
            os.replace(out, stage)  # out vanishes at once, not file by file
    shutil.rmtree(stage, ignore_errors=True)
    if existed and not out.exists():
        with contextlib.suppress(OSError):
            out.mkdir()


def as_index_masks(data: Any, name: str = "labels") -> np.ndarray:
    """Return ``data`` as uint8 index masks, checking every value fits (0-255).

    Raises
    ------
    MaskError
        When the data is not integer, or holds values outside 0-255.
    """
    arr = np.asarray(data)
    if not np.issubdtype(arr.dtype, np.integer) and arr.dtype != bool:
        raise MaskError(f"{name}: labels must be integers, got {arr.dtype}")
    if arr.size and (int(arr.min()) < 0 or int(arr.max()) > 255):
        raise MaskError(
            f"{name}: label values {int(arr.min())}..{int(arr.max())} do not fit an 8-bit index PNG"
        )
    return arr.astype(np.uint8, copy=False)


def write_index_pngs(
    out: str | os.PathLike[str], masks: Iterable[tuple[str, np.ndarray]]
) -> list[Path]:
    """Write ``(relative name, mask)`` pairs as index PNGs into a new folder ``out`` (staged).

    Returns
    -------
    list of Path
        The files written, under their final location.
    """
    out = Path(out)
    names = []
    with staged_dir(out) as stage:
        for rel, mask in masks:
            _write_png(stage / f"{rel}.png", as_index_masks(mask, rel))
            names.append(f"{rel}.png")
    return [out / n for n in names]


class ExportWarning(UserWarning):
    """Labels were exported, but some frames could not be read to go with them."""


def export_labels(
    project: Project,
    out: str | os.PathLike[str],
    fmt: str = "index",
    validation_as_test: bool = False,
) -> Path:
    """Export every accepted label of ``project`` (validation frames included).

    ``labels/`` is the source of truth: every label file is exported, also when its frame
    cannot be read (a truncated frame left out of the source, a moved frame folder, a folder
    that gained a frame of another size). The "index" format needs no frame at all; the
    "cholecseg8k" format writes such a label's masks without the frame image and says which
    frames could not be read in one :class:`ExportWarning`.

    Parameters
    ----------
    project : Project
        An open project (read-only is enough).
    out : path-like
        A new folder.
    fmt : {"index", "cholecseg8k", "nnunet", "coco", "cvat-mask"}
        "index": ``<key>.png`` index masks mirroring the label tree (255 = ignore).
        "cholecseg8k": ``videoXX/videoXX_<start>/frame_<n>_endo.png`` frames with
        ``_endo_color_mask.png``, ``_endo_watershed_mask.png`` and ``_endo_mask.png`` beside them.
        Keys not already shaped like CholecSeg8k's go to ``video01/video01_00000/frame_<i>_endo``
        (``i`` = the frame's index in the source; labels of frames the source does not list
        are numbered after its last frame) and ``keymap.json`` maps them back.
        Both write ``effort.csv`` beside the labels, one row per label by frame key
        (:func:`~.effort.effort_csv`).
        "nnunet": an nnU-Net v2 raw dataset (:mod:`.formats.nnunet`; labels whose frame cannot
        be read are left out, with the same warning). "coco": ``annotations.json``, one RLE
        segment per class and frame (:mod:`.formats.coco`). "cvat-mask": CVAT's segmentation
        mask 1.1 (:mod:`.formats.cvat`). Each of these three lists the class schema in its own
        files and writes ``alges_keymap.json`` (names -> frame keys) where its names are not
        the keys.
    validation_as_test : bool
        "nnunet" only: validation frames go to ``imagesTs``/``labelsTs``, not the training cases.

    Returns
    -------
    Path
        ``out``.

    Raises
    ------
    AlgesError
        The project has no accepted label (nothing is created), or ``out`` is not a new or
        empty folder.
    MaskError
        A label file holds values outside the schema or has the wrong size (nothing is
        exported; see :meth:`Project.load_label`).
    """
    if fmt not in LABEL_FORMATS:
        raise AlgesError(
            f"unknown label export format {fmt!r}; use one of {', '.join(LABEL_FORMATS)}"
        )
    keys = project.label_keys()
    if not keys:
        raise AlgesError(
            f"project {project.root} has no accepted labels: nothing to export (accept a label "
            "first)"
        )
    effort = effort_csv(effort_records(project, keys)).encode("utf-8")
    if fmt == "index":
        with staged_dir(out) as stage:
            for key in keys:
                rel = key_to_relpath(key).as_posix()
                _write_png(stage / f"{rel}.png", as_index_masks(project.load_label(key), rel))
            atomic_write_bytes(stage / EFFORT_CSV, effort)
        return Path(out)
    if fmt in _FORMAT_WRITERS:
        return _export_format(project, keys, Path(out), fmt, validation_as_test)
    schema = project.schema
    if schema.watershed is None:
        raise AlgesError(f"class schema {schema.name!r} has no watershed values: export as 'index'")
    frames, why_not = _frames_of(project)
    names = _cholec_names(keys, frames)
    unread: dict[str, str] = {}
    with staged_dir(out) as stage:
        for key in keys:
            problem = _write_cholec_frame(project, frames, key, stage / names[key])
            if problem is not None:
                unread[key] = problem
        atomic_write_json(stage / "keymap.json", {names[k]: k for k in keys})
        atomic_write_bytes(stage / EFFORT_CSV, effort)
    if unread:
        _warn_unread(Path(out), unread, len(keys), why_not)
    return Path(out)


def _export_format(
    project: Project, keys: list[str], out: Path, fmt: str, validation_as_test: bool
) -> Path:
    """Export ``keys`` with the writer of ``fmt`` (from :mod:`.formats`), staged."""
    options = {"validation_as_test": validation_as_test} if fmt == "nnunet" else {}
    frames, why_not = _frames_of(project)
    with staged_dir(out) as stage:
        unread = _FORMAT_WRITERS[fmt](project, keys, frames, stage, **options)
    if unread:
        _warn_unread(out, unread, len(keys), why_not, "left out, because their frame")
    return out


def _frames_of(project: Project) -> tuple[Any, str]:
    """The project's frame source, or None and why it cannot be opened."""
    try:
        return project.frames, ""
    except AlgesError as exc:
        return None, str(exc)


def _cholec_names(keys: list[str], frames: Any) -> dict[str, str]:
    """Each key's CholecSeg8k base name (see :func:`export_labels`)."""
    names, elsewhere = {}, []
    for key in keys:
        if _CHOLEC_KEY.match(key):
            names[key] = key
            continue
        try:
            names[key] = f"video01/video01_00000/frame_{frames.index_of(key)}_endo"
        except (AttributeError, AlgesError):  # no source, or a frame it does not list
            elsewhere.append(key)
    first = len(frames) if frames is not None else 0
    for i, key in enumerate(elsewhere, start=first):
        names[key] = f"video01/video01_00000/frame_{i}_endo"
    return names


def _write_cholec_frame(project: Project, frames: Any, key: str, base: Path) -> str | None:
    """Write a label's three masks and its frame; say why the frame could not be, if so."""
    from alges_napari.core.data.masks import index_to_color, index_to_watershed

    mask = project.load_label(key)
    color = index_to_color(mask, project.schema)
    watershed = index_to_watershed(mask, project.schema)
    _write_png(base.with_name(base.name + "_color_mask.png"), color)
    _write_png(base.with_name(base.name + "_watershed_mask.png"), watershed)
    # CholecSeg8k's "_endo_mask.png" holds the watershed values in three channels.
    _write_png(base.with_name(base.name + "_mask.png"), np.repeat(watershed[..., None], 3, axis=2))
    if frames is None:
        return "the frame source cannot be opened"
    try:
        frame = np.asarray(frames.frame(key))
    except AlgesError as exc:
        return str(exc)
    _write_png(base.with_name(base.name + ".png"), frame)
    return None


def _warn_unread(
    out: Path,
    unread: dict[str, str],
    total: int,
    why_not: str,
    what: str = "exported without their frame image, because the frame",
) -> None:
    if why_not:
        detail = f"the frame source cannot be opened: {why_not}"
    else:
        shown = "; ".join(f"{k} ({why})" for k, why in list(unread.items())[:10])
        detail = shown + (f"; ... {len(unread) - 10} more" if len(unread) > 10 else "")
    warnings.warn(
        f"{out}: {len(unread)} of {total} labels {what} could not be read: {detail}",
        ExportWarning,
        stacklevel=3,
    )


def export_model(
    project: Project, out: str | os.PathLike[str], round_index: int | None = None
) -> Path:
    """Export a round's model (default: the latest) as safetensors plus metadata.

    The checkpoint is loaded (without pickle) and re-saved, so the exported files are exactly
    what ``model.load_checkpoint`` reads; ``classes.json`` carries the class schema.

    Returns
    -------
    Path
        The exported ``model.safetensors`` inside ``out``.
    """
    from alges_napari.core.learn.model import load_checkpoint, save_checkpoint

    src = (
        project.latest_checkpoint() if round_index is None else project.checkpoint_path(round_index)
    )
    if src is None or not src.is_file():
        raise AlgesError(
            f"project {project.root} has no checkpoint{'' if round_index is None else f' for round {round_index}'} to export"
        )
    model, spec, extra = load_checkpoint(src)
    with staged_dir(out) as stage:
        save_checkpoint(
            model, stage / "model.safetensors", spec, extra=dict(extra or {}, source=src.name)
        )
        atomic_write_json(stage / "classes.json", project.schema.to_json())
    return Path(out) / "model.safetensors"
