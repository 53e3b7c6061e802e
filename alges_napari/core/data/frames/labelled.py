"""Frames paired with index-mask files, and the one report of what their masks hold.

The base of the Endoscapes source (:mod:`.endoscapes`) and the generic ``images/`` + ``masks/``
source (:mod:`.paired`). A mask file stores a class id per pixel (grey, or three equal channels);
in memory it becomes uint8 (H, W) class ids with 255 = ignore, the project's one convention
(:mod:`alges_napari.core.data.masks`). The data's quirks get named answers, gathered in ONE
:class:`DataReport` per source instead of a warning per frame:

- **255** is ignore (it is the project's ignore value: kept as is, masks counted);
- a **value outside the schema** (not 0..C-1, not 255) becomes 255, listed with its file;
- an **all-black frame** (no pixel above :data:`BLACK_LEVEL`) and an **empty mask** (no class
  but 0, the background, and ignore) are kept and counted: they are real frames of the data;
- a **frame without a mask file** has no ground truth (listed); a **mask whose channels differ**
  or that cannot be decoded is listed, and reading that frame's ground truth raises
  :class:`MaskError` naming the file; a **mask of another size** than the frames refuses the
  source at open, naming the files.

Opening probes only file headers (fast). :meth:`LabelledSource.report` decodes every mask and
frame once (a thread pool; about one PNG decode per mask: Endoscapes' train_seg, 343 masks and
frames, took 5.5 s on a 2-core CPU at load average 10), lazily, and remembers what it saw; reading ground truth fills the same memory, so a simulation
that reads every mask pays for the report only once.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from alges_napari.core.data.classes import IGNORE_INDEX, ClassSchema
from alges_napari.core.data.frames.base import FrameSource
from alges_napari.core.data.frames.folder import _decode_image, _keep_readable, _probe
from alges_napari.core.data.masks import _color_to_index
from alges_napari.core.errors import FrameSourceError, MaskError

#: A frame is all black when no channel of any pixel exceeds this (JPEG leaves faint noise).
BLACK_LEVEL = 8


class DataReportWarning(UserWarning):
    """The one summary of a labelled frame source's quirks (see :class:`DataReport`)."""


def _listed(items: list[str], limit: int = 12) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f", ... {len(items) - limit} more" if len(items) > limit else "")


