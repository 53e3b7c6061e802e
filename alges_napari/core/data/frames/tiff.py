"""Frames stored as the pages of a multi-page TIFF file (tifffile), one page per request.

See :mod:`alges_napari.core.data.frames.base` for the contract every source keeps.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from alges_napari.core.data.classes import ClassSchema
from alges_napari.core.data.frames.base import FrameSource, to_rgb8
from alges_napari.core.errors import FrameSourceError


class TiffStackSource(FrameSource):
    """Frames stored as the pages of a TIFF file, read one page at a time.

    Supported layouts (tifffile axes): ``YX``, ``YXS``, ``SYX`` (one frame) and the same with
    one leading frame axis (``IYX``, ``TYXS``, ...). Other hyperstacks are refused.
    Keys are ``<stem>/f<frame number>``.
    """

    kind = "tiff"

    def __init__(self, path: str | Path, stride: int = 1, schema: ClassSchema | None = None):
        import tifffile

        path = Path(path)
        try:
            self._tif = tifffile.TiffFile(path)
            series = self._tif.series[0]
            axes, shape = series.axes, tuple(series.shape)
        except (tifffile.TiffFileError, OSError, ValueError, IndexError) as exc:
            raise FrameSourceError(f"cannot read TIFF {path}: {exc}") from None
        leading = axes.replace("Y", "").replace("X", "").replace("S", "")
        if "Y" not in axes or "X" not in axes or len(leading) > 1 or (leading and axes[0] in "YXS"):
            self._tif.close()
            raise FrameSourceError(
                f"{path}: unsupported TIFF layout (axes {axes}, shape {shape}); "
                "save one frame per page"
            )
        self._stacked = bool(leading)
        n = shape[0] if self._stacked else 1
        if n == 0:
            self._tif.close()
            raise FrameSourceError(f"TIFF {path} holds no frames")
        self._pages_ok = len(series.pages) == n and all(p is not None for p in series.pages[:1])
        self._memmap: np.ndarray | None = None
        self._lock = threading.Lock()
        hw = (shape[axes.index("Y")], shape[axes.index("X")])
        keys = [f"{path.stem}/f{j:06d}" for j in range(0, n, int(stride))]
        super().__init__(path, keys, hw, stride, schema)

    def _page(self, j: int) -> np.ndarray:
        if not self._stacked:
            return self._tif.series[0].asarray()
        if self._pages_ok:
            return self._tif.asarray(key=j, series=0)
        if self._memmap is None:
            # Contiguous stacks (ImageJ) index only their first page: map the file instead.
            import tifffile

            self._memmap = tifffile.memmap(self.path, mode="r")
        return np.asarray(self._memmap[j])

    def _read(self, i: int) -> np.ndarray:
        j = i * self.stride
        with self._lock:
            try:
                page = self._page(j)
            except (OSError, ValueError, IndexError) as exc:
                raise FrameSourceError(f"{self.path}: cannot read frame {j}: {exc}") from None
        return to_rgb8(page, f"{self.path} frame {j}")

    def close(self) -> None:
        """Close the TIFF file."""
        with self._lock:
            self._memmap = None
            self._tif.close()
