"""Frame sources made of image files: plain folders and CholecSeg8k trees.

See :mod:`alges_napari.core.data.frames.base` for the contract, the key scheme and the bad-file policy
(probe every header and file end at open; skip unreadable files with one warning).
"""

from __future__ import annotations

import os
import struct
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from alges_napari.core.data.classes import CHOLECSEG8K, ClassSchema
from alges_napari.core.data.frames.base import (
    GT_SUFFIXES,
    IMAGE_SUFFIXES,
    PROJECT_MARKER,
    TIFF_SUFFIXES,
    FrameSource,
    FrameWarning,
    natural_key,
    to_rgb8,
)
from alges_napari.core.data.masks import read_mask
from alges_napari.core.errors import FrameSourceError, MaskError

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# JPEG start-of-frame markers (they carry the size); C4, C8 and CC are other segments.
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def _header_size(head: bytes, suffix: str) -> tuple[int, int] | None:
    """(H, W) parsed from a PNG/JPEG header, None when Pillow must judge; ValueError if bad."""
    if suffix == ".png":
        if head[:8] != _PNG_SIGNATURE or head[12:16] != b"IHDR":
            raise ValueError("not a PNG file")
        w, h = struct.unpack(">II", head[16:24])
        return h, w
    if suffix in (".jpg", ".jpeg"):
        if head[:2] != b"\xff\xd8":
            raise ValueError("not a JPEG file")
        pos = 2
        while pos + 9 <= len(head) and head[pos] == 0xFF:
            marker = head[pos + 1]
            if marker == 0xFF:  # fill byte
                pos += 1
                continue
            if marker in _JPEG_SOF:
                h, w = struct.unpack(">HH", head[pos + 5 : pos + 9])
                return h, w
            pos += 2 + int.from_bytes(head[pos + 2 : pos + 4], "big")
    return None


def _tail_ok(fh: Any, suffix: str, size: int) -> bool:
    """Cheap truncation check from the file's last bytes (PNG IEND, JPEG EOI, BMP size)."""
    if suffix == ".png":
        fh.seek(max(0, size - 12))
        return fh.read(12)[4:8] == b"IEND"
    if suffix in (".jpg", ".jpeg"):
        fh.seek(max(0, size - 64))  # some encoders pad after the EOI marker
        return b"\xff\xd9" in fh.read(64)
    if suffix == ".bmp":
        fh.seek(2)
        return int.from_bytes(fh.read(4), "little") <= size
    return True


def _probe(path: Path) -> tuple[int, int]:
    """Return (H, W) from the header; raise OSError/ValueError for unreadable files.

    PNG and JPEG headers are parsed here (Pillow's full header parse costs several times more,
    and opening thousands of frames must stay well under a second or two).
    """
    suffix = path.suffix.lower()
    if suffix in TIFF_SUFFIXES:
        import tifffile

        with tifffile.TiffFile(path) as tif:
            page = tif.pages[0]
            return int(page.imagelength), int(page.imagewidth)
    with open(path, "rb") as fh:
        head = fh.read(1 << 16)
        hw = _header_size(head, suffix)
        if not _tail_ok(fh, suffix, fh.seek(0, 2)):
            raise ValueError("truncated (its end marker is missing)")
    if hw is None:
        with Image.open(path) as img:
            hw = img.height, img.width
    if min(hw) < 1:
        raise ValueError(f"empty image ({hw[1]}x{hw[0]})")
    return hw


def _decode_image(path: Path) -> np.ndarray:
    try:
        if path.suffix.lower() in TIFF_SUFFIXES:
            import tifffile

            return to_rgb8(tifffile.imread(path, key=0), str(path))
        with Image.open(path) as img:
            if img.mode in ("P", "PA", "CMYK", "YCbCr", "LAB", "HSV"):
                img = img.convert("RGB")
            return to_rgb8(np.asarray(img), str(path))
    except FrameSourceError:
        raise
    except (OSError, ValueError, SyntaxError, UnidentifiedImageError) as exc:
        raise FrameSourceError(f"cannot decode frame {path}: {exc}") from None


def _list_images(
    root: Path, recursive: bool, suffixes: tuple[str, ...] = IMAGE_SUFFIXES
) -> list[Path]:
    """Image files under ``root``, naturally sorted by relative path; hidden files are skipped
    (macOS leaves ``._frame.png`` resource files beside the real ones), and so are folders that
    hold an alges project."""
    found, folders, cut = [], [str(root)], len(str(root)) + 1
    while folders:
        with os.scandir(folders.pop()) as entries:
            for e in entries:
                if e.name.startswith("."):
                    continue
                if e.is_dir():
                    if recursive and not os.path.isfile(os.path.join(e.path, PROJECT_MARKER)):
                        folders.append(e.path)  # a project's labels are never frames
                elif os.path.splitext(e.name)[1].lower() in suffixes and e.is_file():
                    found.append(e.path)
    found.sort(key=lambda p: natural_key(p[cut:].replace(os.sep, "/")))
    return [Path(p) for p in found]


