"""Endoscapes-Seg50 in its official layout (Murali et al. 2023, arXiv:2312.12429, CC BY-NC-SA 4.0).

::

    <root>/train_seg/<video>_<frame>.jpg      frames of one split (also val_seg/, test_seg/)
    <root>/semseg/<video>_<frame>.png         mask: 3 equal channels, value = class id
    <root>/seg_label_map.txt                  class names and ids

Open a **split folder** (``train_seg/``) for one split, or the **root** for every split found
there (train, val, test, in that order, then any other ``*_seg``; pass ``split=`` to pick one).
The root is for browsing the whole labelled set; an experiment wants one split as the pool and
another as the test set, so it opens split folders.

Keys are ``<video>/<video>_<frame>`` (``121/121_12300``): the file's own name behind its video,
because the project groups frames by a key's folder everywhere (held-out videos in simulations,
clips for label propagation, video windows for video-aware strategies). :attr:`groups` gives the
video of each frame too. Frames are ordered by video, then frame number, numerically.

Classes come from ``seg_label_map.txt`` (``name id``, ``id name`` or ``name: id`` lines; see
:mod:`.classfile`); when it names the official 7 classes the built-in
:data:`~alges_napari.core.data.classes.ENDOSCAPES` schema (with its colours) is used. Without
the file, the built-in list is used and the report says so. Quirks (255, stray values, black
frames, empty masks) are reported once, see :mod:`.labelled`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from alges_napari.core.data.classes import ENDOSCAPES, ClassSchema
from alges_napari.core.data.frames.base import IMAGE_SUFFIXES
from alges_napari.core.data.frames.classfile import read_class_file
from alges_napari.core.data.frames.labelled import LabelledSource
from alges_napari.core.errors import FrameSourceError

#: The official split folders, in the order a root lists them.
OFFICIAL_SPLITS = ("train_seg", "val_seg", "test_seg")
MASK_FOLDER = "semseg"
LABEL_MAP = "seg_label_map.txt"
_FRAME = re.compile(r"^(\d+)_(\d+)$")
_Row = tuple[str, int, int, Path]  # split, video, frame number, file


def _is_split_name(name: str) -> bool:
    return name.endswith("_seg") and name != MASK_FOLDER


def find_layout(path: Path) -> tuple[Path, list[str]] | None:
    """``(root, split folder names)`` when ``path`` is an Endoscapes root or split folder.

    A split folder is one named like ``train_seg`` (any ``*_seg``) beside ``semseg/`` or
    ``seg_label_map.txt``, or one of the official names; a root holds ``semseg/`` (or the label
    map) and at least one split folder.
    """
    if not path.is_dir():
        return None
    parent = path.parent
    beside = (parent / MASK_FOLDER).is_dir() or (parent / LABEL_MAP).is_file()
    if _is_split_name(path.name) and (beside or path.name in OFFICIAL_SPLITS):
        return parent, [path.name]
    if (path / MASK_FOLDER).is_dir() or (path / LABEL_MAP).is_file():
        splits = _splits_in(path)
        if splits:
            return path, splits
    return None


def _splits_in(root: Path) -> list[str]:
    found = [p.name for p in root.iterdir() if p.is_dir() and _is_split_name(p.name)]
    order = {n: i for i, n in enumerate(OFFICIAL_SPLITS)}
    return sorted(found, key=lambda n: (order.get(n, len(order)), n))


def endoscapes_schema(root: Path) -> tuple[ClassSchema, list[str]]:
    """The classes of the data set at ``root`` and a note on where they came from."""
    label_map = root / LABEL_MAP
    if not label_map.is_file():
        listed = ", ".join(f"{i} {n}" for i, n in enumerate(ENDOSCAPES.names))
        return ENDOSCAPES, [f"{LABEL_MAP} not found in {root}: used the built-in Endoscapes "
                            f"classes ({listed})"]  # fmt: skip
    schema = read_class_file(label_map, known=(ENDOSCAPES,))
    if schema is ENDOSCAPES:
        return schema, []
    return schema, [f"{LABEL_MAP} names {schema.num_classes} classes that are not the official "
                    f"7 ({', '.join(schema.names)}): used them with generated colours"]  # fmt: skip


class EndoscapesSource(LabelledSource):
    """An Endoscapes split folder, or the root with every split (see the module docstring).

    Parameters
    ----------
    path : path-like
        ``<root>/train_seg`` (or another split folder) or ``<root>``.
    stride : int
        Keep every ``stride``-th frame of the ordered list.
    schema : ClassSchema, optional
        Overrides the classes of ``seg_label_map.txt``.
    split : str, optional
        Root only: the one split to open (``"train"`` or ``"train_seg"``).

    Raises
    ------
    FrameSourceError
        Not an Endoscapes layout, no ``semseg/`` folder, an unknown split, no frames, masks of
        another size, two splits holding one frame name.
    """

    kind = "endoscapes"

    def __init__(
        self,
        path: str | Path,
        stride: int = 1,
        schema: ClassSchema | None = None,
        split: str | None = None,
        **_: Any,
    ) -> None:
        path = Path(path)
        layout = find_layout(path)
        if layout is None:
            raise FrameSourceError(
                f"{path} is not an Endoscapes split folder (train_seg/, val_seg/, test_seg/ "
                f"beside {MASK_FOLDER}/) nor a root holding them"
            )
        root, splits = layout
        if split is not None:
            splits = [self._pick(root, splits, split)]
        self.splits = splits
        masks_dir = root / MASK_FOLDER
        if not masks_dir.is_dir():
            raise FrameSourceError(
                f"{masks_dir} does not exist: Endoscapes masks live in {MASK_FOLDER}/ beside "
                f"{', '.join(s + '/' for s in splits)}"
            )
        notes: list[str] = []
        if schema is None:
            schema, notes = endoscapes_schema(root)
        frames, others = self._list_frames(root, splits)
        if not frames:
            raise FrameSourceError(
                f"no Endoscapes frames (<video>_<frame>.jpg) in {', '.join(splits)} of {root}"
            )
        if others:
            notes.append(f"{len(others)} files not named <video>_<frame> left out: "
                         f"{', '.join(others[:5])}{' ...' if len(others) > 5 else ''}")  # fmt: skip
        mask_names = {e.name for e in masks_dir.iterdir()}
        files = [f for _, _, _, f in frames]
        masks = [masks_dir / (f.stem + ".png") if f.stem + ".png" in mask_names else None
                 for f in files]  # fmt: skip
        keys = [f"{v}/{f.stem}" for _, v, _, f in frames]
        groups = [str(v) for _, v, _, _ in frames]
        super().__init__(path, root, files, masks, keys, groups, stride, schema, notes)
        self.requested_split = split

    @property
    def split_of_frame(self) -> list[str]:
        """The split folder (``train_seg``) of each frame, in source order."""
        return [f.parent.name for f in self._files]

    @staticmethod
    def _pick(root: Path, splits: list[str], split: str) -> str:
        name = split if split.endswith("_seg") else f"{split}_seg"
        if name not in splits:
            raise FrameSourceError(f"{root} has no split {split!r}; it has {', '.join(splits)}")
        return name

    @staticmethod
    def _list_frames(root: Path, splits: list[str]) -> tuple[list[_Row], list[str]]:
        """(split rank, video, frame, file) sorted, and the names that are not frames."""
        rows: list[tuple[int, int, int, Path]] = []
        others: list[str] = []
        seen: dict[str, str] = {}
        for rank, split in enumerate(splits):
            for p in (root / split).iterdir():
                if p.name.startswith(".") or not p.is_file():
                    continue
                m = _FRAME.match(p.stem)
                if p.suffix.lower() not in IMAGE_SUFFIXES or m is None:
                    others.append(f"{split}/{p.name}")
                    continue
                if p.stem in seen:
                    raise FrameSourceError(
                        f"{root}: frame {p.stem} is in both {seen[p.stem]} and "
                        f"{split}/{p.name}; one frame name must be one frame"
                    )
                seen[p.stem] = f"{split}/{p.name}"
                rows.append((rank, int(m.group(1)), int(m.group(2)), p))
        rows.sort(key=lambda r: r[:3])
        return [(splits[r[0]], r[1], r[2], r[3]) for r in rows], sorted(others)

    @property
    def name(self) -> str:
        """The split folder's name (``train_seg``), or the root's with its splits."""
        if self.path.name in self.splits and len(self.splits) == 1:
            return self.path.name
        return f"{self.path.name} ({' + '.join(self.splits)})"

    def title(self) -> str:
        """``Endoscapes train_seg``."""
        return f"Endoscapes {self.name}"

    def describe(self) -> dict[str, Any]:
        """See :meth:`FrameSource.describe`; adds the split picked at a root."""
        out = super().describe()
        if self.requested_split is not None:
            out["split"] = self.requested_split
        return out
