"""Class files beside a data set: the project's schema JSON or a text label map.

Text label maps come in several styles; each line names one class, and all of these are read:

- ``name id`` (Endoscapes' ``seg_label_map.txt`` as written beside the shared copy),
- ``id name`` (``classes.txt`` / ``labels.txt`` of many exports),
- ``name: id`` or ``id: name``,
- CVAT/VOC ``labelmap.txt``: ``name:r,g,b::`` (the id is the line's position, the colour is kept).

Names may hold spaces (``cystic plate 1``); ``#`` starts a comment. Ids must be ``0 .. C-1``.
A line where both ends are numbers (``0 1``) is refused: which one is the id cannot be told.
Text files carry no colours (except CVAT's): names that match a known schema (case, ``_`` and
``-`` aside) take that schema, colours included; others get distinct generated colours.
"""

from __future__ import annotations

import colorsys
import re
from pathlib import Path

from alges_napari.core.data.classes import IGNORE_INDEX, ClassSchema, load_schema
from alges_napari.core.errors import SchemaError

_INT = re.compile(r"^\d+$")
_CVAT = re.compile(r"^([^:]+):\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)\s*:.*$")


def normalise_name(name: str) -> str:
    """A class name compared loosely: lower case, runs of ``_``/``-``/spaces as one space."""
    return re.sub(r"[\s_\-]+", " ", name.strip().lower())


def distinct_colors(n: int, taken: tuple[tuple[int, int, int], ...] = ()) -> list[tuple[int, ...]]:
    """``n`` readable colours (golden-ratio hues), none equal to white or to one in ``taken``."""
    out: list[tuple[int, ...]] = []
    seen = {tuple(c) for c in taken} | {(255, 255, 255)}
    k = 0
    while len(out) < n:
        h = (k * 0.618033988749895) % 1.0
        v = 0.95 if (k // 7) % 2 == 0 else 0.7
        rgb = tuple(int(round(255 * x)) for x in colorsys.hsv_to_rgb(h, 0.75, v))
        k += 1
        if rgb not in seen:
            seen.add(rgb)
            out.append(rgb)
    return out


def parse_label_map(text: str, source: str) -> tuple[list[str], list[tuple[int, ...]] | None]:
    """Class names by id (and colours, CVAT style only) from a text label map.

    Parameters
    ----------
    text : str
        The file's content.
    source : str
        The file, for error messages.

    Returns
    -------
    names : list of str
        ``names[i]`` is class ``i``.
    colors : list of (r, g, b) or None
        Only for CVAT ``name:r,g,b::`` files.

    Raises
    ------
    SchemaError
        A line that is none of the accepted styles, a duplicate id, or ids that are not 0..C-1.
    """
    by_id: dict[int, str] = {}
    cvat: list[tuple[str, tuple[int, ...]]] = []
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        m = _CVAT.match(line)
        if m:
            cvat.append((m.group(1).strip(), tuple(int(m.group(i)) for i in (2, 3, 4))))
            continue
        cid, name = _id_and_name(line, f"{source} line {lineno}")
        if cid in by_id:
            raise SchemaError(f"{source} line {lineno}: class id {cid} given twice "
                              f"({by_id[cid]!r} and {name!r})")  # fmt: skip
        by_id[cid] = name
    if cvat and by_id:
        raise SchemaError(f"{source}: mixes CVAT 'name:r,g,b::' lines with 'id name' lines")
    if cvat:
        return [n for n, _ in cvat], [c for _, c in cvat]
    if not by_id:
        raise SchemaError(f"{source}: no class lines")
    missing = sorted(set(range(len(by_id))) - by_id.keys())
    if missing:
        raise SchemaError(
            f"{source}: class ids must be 0..{len(by_id) - 1}; missing {missing}, "
            f"found {sorted(by_id)}"
        )
    return [by_id[i] for i in range(len(by_id))], None


def _id_and_name(line: str, where: str) -> tuple[int, str]:
    if ":" in line:
        left, right = (t.strip() for t in line.split(":", 1))
        parts = [left, right]
    else:
        tokens = re.split(r"[\s,]+", line)
        parts = [tokens[0], " ".join(tokens[1:])] if _INT.match(tokens[0]) else [
            " ".join(tokens[:-1]), tokens[-1]]  # fmt: skip
    first, last = bool(_INT.match(parts[0])), bool(_INT.match(parts[1]))
    if first == last or not parts[0] or not parts[1]:
        raise SchemaError(
            f"{where}: {line!r} is not 'name id', 'id name' or 'name: id' "
            "(exactly one side must be a whole number)"
        )
    cid, name = (int(parts[0]), parts[1]) if first else (int(parts[1]), parts[0])
    if cid >= IGNORE_INDEX - 1:
        raise SchemaError(f"{where}: class id {cid} is too large (ids 0..253; 255 is ignore)")
    return cid, name


def schema_from_names(
    names: list[str],
    colors: list[tuple[int, ...]] | None,
    name: str,
    known: tuple[ClassSchema, ...] = (),
) -> ClassSchema:
    """A schema for ``names``: a ``known`` schema whose names match, else generated colours."""
    wanted = [normalise_name(n) for n in names]
    for schema in known:
        if [normalise_name(n) for n in schema.names] == wanted and colors is None:
            return schema
    if colors is None:
        colors = distinct_colors(len(names))
    return ClassSchema(names=tuple(names), colors=tuple(tuple(c) for c in colors), name=name)


def read_class_file(path: str | Path, known: tuple[ClassSchema, ...] = ()) -> ClassSchema:
    """Read a class file: a schema ``.json`` (:func:`load_schema`) or a text label map.

    Parameters
    ----------
    path : path-like
        The file.
    known : tuple of ClassSchema
        Schemas to reuse (colours and all) when a text file names exactly their classes.

    Raises
    ------
    SchemaError
        Naming the file and the line.
    """
    path = Path(path)
    if path.suffix.lower() == ".json":
        return load_schema(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise SchemaError(f"class file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SchemaError(f"cannot read class file {path}: {exc}") from None
    names, colors = parse_label_map(text, str(path))
    try:
        return schema_from_names(names, colors, path.stem, known)
    except SchemaError as exc:
        raise SchemaError(f"{path}: {exc}") from None
