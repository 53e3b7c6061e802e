"""npe2 reader: frame folders, CholecSeg8k trees, Endoscapes splits, paired ``images/`` +
``masks/`` folders, videos and multi-page TIFFs as lazy layers.

Frames become ONE Image layer with a frame axis (a dask array whose chunks are single frames,
each decoded on demand by the core :class:`~alges_napari.core.data.frames.base.FrameSource`), ground truth
(CholecSeg8k trees, Endoscapes, paired folders) a lazy Labels layer painted in the schema's colours, with the class names
as layer features so napari's status bar names the class under the cursor; 255 (ignore) is
transparent.

The reader claims only what it can open as a frame source: a folder holding images, a
CholecSeg8k tree, an Endoscapes split folder or root, a paired root, a video file or a TIFF
with more than one frame. The one summary of a labelled data set's quirks (255, stray values,
black frames, empty masks: :class:`~alges_napari.core.data.frames.DataReport`) is shown once
as a napari notification and kept in the layers' metadata (``alges_report``). A single PNG/JPEG (or
single-page TIFF) is left to napari's own readers. Problems found while opening (an empty
folder, a corrupt video) raise the core's ``AlgesError``; napari reports it to the user.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np

from alges_napari.core.data.classes import IGNORE_INDEX, ClassSchema
from alges_napari.core.data.frames import (
    IMAGE_SUFFIXES,
    TIFF_SUFFIXES,
    VIDEO_SUFFIXES,
    DataReportWarning,
    FrameSource,
    LabelledSource,
    open_frames,
)
from alges_napari.core.data.frames.endoscapes import find_layout
from alges_napari.core.data.frames.paired import find_paired_root

LayerData = tuple[Any, dict[str, Any], str]
IGNORE = IGNORE_INDEX  # the mask value "no label": transparent, the eraser's value


def _is_multipage_tiff(path: Path) -> bool:
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            series = tif.series[0]
            return len(series.pages) > 1 or series.axes[0] not in "YXS"
    except Exception:  # noqa: BLE001 - not ours to judge: napari's own readers may try it
        return False


def _claims(path: Path) -> bool:
    if path.is_dir():
        if find_layout(path) is not None or find_paired_root(path) is not None:
            return True
        if next(path.rglob("*_endo.png"), None) is not None:
            return True
        return any(p.suffix.lower() in IMAGE_SUFFIXES for p in path.iterdir() if p.is_file())
    suffix = path.suffix.lower()
    if suffix in VIDEO_SUFFIXES:
        return path.is_file()
    if suffix in TIFF_SUFFIXES:
        return path.is_file() and _is_multipage_tiff(path)
    return False


def get_reader(path: str | list[str]) -> Any:
    """Return a reader for ``path`` when it is a frame source, else None (npe2 hook).

    Parameters
    ----------
    path : str or list of str
        What napari was asked to open; lists are accepted when they hold one path.

    Returns
    -------
    callable or None
        ``read_frames`` for folders of images, CholecSeg8k trees, videos and multi-page TIFFs.
    """
    if isinstance(path, list | tuple):
        if len(path) != 1:
            return None
        path = path[0]
    try:
        return read_frames if _claims(Path(path)) else None
    except OSError:
        return None


def lazy_frames(source: FrameSource, prefetcher: Any = None) -> Any:
    """A dask array (N, H, W, 3) uint8 whose chunks are single frames decoded on demand.

    With ``prefetcher`` (a :class:`~alges_napari.core.data.frames.prefetch.NeighbourPrefetcher`
    over ``source``), a frame it already holds is served from memory, and every read tells it
    which frame is on screen and the step just taken, so the frames one and two steps either
    side are decoded in the background before the slider gets there; a frame read on demand
    is kept there too, so the layer can run with napari's chunk cache off (``cache=False``).
    """
    import dask.array as da

    n, (h, w) = len(source), source.shape
    last: list[int | None] = [None]

    def load(block_id: tuple[int, ...]) -> np.ndarray:
        i = block_id[0]
        if prefetcher is None:
            return source[i][None]
        frame = prefetcher.get(i)
        if frame is None:
            frame = source[i]
            prefetcher.keep(i, frame)
        step = i - last[0] if last[0] is not None and i != last[0] else 1
        last[0] = i
        prefetcher.show(i, step)
        return np.asarray(frame)[None]

    return da.map_blocks(load, dtype=np.uint8, chunks=((1,) * n, (h,), (w,), (3,)),
                         meta=np.empty((0, 0, 0, 0), np.uint8))  # fmt: skip


def lazy_ground_truth(source: FrameSource) -> Any:
    """A dask array (N, H, W) uint8 of ground-truth class ids; 255 where a frame has none."""
    import dask.array as da

    n, (h, w) = len(source), source.shape

    def load(block_id: tuple[int, ...]) -> np.ndarray:
        mask = source.ground_truth(block_id[0])
        if mask is None:
            mask = np.full((h, w), IGNORE, np.uint8)
        return mask[None]

    return da.map_blocks(load, dtype=np.uint8, chunks=((1,) * n, (h,), (w,)),
                         meta=np.empty((0, 0, 0), np.uint8))  # fmt: skip


def schema_colormap(schema: ClassSchema) -> Any:
    """A napari DirectLabelColormap: every class in its colour, 255 (ignore) transparent."""
    from napari.utils.colormaps import DirectLabelColormap

    colours: dict[int | None, tuple[float, ...]] = {
        None: (0.0, 0.0, 0.0, 0.0),
        IGNORE: (0.0, 0.0, 0.0, 0.0),
    }
    for cls, rgb in enumerate(schema.colors):
        colours[cls] = (*(c / 255 for c in rgb), 1.0)
    return DirectLabelColormap(color_dict=colours, background_value=IGNORE)


def schema_features(schema: ClassSchema) -> dict[str, list[Any]]:
    """Layer features naming each label value (napari's status bar shows them)."""
    return {
        "index": [*range(schema.num_classes), IGNORE],
        "class": [*schema.names, "ignore"],
    }


#: Axis names on the dims slider ("frame", not napari's default "-3").
FRAME_AXES = ("frame", "y", "x")


def layers_for(source: FrameSource) -> list[LayerData]:
    """Build the napari layer data of a frame source (frames, and ground truth if any)."""
    meta: dict[str, Any] = {"alges_source": source.describe()}
    if isinstance(source, LabelledSource):
        meta["alges_report"] = source.report().to_json()
    layers: list[LayerData] = [
        (
            lazy_frames(source),
            {"name": source.name, "rgb": True, "metadata": meta, "axis_labels": FRAME_AXES},
            "image",
        )
    ]
    if source.has_ground_truth and source.schema is not None:
        kwargs = {
            "name": f"{source.name} ground truth",
            "colormap": schema_colormap(source.schema),
            "features": schema_features(source.schema),
            "opacity": 0.5,
            "metadata": meta,
            "axis_labels": FRAME_AXES,
        }
        layers.append((lazy_ground_truth(source), kwargs, "labels"))
    return layers


def read_frames(path: str | list[str]) -> list[LayerData]:
    """Open ``path`` as a frame source and return its layers (npe2 reader function).

    Raises
    ------
    AlgesError
        FrameSourceError (and friends) naming the file and the problem.
    """
    if isinstance(path, list | tuple):
        path = path[0]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DataReportWarning)
        source = open_frames(path)
    for w in caught:  # others go on to napari as they came; the data report is one notice
        if issubclass(w.category, DataReportWarning):
            _notify(str(w.message))
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return layers_for(source)


def _notify(text: str) -> None:
    from napari.utils.notifications import show_info

    show_info(text)