def _keep_readable(root: Path, files: list[Path]) -> tuple[list[Path], tuple[int, int]]:
    """Probe every file; drop the unreadable with a warning; demand one frame size."""
    good, bad, sizes = [], [], {}
    for p in files:
        try:
            sizes[p] = _probe(p)
            good.append(p)
        except (OSError, ValueError, SyntaxError, UnidentifiedImageError) as exc:
            bad.append(f"{p.relative_to(root).as_posix()} ({exc})")
    if bad:
        shown = "; ".join(bad[:20]) + (f"; ... {len(bad) - 20} more" if len(bad) > 20 else "")
        warnings.warn(f"{root}: skipped {len(bad)} unreadable image(s): {shown}", FrameWarning,
                      stacklevel=4)  # fmt: skip
    if not good:
        raise FrameSourceError(f"{root}: none of the {len(files)} image files can be read")
    counts = Counter(sizes.values())
    if len(counts) > 1:
        common = counts.most_common(1)[0][0]
        odd = [f"{p.relative_to(root).as_posix()} ({s[1]}x{s[0]})" for p, s in sizes.items()
               if s != common][:5]  # fmt: skip
        raise FrameSourceError(
            f"{root}: frames must all have one size; most are {common[1]}x{common[0]} (WxH) "
            f"but not {', '.join(odd)}"
        )
    return good, next(iter(counts))


class ImageFolderSource(FrameSource):
    """Frames stored as image files in a folder (flat unless ``recursive``), naturally sorted."""

    kind = "folder"

    def __init__(
        self,
        path: str | Path,
        stride: int = 1,
        schema: ClassSchema | None = None,
        recursive: bool = False,
        files: list[Path] | None = None,
    ) -> None:
        root = Path(path)
        self.recursive = bool(recursive)
        if files is None:
            files = _list_images(root, self.recursive)
        if not files:
            hint = ""
            if not recursive and _list_images(root, True):
                hint = " (its sub-folders hold images: open it with recursive=True)"
            raise FrameSourceError(
                f"no frames ({', '.join(IMAGE_SUFFIXES)}) in folder {root}{hint}"
            )
        files, shape = _keep_readable(root, files)
        self._files = files[:: int(stride)]
        keys = [p.relative_to(root).with_suffix("").as_posix() for p in self._files]
        super().__init__(root, keys, shape, stride, schema)

    def file_of(self, i: int) -> Path:
        """Return the image file of frame ``i``."""
        return self._files[self._check_index(i)]

    def _read(self, i: int) -> np.ndarray:
        frame = _decode_image(self._files[i])
        if frame.shape[:2] != self.shape:
            raise FrameSourceError(f"{self._files[i]}: size changed since the folder was opened")
        return frame

    def describe(self) -> dict[str, Any]:
        """See :meth:`FrameSource.describe`; adds ``recursive``."""
        return {**super().describe(), "recursive": self.recursive}


class CholecSeg8kSource(ImageFolderSource):
    """A CholecSeg8k tree: ``videoXX/videoXX_<start>/frame_<n>_endo.png`` plus masks.

    Ground truth comes, per frame, from the first file present of: ``_endo_watershed_mask.png``
    (watershed values, 255 on boundaries = ignore), ``_endo_color_mask.png`` (class colours),
    ``_endo_mask.png`` (format guessed; in CholecSeg8k it holds watershed-like values). The
    watershed mask is preferred because grey values survive exactly where colours may be blended.
    The root may be the whole data set, one ``videoXX`` folder or one clip folder.
    """

    kind = "cholecseg8k"

    def __init__(
        self, path: str | Path, stride: int = 1, schema: ClassSchema | None = None, **_: Any
    ) -> None:
        root = Path(path)
        every = _list_images(root, True, (".png",))
        frames = [p for p in every if p.name.endswith("_endo.png")]
        names = {p.as_posix() for p in every}
        super().__init__(root, stride, schema or CHOLECSEG8K, recursive=True, files=frames)
        self._truth: list[tuple[Path, str] | None] = []
        for f in self._files:
            stem = f.with_suffix("").as_posix()
            hit = next(((Path(stem + s), k) for s, k in GT_SUFFIXES if stem + s in names), None)
            self._truth.append(hit)

    @property
    def has_ground_truth(self) -> bool:
        """True when at least one frame has a mask file beside it."""
        return any(t is not None for t in self._truth)

    def ground_truth(self, i: int) -> np.ndarray | None:
        """Read frame ``i``'s mask as class ids (see the class docstring for the file used)."""
        hit = self._truth[self._check_index(i)]
        if hit is None:
            return None
        path, kind = hit
        assert self.schema is not None
        mask = read_mask(path, self.schema, kind=kind)
        if mask.shape != self.shape:
            raise MaskError(
                f"{path}: mask is {mask.shape[1]}x{mask.shape[0]} (WxH) but its frame is "
                f"{self.shape[1]}x{self.shape[0]}"
            )
        return mask

    def describe(self) -> dict[str, Any]:
        """See :meth:`FrameSource.describe`."""
        out = super().describe()
        out.pop("recursive")
        return out
