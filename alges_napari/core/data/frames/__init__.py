"""Frame sources (image folders, CholecSeg8k trees, Endoscapes splits, paired image/mask
folders, videos, TIFF stacks) and the factory that opens the right one for a path: see
:mod:`.base` for the shared contract and :mod:`.labelled` for the report of labelled data."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np

from alges_napari.core.data.classes import ClassSchema, get_schema
from alges_napari.core.data.frames.base import (
    IMAGE_SUFFIXES,
    TIFF_SUFFIXES,
    VIDEO_SUFFIXES,
    FrameSource,
    FrameWarning,
    natural_key,
    to_rgb8,
)
from alges_napari.core.data.frames.endoscapes import EndoscapesSource, find_layout
from alges_napari.core.data.frames.folder import CholecSeg8kSource, ImageFolderSource
from alges_napari.core.data.frames.labelled import DataReport, DataReportWarning, LabelledSource
from alges_napari.core.data.frames.paired import PairedSource, find_paired_root
from alges_napari.core.data.frames.tiff import TiffStackSource
from alges_napari.core.data.frames.video import VideoSource
from alges_napari.core.errors import FrameSourceError

__all__ = [
    "CholecSeg8kSource",
    "DataReport",
    "DataReportWarning",
    "EndoscapesSource",
    "FrameSource",
    "FrameWarning",
    "ImageFolderSource",
    "LabelledSource",
    "PairedSource",
    "TiffStackSource",
    "VideoSource",
    "natural_key",
    "open_frames",
    "open_frames_from_config",
    "to_rgb8",
]


# ------------------------------------------------------------------ opening


def open_frames(
    path: str | Path,
    stride: int = 1,
    schema: ClassSchema | str | Path | None = None,
    recursive: bool = False,
    split: str | None = None,
    report: bool = True,
) -> FrameSource:
    """Open a folder of images, a labelled data set, a video file or a (multi-page) TIFF.

    Parameters
    ----------
    path : path-like
        A folder, a video (mp4, avi, mov, mkv) or a TIFF file. Folders are tried in this order:
        an Endoscapes split folder or root (:class:`EndoscapesSource`), a root holding
        ``images/`` and ``masks/`` (:class:`PairedSource`), a CholecSeg8k tree
        (``*_endo.png`` files anywhere below it), else a folder of images.
    stride : int
        Keep every ``stride``-th frame (keys keep the original frame names/numbers).
    schema : ClassSchema, str or path, optional
        The class schema (a CholecSeg8k tree defaults to CHOLECSEG8K).
    recursive : bool
        Folders only: also list images in sub-folders (keys then include the sub-folder).
    split : str, optional
        An Endoscapes root only: open this split (``"train"``) instead of every split.
    report : bool
        Labelled data sets (:class:`LabelledSource`): scan every mask once and emit the
        summary of its quirks as ONE :class:`DataReportWarning` (the CLI prints it as one line,
        napari shows it). The summary stays at ``source.report()``.

    Raises
    ------
    FrameSourceError
        Missing path, unsupported file type, empty folder, mixed sizes, unreadable video.
    """
    p = Path(path)
    if isinstance(stride, bool) or not isinstance(stride, int | np.integer) or stride < 1:
        raise FrameSourceError(f"stride must be an integer >= 1, got {stride!r}")
    if schema is not None:
        schema = get_schema(schema)
    if not p.exists():
        raise FrameSourceError(f"{p} does not exist")
    if split is not None and (p.is_file() or find_layout(p) is None):
        raise FrameSourceError(f"split={split!r} is for an Endoscapes root; {p} is not one")
    if p.is_dir():
        labelled = _open_labelled(p, int(stride), schema, split)
        if labelled is not None:
            if report:
                warnings.warn(labelled.report().summary(), DataReportWarning, stacklevel=2)
            return labelled
        if next(p.rglob("*_endo.png"), None) is not None:
            return CholecSeg8kSource(p, int(stride), schema)
        return ImageFolderSource(p, int(stride), schema, recursive=recursive)
    suffix = p.suffix.lower()
    if suffix in VIDEO_SUFFIXES:
        return VideoSource(p, int(stride), schema)
    if suffix in TIFF_SUFFIXES:
        return TiffStackSource(p, int(stride), schema)
    if suffix in IMAGE_SUFFIXES:
        raise FrameSourceError(f"{p} is a single image; open the folder that holds the frames")
    raise FrameSourceError(
        f"{p}: unsupported file type {suffix or '(none)'}; frame sources are folders, "
        f"videos ({', '.join(VIDEO_SUFFIXES)}) and TIFF stacks"
    )


def _open_labelled(
    p: Path, stride: int, schema: ClassSchema | None, split: str | None
) -> LabelledSource | None:
    """The labelled data set at folder ``p`` (Endoscapes, paired), or None when it is not one."""
    if find_layout(p) is not None:
        return EndoscapesSource(p, stride, schema, split=split)
    if find_paired_root(p) is not None:
        return PairedSource(p, stride, schema)
    return None


def open_frames_from_config(config: dict[str, Any]) -> FrameSource:
    """Reopen a source from :meth:`FrameSource.describe`'s dict.

    Warns (FrameWarning) when the number of frames changed since it was described. A video
    described by an older alges-napari, which numbered only distinct timestamps, keeps that
    numbering, so frame keys (and the labels on them) keep pointing at the same frames.
    """
    if not isinstance(config, dict) or "path" not in config or "type" not in config:
        raise FrameSourceError(f"frame source config needs 'type' and 'path': {config!r}")
    kind = config["type"]
    schema = ClassSchema.from_json(config["schema"]) if config.get("schema") else None
    stride = int(config.get("stride", 1))
    if kind == "folder":
        p = Path(config["path"])
        if not p.is_dir():
            raise FrameSourceError(f"frame folder {p} does not exist")
        source: FrameSource = ImageFolderSource(
            p, stride, schema, recursive=bool(config.get("recursive", False))
        )
    elif kind == "endoscapes":
        source = EndoscapesSource(config["path"], stride, schema, split=config.get("split"))
    elif kind == "paired":
        source = PairedSource(config["path"], stride, schema)
    elif kind in ("cholecseg8k", "video", "tiff"):
        source = open_frames(config["path"], stride, schema)
        if source.kind != kind:
            raise FrameSourceError(f"{config['path']} is now a {source.kind}, not a {kind}")
        if isinstance(source, VideoSource):
            source = _video_numbered_as_described(source, config)
    else:
        raise FrameSourceError(f"unknown frame source type {kind!r} in config")
    expected = config.get("n_frames")
    if expected is not None and int(expected) != len(source):
        warnings.warn(
            f"{source.path}: {len(source)} frames now, {expected} when the project was made",
            FrameWarning,
            stacklevel=2,
        )
    return source


def _video_numbered_as_described(source: VideoSource, config: dict[str, Any]) -> VideoSource:
    """``source`` numbered as when ``config`` was written (see :class:`VideoSource`)."""
    numbering = config.get("timestamps")
    if numbering is None and source.n_shared:
        # Written before frames sharing a timestamp were kept: only the distinct ones counted.
        expected = config.get("n_frames")
        distinct = len(range(0, source.n_video_frames - source.n_shared, source.stride))
        numbering = "distinct" if expected is not None and int(expected) == distinct else None
    if numbering != "distinct" or not source.n_shared:
        return source
    source.close()
    return VideoSource(source.path, source.stride, source.schema, distinct_timestamps=True)
