"""Frame key <-> relative path inside ``labels/`` and ``cache/``: reversible, never leaving them.

Frame keys may contain ``/`` (a CholecSeg8k key is ``video01/video01_00080/frame_80_endo``). Such
keys are mirrored as sub-folders: ``labels/video01/video01_00080/frame_80_endo.png``, so the label
tree reads like the source tree. Inside each path component, characters other than letters,
digits and ``_.-~`` are percent-escaped (``%`` itself included), and the components ``.`` and
``..`` become ``%2E`` and ``%2E%2E``; the mapping is therefore reversible and never leaves
``labels/``. Keys that differ only by letter case collide on case-insensitive file systems.

Long keys: a file name holds at most 255 bytes, and an escaped accented letter takes 6, a CJK
character 9. A component whose escaped text is longer than a file name can hold (folders: 255;
the file's own name: :data:`FILE_COMPONENT_MAX`, which leaves room for ``.png`` and the atomic
writer's ``.<name>.XXXXXXXX.tmp``) is cut into pieces, each a sub-folder ending with ``+`` (a
character escaping never leaves bare) and the last piece the file. A cut never splits an escape,
and a piece never starts with ``.``. The mapping stays reversible; every key short enough to be
stored before keeps exactly its path.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from urllib.parse import quote, unquote

from alges_napari.core.errors import ProjectError

#: Longest escaped name of a label or cache file, before ".png": 237 + len(".png") + the
#: temporary name's "." + ".XXXXXXXX.tmp" = 255 bytes, the limit of common file systems.
FILE_COMPONENT_MAX = 237
FOLDER_COMPONENT_MAX = 255
#: Ends a piece of a component cut in pieces; quote() always escapes it, so no other name ends so.
CONTINUED = "+"


def key_to_relpath(key: str) -> PurePosixPath:
    """Map a frame key to its relative path (without suffix) inside ``labels/`` or ``cache/``.

    Raises
    ------
    ProjectError
        When the key is empty or has an empty ``/``-separated component.
    """
    parts = key.split("/")
    if not key or any(p == "" for p in parts):
        raise ProjectError(f"frame key {key!r} is empty or has an empty path component")
    escaped = []
    for i, part in enumerate(parts):
        limit = FILE_COMPONENT_MAX if i == len(parts) - 1 else FOLDER_COMPONENT_MAX
        escaped.extend(_pieces(_no_dots(quote(part, safe="")), limit))
    return PurePosixPath(*escaped)


def _no_dots(q: str) -> str:
    # "." and ".." survive quote() unchanged and would walk the tree: escape them.
    return q.replace(".", "%2E") if set(q) == {"."} else q


def _pieces(q: str, limit: int) -> list[str]:
    """``q`` as it is when it fits ``limit``, else cut into pieces of a file name's size."""
    if len(q) <= limit:
        return [q]
    pieces = []
    while len(q) > FILE_COMPONENT_MAX:
        cut = FILE_COMPONENT_MAX - len(CONTINUED)
        escape = q.rfind("%", cut - 2, cut)  # an escape "%XX" across the cut moves it back
        if escape != -1:
            cut = escape
        pieces.append(q[:cut] + CONTINUED)
        q = q[cut:]
        if q.startswith("."):  # a hidden name would read as a temporary file
            q = "%2E" + q[1:]
    pieces.append(q)
    return pieces


def relpath_to_key(rel: PurePosixPath | str) -> str:
    """Inverse of :func:`key_to_relpath` (the suffix must already be removed)."""
    parts, pending = [], ""
    for piece in PurePosixPath(rel).parts:
        if piece.endswith(CONTINUED):
            pending += piece[: -len(CONTINUED)]
        else:
            parts.append(unquote(pending + piece))
            pending = ""
    if pending:
        parts.append(unquote(pending))
    return "/".join(parts)
