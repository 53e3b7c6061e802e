"""Frame key <-> relative path inside ``labels/`` and ``cache/``: reversible, never leaving them.

Frame keys may contain ``/`` (a CholecSeg8k key is ``video01/video01_00080/frame_80_endo``). Such
keys are mirrored as sub-folders: ``labels/video01/video01_00080/frame_80_endo.png``, so the label
tree reads like the source tree. Inside each path component, characters other than letters,
digits and ``_.-~`` are percent-escaped (``%`` itself included), and the components ``.`` and
``..`` become ``%2E`` and ``%2E%2E``; the mapping is therefore reversible and never leaves
``labels/``. Keys that differ only by letter case collide on case-insensitive file systems.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from urllib.parse import quote, unquote

from alges_napari.core.errors import ProjectError


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
    for part in parts:
        q = quote(part, safe="")
        # "." and ".." survive quote() unchanged and would walk the tree: escape them.
        escaped.append(q.replace(".", "%2E") if set(q) == {"."} else q)
    return PurePosixPath(*escaped)


def relpath_to_key(rel: PurePosixPath | str) -> str:
    """Inverse of :func:`key_to_relpath` (the suffix must already be removed)."""
    return "/".join(unquote(p) for p in PurePosixPath(rel).parts)
