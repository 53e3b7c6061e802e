"""Export a project's labels (index PNG or a CholecSeg8k tree) and its model (safetensors).

Every export is staged: files are written (atomically) into a hidden sibling folder
``.<name>.partial-<pid>`` which is renamed to the target only when everything is written. A
read-only or full target therefore raises an :class:`~.errors.AlgesError` naming it, and leaves
nothing half-written behind. The target must not exist or be an empty folder.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from alges_napari.core.errors import AlgesError, MaskError
from alges_napari.core.project.files import atomic_write_bytes, atomic_write_json, fsync_folder
from alges_napari.core.project.project import Project, encode_index_png, key_to_relpath

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


def _write_png(path: Path, array: np.ndarray) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    if array.ndim == 2:
        atomic_write_bytes(path, encode_index_png(array))
        return
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(array, dtype=np.uint8)).save(buf, format="PNG")
    atomic_write_bytes(path, buf.getvalue())


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


def export_labels(project: Project, out: str | os.PathLike[str], fmt: str = "index") -> Path:
    """Export every accepted label of ``project`` (validation frames included).

    Parameters
    ----------
    project : Project
        An open project (read-only is enough).
    out : path-like
        A new folder.
    fmt : {"index", "cholecseg8k"}
        "index": ``<key>.png`` index masks mirroring the label tree (255 = ignore).
        "cholecseg8k": ``videoXX/videoXX_<start>/frame_<n>_endo.png`` frames with
        ``_endo_color_mask.png``, ``_endo_watershed_mask.png`` and ``_endo_mask.png`` beside them.
        Keys not already shaped like CholecSeg8k's go to ``video01/video01_00000/frame_<i>_endo``
        (``i`` = the frame's index in the source) and ``keymap.json`` maps them back.

    Returns
    -------
    Path
        ``out``.

    Raises
    ------
    AlgesError
        The project has no accepted label (nothing is created), or ``out`` is not a new or
        empty folder.
    """
    keys = [k for k in project.keys if project.has_label(k)]
    if not keys:
        raise AlgesError(
            f"project {project.root} has no accepted labels: nothing to export (accept a label "
            "first)"
        )
    if fmt == "index":
        write_index_pngs(out, ((key_to_relpath(k).as_posix(), project.load_label(k)) for k in keys))
        return Path(out)
    if fmt != "cholecseg8k":
        raise AlgesError(f"unknown label export format {fmt!r}; use 'index' or 'cholecseg8k'")
    schema = project.schema
    if schema.watershed is None:
        raise AlgesError(f"class schema {schema.name!r} has no watershed values: export as 'index'")
    with staged_dir(out) as stage:
        keymap = {}
        for key in keys:
            base = _cholec_base(project, key)
            keymap[base] = key
            _write_cholec_frame(project, key, stage / base)
        atomic_write_json(stage / "keymap.json", keymap)
    return Path(out)


def _cholec_base(project: Project, key: str) -> str:
    if _CHOLEC_KEY.match(key):
        return key
    return f"video01/video01_00000/frame_{project.frames.index_of(key)}_endo"


def _write_cholec_frame(project: Project, key: str, base: Path) -> None:
    from alges_napari.core.data.masks import index_to_color, index_to_watershed

    mask = project.load_label(key)
    frame = project.frames[project.frames.index_of(key)]
    color = index_to_color(mask, project.schema)
    watershed = index_to_watershed(mask, project.schema)
    _write_png(base.with_name(base.name + ".png"), np.asarray(frame))
    _write_png(base.with_name(base.name + "_color_mask.png"), color)
    _write_png(base.with_name(base.name + "_watershed_mask.png"), watershed)
    # CholecSeg8k's "_endo_mask.png" holds the watershed values in three channels.
    _write_png(base.with_name(base.name + "_mask.png"), np.repeat(watershed[..., None], 3, axis=2))


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