@dataclass
class DataReport:
    """What a labelled frame source holds, and what was done with each quirk.

    File names are relative to the data set's root (``semseg/153_32700.png``).
    """

    title: str
    n_frames: int
    n_groups: int
    group_word: str = "videos"
    n_masks: int = 0
    ignore_masks: list[str] = field(default_factory=list)
    ignore_pixels: int = 0
    outside: dict[str, list[str]] = field(default_factory=dict)
    black_frames: list[str] = field(default_factory=list)
    empty_masks: list[str] = field(default_factory=list)
    missing_masks: list[str] = field(default_factory=list)
    unmatched_masks: list[str] = field(default_factory=list)
    bad_masks: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        """True when there is nothing to say beyond the counts."""
        return not (self.ignore_masks or self.outside or self.black_frames or self.empty_masks
                    or self.missing_masks or self.unmatched_masks or self.bad_masks
                    or self.notes)  # fmt: skip

    def summary(self) -> str:
        """The report as one line of ``;``-separated parts (printed once by the CLI/reader)."""
        groups = f" in {self.n_groups} {self.group_word}" if self.group_word else ""
        parts = [f"{self.title}: {self.n_frames} frames{groups}, {self.n_masks} with a mask"]
        if self.ignore_masks:
            parts.append(f"255 (ignore) in {len(self.ignore_masks)} masks "
                         f"({self.ignore_pixels} px, kept as ignore)")  # fmt: skip
        for name, values in self.outside.items():
            parts.append(f"value {', '.join(values)} outside the schema in {name} "
                         "(treated as ignore)")  # fmt: skip
        if self.black_frames:
            parts.append(f"{len(self.black_frames)} all-black frames (kept): "
                         f"{_listed(self.black_frames)}")  # fmt: skip
        if self.empty_masks:
            parts.append(f"{len(self.empty_masks)} empty masks (background only, kept): "
                         f"{_listed(self.empty_masks)}")  # fmt: skip
        if self.missing_masks:
            parts.append(f"{len(self.missing_masks)} frames without a mask (no ground truth): "
                         f"{_listed(self.missing_masks)}")  # fmt: skip
        if self.unmatched_masks:
            parts.append(f"{len(self.unmatched_masks)} masks without a frame (unused): "
                         f"{_listed(self.unmatched_masks)}")  # fmt: skip
        for why in self.bad_masks.values():
            parts.append(f"unusable ({why})")
        parts.extend(self.notes)
        return "; ".join(parts)

    __str__ = summary

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict of every field (and the summary line)."""
        out = dict(self.__dict__)
        out["summary"] = self.summary()
        return out


@dataclass(frozen=True)
class MaskStats:
    """What one decoded mask held."""

    ignore_pixels: int
    outside: tuple[str, ...]
    empty: bool


def decode_index_mask(
    path: Path, schema: ClassSchema, colour: bool = False
) -> tuple[np.ndarray, MaskStats]:
    """Decode a mask file into class ids (255 = ignore) and what it held; no warning.

    Grey, or RGB(A) with three equal channels, holds class ids; a palette PNG's indices are
    class ids (the VOC convention). With ``colour`` (paired data with a schema JSON), an RGB
    mask whose channels differ is read by the schema's colours; without it such a mask is an
    error. Values outside the schema become 255 and are returned in ``outside``.

    Raises
    ------
    MaskError
        Unreadable file, channels that differ, or more than 8 bits per pixel.
    """
    try:
        with Image.open(path) as img:
            if img.mode in ("1", "LA"):
                img = img.convert("L")
            if img.mode in ("RGB", "RGBA"):
                # Compare the channels as bytes (memcmp) before any array is made: most masks
                # are equal-channel, and strided numpy views of RGB cost more than the decode.
                bands = img.split()[:3]
                data = [b.tobytes() for b in bands]
                if data[0] == data[1] == data[2]:
                    return _index_ids(np.asarray(bands[0]), schema)
            arr = np.asarray(img)  # a palette image gives its indices
    except FileNotFoundError:
        raise MaskError(f"mask file {path} does not exist") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise MaskError(f"cannot read mask {path}: {exc}") from None
    if arr.dtype.kind not in "uib" or (arr.size and int(arr.max()) > 255):
        raise MaskError(f"mask {path} holds {arr.dtype} values beyond 0..255")
    arr = arr.astype(np.uint8, copy=False)
    if arr.ndim == 3:
        rgb = arr[..., :3]
        differ = int(np.count_nonzero((rgb[..., 0] != rgb[..., 1]) | (rgb[..., 0] != rgb[..., 2])))
        if differ and colour:
            mask, unknown = _color_to_index(rgb, schema, 8)
            counts = np.bincount(mask.ravel(), minlength=256)
            outside = (f"{unknown} px of unknown colours",) if unknown else ()
            return mask, _stats(counts, schema, outside)
        if differ:
            raise MaskError(
                f"mask {path}: its {arr.shape[-1]} channels differ at {differ} pixels; a mask "
                "here stores the class id in every channel (a colour mask is not read)"
            )
        arr = rgb[..., 0]
    return _index_ids(arr, schema)


def _index_ids(grey: np.ndarray, schema: ClassSchema) -> tuple[np.ndarray, MaskStats]:
    """Class ids from a grey mask: values outside the schema become 255 (and are named)."""
    grey = np.ascontiguousarray(grey, dtype=np.uint8)
    counts = np.bincount(grey.ravel(), minlength=256)
    stray = [v for v in np.flatnonzero(counts) if v >= schema.num_classes and v != IGNORE_INDEX]
    outside = tuple(str(int(v)) for v in stray)
    if stray:
        lut = np.arange(256, dtype=np.uint8)
        lut[stray] = IGNORE_INDEX
        grey = lut[grey]
        counts = np.bincount(grey.ravel(), minlength=256)
    return grey, _stats(counts, schema, outside)


def _stats(counts: np.ndarray, schema: ClassSchema, outside: tuple[str, ...]) -> MaskStats:
    empty = not counts[1 : schema.num_classes].any()
    return MaskStats(int(counts[IGNORE_INDEX]), outside, bool(empty))


def is_black(path: Path) -> bool:
    """True when no pixel of the frame file exceeds :data:`BLACK_LEVEL`.

    A JPEG is first decoded at 1/8 scale (block means, fast); only a frame dark there is decoded
    in full, so one bright pixel is never missed.
    """
    with Image.open(path) as img:
        if img.format == "JPEG":
            img.draft("RGB", (max(1, img.width // 8), max(1, img.height // 8)))
            if int(np.asarray(img).max(initial=0)) > BLACK_LEVEL:
                return False
    return int(_decode_image(path).max(initial=0)) <= BLACK_LEVEL


class LabelledSource(FrameSource):
    """Frames listed with their mask files (or None), groups and a class schema.

    Subclasses find the files; this class reads them, checks sizes and builds the report.
    """

    kind = "labelled"
    group_word = "videos"

    def __init__(
        self,
        path: Path,
        root: Path,
        frames: list[Path],
        masks: list[Path | None],
        keys: list[str],
        groups: list[str],
        stride: int,
        schema: ClassSchema,
        notes: list[str] | None = None,
        colour_masks: bool = False,
    ) -> None:
        self.root = Path(root)
        good, shape = _keep_readable(self.root, frames)
        keep = set(good)
        rows = [r for r in zip(frames, masks, keys, groups, strict=True) if r[0] in keep]
        rows = rows[:: int(stride)]
        self._files = [r[0] for r in rows]
        self._masks = [r[1] for r in rows]
        self._groups = [r[3] for r in rows]
        super().__init__(path, [r[2] for r in rows], shape, stride, schema)
        self.notes = list(notes or [])
        self.unmatched_masks: list[str] = []
        self._colour = bool(colour_masks)
        self._stats: dict[int, MaskStats | str] = {}
        self._black: dict[int, bool] = {}
        self._report: DataReport | None = None
        self._lock = threading.Lock()
        self._check_mask_sizes()

    # ------------------------------------------------------------ files

    def rel(self, path: Path) -> str:
        """``path`` relative to the data set's root, for messages."""
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return str(path)

    def _check_mask_sizes(self) -> None:
        wrong = []
        for i, m in enumerate(self._masks):
            if m is None:
                continue
            try:
                hw = _probe(m)
            except (OSError, ValueError, SyntaxError, UnidentifiedImageError) as exc:
                self._stats[i] = f"cannot read mask {m}: {exc}"
                continue
            if hw != self.shape:
                wrong.append(f"{self.rel(m)} ({hw[1]}x{hw[0]})")
        if wrong:
            h, w = self.shape
            raise FrameSourceError(
                f"{self.root}: masks must have the frames' size {w}x{h} (WxH), but "
                f"{_listed(wrong, 5)} differ"
            )

    def file_of(self, i: int) -> Path:
        """Return the image file of frame ``i``."""
        return self._files[self._check_index(i)]

    def mask_file_of(self, i: int) -> Path | None:
        """Return the mask file of frame ``i`` (None when it has none)."""
        return self._masks[self._check_index(i)]

    @property
    def groups(self) -> list[str]:
        """The group (video) of each frame, in source order."""
        return list(self._groups)

    @property
    def has_ground_truth(self) -> bool:
        """True when at least one frame has a mask file."""
        return any(m is not None for m in self._masks)

    # ------------------------------------------------------------ reading

    def _read(self, i: int) -> np.ndarray:
        frame = _decode_image(self._files[i])
        if frame.shape[:2] != self.shape:
            raise FrameSourceError(f"{self._files[i]}: size changed since the data was opened")
        self._black.setdefault(i, int(frame.max(initial=0)) <= BLACK_LEVEL)
        return frame

    def ground_truth(self, i: int) -> np.ndarray | None:
        """Frame ``i``'s mask as uint8 (H, W) class ids, 255 = ignore (also for values outside
        the schema); None when the frame has no mask file.

        Raises
        ------
        MaskError
            The mask cannot be decoded or its channels differ (the message names the file).
        """
        j = self._check_index(i)
        path = self._masks[j]
        if path is None:
            return None
        known = self._stats.get(j)
        if isinstance(known, str):
            raise MaskError(known)
        assert self.schema is not None
        try:
            mask, stats = decode_index_mask(path, self.schema, self._colour)
        except MaskError as exc:
            self._stats[j] = str(exc)
            raise
        if mask.shape != self.shape:
            raise MaskError(f"mask {path}: size changed since the data was opened")
        self._stats[j] = stats
        return mask

    # ------------------------------------------------------------ report

    def _scan_one(self, i: int) -> None:
        if i not in self._black:
            try:
                self._black[i] = is_black(self._files[i])
            except (OSError, ValueError, FrameSourceError):
                self._black[i] = False  # an undecodable frame raises when it is read
        if self._masks[i] is not None and i not in self._stats:
            try:
                self.ground_truth(i)
            except MaskError:
                pass  # recorded in _stats by ground_truth

    def report(self) -> DataReport:
        """Decode every mask and frame once (lazily, then remembered) and summarise them."""
        with self._lock:
            if self._report is None:
                todo = [i for i in range(len(self)) if i not in self._black
                        or (self._masks[i] is not None and i not in self._stats)]  # fmt: skip
                workers = max(1, min(4, os.cpu_count() or 1))
                with ThreadPoolExecutor(workers) as pool:
                    list(pool.map(self._scan_one, todo))
                self._report = self._build_report()
            return self._report

    def title(self) -> str:
        """The report's first words (the data set and what part of it)."""
        return self.name

    def _build_report(self) -> DataReport:
        rep = DataReport(self.title(), len(self), len(set(self._groups)), self.group_word)
        rep.n_masks = sum(m is not None for m in self._masks)
        for i in range(len(self)):
            mask, stats = self._masks[i], self._stats.get(i)
            if mask is None:
                rep.missing_masks.append(self.rel(self._files[i]))
            elif isinstance(stats, str):
                rep.bad_masks[self.rel(mask)] = stats
            elif stats is not None:
                if stats.ignore_pixels:
                    rep.ignore_masks.append(self.rel(mask))
                    rep.ignore_pixels += stats.ignore_pixels
                if stats.outside:
                    rep.outside[self.rel(mask)] = list(stats.outside)
                if stats.empty:
                    rep.empty_masks.append(self.rel(mask))
            if self._black.get(i):
                rep.black_frames.append(self.rel(self._files[i]))
        rep.unmatched_masks = list(self.unmatched_masks)
        rep.notes = list(self.notes)
        return rep
