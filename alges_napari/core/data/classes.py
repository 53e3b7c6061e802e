"""Class schemas: the names, display colours and (optionally) watershed values of the classes.

A schema maps class ids ``0 .. C-1`` to names and RGB colours; the id 255 is reserved for
"ignore" (unlabelled pixels, region boundaries), so a schema holds at most 254 classes
(ids 0..253; 254 is left free so that no class id can be confused with a boundary value).

:data:`CHOLECSEG8K` (docs/method.md, "Data facts") and :data:`ENDOSCAPES` are built in.
Custom schemas come from a small JSON file::

    {"name": "my-set",
     "classes": [{"id": 0, "name": "background", "color": [0, 0, 0]},
                 {"id": 1, "name": "tool", "color": [255, 0, 0], "watershed": 31}],
     "scored_classes": [1]}

``watershed`` is optional (all classes or none); ``scored_classes`` defaults to every class.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from alges_napari.core.errors import SchemaError

IGNORE_INDEX = 255
MAX_CLASSES = 254


@dataclass(frozen=True)
class ClassSchema:
    """Names, colours and watershed values of a set of classes.

    Parameters
    ----------
    names : tuple of str
        Class names; class ``i`` is ``names[i]``.
    colors : tuple of (int, int, int)
        RGB display / colour-mask colour of each class.
    watershed : tuple of int or None
        Grey value of each class in watershed masks (CholecSeg8k); None when the schema has none.
    ignore_index : int
        The mask value meaning "not labelled"; always 255 here.
    name : str
        A short name for the schema ("cholecseg8k", "custom", ...).
    scored : tuple of int or None
        Classes averaged in the reported mean Dice; None means all classes.
    """

    names: tuple[str, ...]
    colors: tuple[tuple[int, int, int], ...]
    watershed: tuple[int, ...] | None = None
    ignore_index: int = IGNORE_INDEX
    name: str = "custom"
    scored: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        # Normalise lists to tuples so that equal schemas compare and hash equal.
        object.__setattr__(self, "names", tuple(str(n) for n in self.names))
        object.__setattr__(self, "colors", tuple(tuple(int(v) for v in c) for c in self.colors))
        if self.watershed is not None:
            object.__setattr__(self, "watershed", tuple(int(v) for v in self.watershed))
        if self.scored is not None:
            object.__setattr__(self, "scored", tuple(int(v) for v in self.scored))
        _check_schema(self, source=f"schema {self.name!r}")

    @property
    def num_classes(self) -> int:
        """Number of classes C (ids 0 .. C-1)."""
        return len(self.names)

    @property
    def scored_classes(self) -> tuple[int, ...]:
        """Class ids averaged in the mean Dice (all classes unless the schema says otherwise)."""
        return self.scored if self.scored is not None else tuple(range(self.num_classes))

    def color_lut(self) -> np.ndarray:
        """Return a (256, 3) uint8 table: row ``i`` is class ``i``'s colour, other rows black."""
        lut = np.zeros((256, 3), dtype=np.uint8)
        lut[: self.num_classes] = np.asarray(self.colors, dtype=np.uint8)
        return lut

    def to_json(self) -> dict[str, Any]:
        """Return a JSON-able dict that :meth:`from_json` turns back into an equal schema."""
        classes = []
        for i, (n, c) in enumerate(zip(self.names, self.colors, strict=True)):
            entry: dict[str, Any] = {"id": i, "name": n, "color": list(c)}
            if self.watershed is not None:
                entry["watershed"] = self.watershed[i]
            classes.append(entry)
        out: dict[str, Any] = {"name": self.name, "classes": classes}
        if self.scored is not None:
            out["scored_classes"] = list(self.scored)
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any], source: str = "schema JSON") -> ClassSchema:
        """Build a schema from the dict written by :meth:`to_json` (or read from a JSON file).

        Parameters
        ----------
        data : dict
            ``{"name": ..., "classes": [{"id", "name", "color", ["watershed"]}, ...],
            ["scored_classes": [...]]}``.
        source : str
            Where the dict came from, for error messages (a file name).

        Raises
        ------
        SchemaError
            Naming ``source`` and the offending entry.
        """
        return _parse_schema(data, source)


