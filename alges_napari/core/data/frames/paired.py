"""The generic paired layout most exported data sets use: ``images/`` + ``masks/`` + a class file.

::

    <root>/images/<name>.png|jpg|tif     frames (sub-folders allowed: they become the groups)
    <root>/masks/<name>.png|tif          index masks, same relative name, value = class id
    <root>/classes.json                  the project's schema JSON (names + colours), or a text
                                         label map: classes.txt, labelmap.txt, labels.txt

Open the root (or its ``images/`` folder). Keys are the image's path below ``images/`` without
its suffix (``clip3/frame_0012``); the key's first folder is its group, so frames in
``images/<video>/`` are grouped by video. Masks are grey, three equal channels, or a palette
PNG whose indices are the class ids (VOC); with a schema JSON, RGB masks in the schema's colours
are read too. Images without a mask (no ground truth) and masks without an image are reported by
name; everything else as for Endoscapes (:mod:`.labelled`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alges_napari.core.data.classes import CHOLECSEG8K, ENDOSCAPES, ClassSchema
from alges_napari.core.data.frames.base import IMAGE_SUFFIXES
from alges_napari.core.data.frames.classfile import read_class_file
from alges_napari.core.data.frames.folder import _list_images
from alges_napari.core.data.frames.labelled import LabelledSource
from alges_napari.core.errors import FrameSourceError

IMAGES, MASKS = "images", "masks"
#: Class files looked for in the root, in this order (the first found is used).
CLASS_FILES = (
    "classes.json",
    "schema.json",
    "classes.txt",
    "labelmap.txt",
    "labels.txt",
    "seg_label_map.txt",
)


def find_paired_root(path: Path) -> Path | None:
    """The root of a paired layout at ``path`` (the root itself or its ``images/``), or None."""
    if not path.is_dir():
        return None
    if (path / IMAGES).is_dir() and (path / MASKS).is_dir():
        return path
    if path.name == IMAGES and (path.parent / MASKS).is_dir():
        return path.parent
    return None


def _by_stem(folder: Path) -> dict[str, Path]:
    """Relative stem -> file; two files with one stem are refused, naming both."""
    out: dict[str, Path] = {}
    for f in _list_images(folder, True, IMAGE_SUFFIXES):
        stem = f.relative_to(folder).with_suffix("").as_posix()
        if stem in out:
            raise FrameSourceError(
                f"{folder}: {out[stem].name} and {f.name} share the name {stem!r}; one name "
                "must be one file"
            )
        out[stem] = f
    return out


class PairedSource(LabelledSource):
    """Frames in ``images/`` with index masks of the same name in ``masks/``.

    Parameters
    ----------
    path : path-like
        The root holding ``images/`` and ``masks/`` (or ``images/`` itself).
    stride : int
        Keep every ``stride``-th frame (natural order of the names).
    schema : ClassSchema, optional
        Overrides the root's class file; needed when the root has none.

    Raises
    ------
    FrameSourceError
        Not a paired layout, no class file and no ``schema``, no images, two files with one
        name, masks of another size than the frames.
    SchemaError
        A class file that cannot be read (naming the file and line).
    """

    kind = "paired"

    def __init__(
        self, path: str | Path, stride: int = 1, schema: ClassSchema | None = None, **_: Any
    ) -> None:
        path = Path(path)
        root = find_paired_root(path)
        if root is None:
            raise FrameSourceError(f"{path} holds no {IMAGES}/ and {MASKS}/ folders")
        notes: list[str] = []
        colour = schema is not None
        if schema is None:
            schema, colour = self._class_file(root)
        images, masks = _by_stem(root / IMAGES), _by_stem(root / MASKS)
        if not images:
            raise FrameSourceError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {root / IMAGES}")
        keys = list(images)
        lossy = [m.name for m in masks.values() if m.suffix.lower() in (".jpg", ".jpeg")]
        if lossy:
            notes.append(f"{len(lossy)} JPEG masks (lossy: class ids on edges may be wrong): "
                         f"{', '.join(lossy[:5])}")  # fmt: skip
        files = [images[k] for k in keys]
        mask_files = [masks.get(k) for k in keys]
        groups = [k.split("/", 1)[0] if "/" in k else "" for k in keys]
        self.group_word = "folders" if any(groups) else ""
        super().__init__(path, root, files, mask_files, keys, groups, stride, schema, notes,
                         colour_masks=colour)  # fmt: skip
        self.unmatched_masks = [f"{MASKS}/{m.relative_to(root / MASKS).as_posix()}"
                                for k, m in masks.items() if k not in images]  # fmt: skip

    @staticmethod
    def _class_file(root: Path) -> tuple[ClassSchema, bool]:
        """The schema of the root's class file, and whether it gives colours (JSON)."""
        for name in CLASS_FILES:
            f = root / name
            if f.is_file():
                schema = read_class_file(f, known=(ENDOSCAPES, CHOLECSEG8K))
                return schema, f.suffix.lower() == ".json"
        raise FrameSourceError(
            f"{root}: no class file; put one of {', '.join(CLASS_FILES)} beside {IMAGES}/ "
            "(a schema JSON, or one 'id name' line per class), or pass a schema"
        )

    def title(self) -> str:
        """``Paired <root name>``."""
        return f"Paired {self.root.name}"