def _parse_schema(data: Any, source: str) -> ClassSchema:
    if not isinstance(data, dict) or not isinstance(data.get("classes"), list):
        raise SchemaError(f"{source}: expected an object with a 'classes' list")
    entries = data["classes"]
    if not entries:
        raise SchemaError(f"{source}: 'classes' is empty")
    if len(entries) > MAX_CLASSES:
        raise SchemaError(
            f"{source}: {len(entries)} classes; at most {MAX_CLASSES} fit beside ignore=255"
        )
    by_id: dict[int, dict[str, Any]] = {}
    for pos, entry in enumerate(entries):
        if not isinstance(entry, dict) or not {"id", "name", "color"} <= entry.keys():
            raise SchemaError(f"{source}: class entry #{pos} {entry!r} needs id, name and color")
        cid = entry["id"]
        if not isinstance(cid, int) or isinstance(cid, bool):
            raise SchemaError(f"{source}: class entry #{pos} has a non-integer id {cid!r}")
        if cid in by_id:
            raise SchemaError(f"{source}: duplicate class id {cid} (entry #{pos} {entry!r})")
        by_id[cid] = entry
    missing = sorted(set(range(len(entries))) - by_id.keys())
    if missing:
        extra = sorted(by_id.keys() - set(range(len(entries))))
        raise SchemaError(
            f"{source}: class ids must be 0..{len(entries) - 1}; missing {missing}, "
            f"unexpected {extra}"
        )
    ordered = [by_id[i] for i in range(len(entries))]
    for e in ordered:
        _check_color(e["color"], source, e)
    has_ws = ["watershed" in e for e in ordered]
    if any(has_ws) and not all(has_ws):
        raise SchemaError(f"{source}: 'watershed' must be given for all classes or none")
    scored = data.get("scored_classes")
    try:
        return ClassSchema(
            names=tuple(e["name"] for e in ordered),
            colors=tuple(tuple(e["color"]) for e in ordered),
            watershed=tuple(e["watershed"] for e in ordered) if all(has_ws) else None,
            name=str(data.get("name", "custom")),
            scored=tuple(scored) if scored is not None else None,
        )
    except SchemaError as exc:
        raise SchemaError(f"{source}: {exc}") from None
    except (TypeError, ValueError) as exc:
        raise SchemaError(f"{source}: {exc}") from None


def _check_color(color: Any, source: str, entry: Any) -> None:
    ok = (
        isinstance(color, list | tuple)
        and len(color) == 3
        and all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 255 for v in color)
    )
    if not ok:
        raise SchemaError(f"{source}: bad color {color!r} in {entry!r}: need 3 ints in 0..255")


def _check_schema(schema: ClassSchema, source: str) -> None:
    """Validate a constructed schema (also guards direct construction in code)."""
    n = len(schema.names)
    if n == 0 or n > MAX_CLASSES:
        raise SchemaError(f"{source}: {n} classes; need 1..{MAX_CLASSES}")
    if len(schema.colors) != n:
        raise SchemaError(f"{source}: {len(schema.colors)} colours for {n} names")
    if schema.ignore_index != IGNORE_INDEX:
        raise SchemaError(f"{source}: ignore_index must be 255, got {schema.ignore_index}")
    for i, name in enumerate(schema.names):
        if not name.strip():
            raise SchemaError(f"{source}: class {i} has an empty name")
    if len(set(schema.names)) != n:
        dup = sorted({x for x in schema.names if schema.names.count(x) > 1})
        raise SchemaError(f"{source}: duplicate class names {dup}")
    for i, c in enumerate(schema.colors):
        _check_color(c, source, {"id": i, "name": schema.names[i], "color": list(c)})
    _check_unique(schema.colors, "colour", schema, source)
    if schema.watershed is not None:
        if len(schema.watershed) != n:
            raise SchemaError(f"{source}: {len(schema.watershed)} watershed values for {n} classes")
        for i, v in enumerate(schema.watershed):
            if not 0 <= v < IGNORE_INDEX:
                raise SchemaError(f"{source}: class {i} watershed value {v} not in 0..254")
        _check_unique(schema.watershed, "watershed value", schema, source)
    for s in schema.scored or ():
        if not 0 <= s < n:
            raise SchemaError(f"{source}: scored class {s} is not a class id (0..{n - 1})")


def _check_unique(values: tuple[Any, ...], what: str, schema: ClassSchema, source: str) -> None:
    seen: dict[Any, int] = {}
    for i, v in enumerate(values):
        if v in seen:
            raise SchemaError(
                f"{source}: classes {seen[v]} ({schema.names[seen[v]]!r}) and {i} "
                f"({schema.names[i]!r}) share the {what} {v}"
            )
        seen[v] = i


CHOLECSEG8K = ClassSchema(
    names=(
        "Black Background",
        "Abdominal Wall",
        "Liver",
        "Gastrointestinal Tract",
        "Fat",
        "Grasper",
        "Connective Tissue",
        "Blood",
        "Cystic Duct",
        "L-hook Electrocautery",
        "Gallbladder",
        "Hepatic Vein",
        "Liver Ligament",
    ),
    colors=(
        (127, 127, 127),
        (210, 140, 140),
        (255, 114, 114),
        (231, 70, 156),
        (186, 183, 75),
        (170, 255, 0),
        (255, 85, 0),
        (255, 0, 0),
        (255, 255, 0),
        (169, 255, 184),
        (255, 160, 165),
        (0, 50, 128),
        (111, 74, 0),
    ),
    watershed=(50, 11, 21, 13, 12, 31, 23, 24, 25, 32, 22, 33, 5),
    name="cholecseg8k",
    # The paper's reference code reports Dice over these classes only
    # (docs/method.md, "Data facts").
    scored=(0, 1, 2, 3, 4, 5, 9, 10),
)

#: Endoscapes-Seg50 (Murali et al. 2023, arXiv:2312.12429): the official 7 classes. Colours are
#: ours (the release has none): distinct hues, none white (white is the colour of "ignore"), and
#: background a dark grey so that the overlay does not hide the tissue it covers.
ENDOSCAPES = ClassSchema(
    names=(
        "background",
        "cystic plate",
        "calot triangle",
        "cystic artery",
        "cystic duct",
        "gallbladder",
        "tool",
    ),
    colors=(
        (64, 64, 64),
        (245, 130, 48),
        (255, 225, 25),
        (230, 25, 75),
        (60, 180, 75),
        (145, 30, 180),
        (0, 130, 200),
    ),
    name="endoscapes",
)

BUILTIN_SCHEMAS = {"cholecseg8k": CHOLECSEG8K, "endoscapes": ENDOSCAPES}


def load_schema(path: str | Path) -> ClassSchema:
    """Read a custom class schema from a JSON file.

    Parameters
    ----------
    path : path-like
        The JSON file (see the module docstring for its layout).

    Returns
    -------
    ClassSchema

    Raises
    ------
    SchemaError
        When the file is missing, not JSON, or malformed; the message names the file and entry.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SchemaError(f"schema file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SchemaError(f"cannot read schema file {path}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise SchemaError(f"schema file {path} is not valid JSON: {exc}") from None
    schema = _parse_schema(data, str(path))
    if "name" not in data:
        # A file without a name is known by its stem, which reads better in the UI than "custom".
        schema = ClassSchema(schema.names, schema.colors, schema.watershed, name=path.stem,
                             scored=schema.scored)  # fmt: skip
    return schema


def get_schema(name_or_path: str | Path | ClassSchema) -> ClassSchema:
    """Return a built-in schema by name ("cholecseg8k", "endoscapes") or load one from a JSON path.

    Raises
    ------
    SchemaError
        When the name is not built in and is not an existing JSON file.
    """
    if isinstance(name_or_path, ClassSchema):
        return name_or_path
    key = str(name_or_path)
    if key.lower() in BUILTIN_SCHEMAS:
        return BUILTIN_SCHEMAS[key.lower()]
    if not Path(key).suffix.lower() == ".json":
        raise SchemaError(
            f"unknown schema {key!r}: use one of {sorted(BUILTIN_SCHEMAS)} or a .json file"
        )
    return load_schema(key)
