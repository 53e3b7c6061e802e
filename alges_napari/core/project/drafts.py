"""Drafts: an accepted label carried to neighbouring frames, waiting for the surgeon's accept.

``drafts/`` mirrors ``labels/`` (same key -> path mapping, same index PNGs) but is never read as
labels: training, export, the pool and the frame statuses only know ``labels/``, so a draft
frame stays unlabelled until the surgeon opens it, corrects what the flow got wrong and accepts
it through the normal accept path (:meth:`Project.accept_label`, which drops the draft).
Each PNG carries, as text chunks, the frame it was propagated from and how many frames away.

A draft never stands for a label: none is written for a frame that has one, and the check and
the write hold the store's lock while an accept drops the frame's draft under the same lock
after its label is on disk, so whichever comes second sees the other. A newer draft replaces
an older one unless the older one came from a nearer frame. Each write or removal emits a
``"draft"`` :class:`~.events.ProjectEvent` with the frames concerned.

:func:`iter_propagate_drafts` is the "Propagate" action: it warps a frame's label to the next
and previous k frames of its clip (:mod:`alges_napari.core.data.propagate`) and stores drafts.
"""

from __future__ import annotations

import contextlib
import io
import threading
import weakref
from collections.abc import Callable, Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from alges_napari.core.data.propagate import clip_neighbours, iter_warped
from alges_napari.core.errors import MaskError, ProjectError
from alges_napari.core.progress import Progress, SupportsIsSet, is_stopped
from alges_napari.core.project.events import ProjectEvent
from alges_napari.core.project.files import (
    DRAFTS_DIR,
    atomic_write_bytes,
    fsync_folder,
    key_to_relpath,
    makedirs,
    scan_labels,
)

_SOURCE, _DISTANCE = "alges-draft-source", "alges-draft-distance"


@dataclass(frozen=True)
class Draft:
    """A propagated label of one frame.

    Attributes
    ----------
    mask : ndarray uint8 (H, W)
        Class ids, 255 = not labelled (where the flow left the frame).
    source : str
        The accepted frame it was propagated from.
    distance : int
        Frames between ``source`` and this one.
    """

    mask: np.ndarray
    source: str
    distance: int


def _encode(mask: np.ndarray, source: str, distance: int) -> bytes:
    from PIL import Image
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text(_SOURCE, source)  # PIL writes an iTXt chunk when Latin-1 cannot hold it
    info.add_text(_DISTANCE, str(int(distance)))
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(mask, dtype=np.uint8), mode="L").save(
        buf, format="PNG", pnginfo=info
    )
    return buf.getvalue()


def _decode(path: Path, with_mask: bool = True) -> tuple[np.ndarray | None, str, int]:
    from PIL import Image

    try:
        with Image.open(path) as im:
            text = dict(getattr(im, "text", {}))
            mask = np.asarray(im) if with_mask else None
        return mask, str(text.get(_SOURCE, "")), int(text.get(_DISTANCE, 0))
    except (OSError, ValueError) as exc:
        raise ProjectError(f"cannot read draft {path}: {exc}") from exc


class DraftStore:
    """``drafts/`` of one project (see the module docstring).

    Parameters
    ----------
    project : Project
        Held weakly; its ``root``, ``readonly``, ``has_label``, ``frames`` and ``schema`` are used.
    emit : callable
        Called with each :class:`ProjectEvent` (the project's subscribers).
    """

    def __init__(self, project: Any, emit: Callable[[ProjectEvent], None]):
        self._project = weakref.proxy(project)
        self._root = Path(project.root) / DRAFTS_DIR
        self._emit = emit
        self._lock = threading.Lock()

    def path(self, key: str) -> Path:
        """The draft file of ``key`` (it may not exist)."""
        return self._root / f"{key_to_relpath(key)}.png"

    def has(self, key: str) -> bool:
        """True when ``key`` has a draft and no label."""
        return self.path(key).is_file() and not self._project.has_label(key)

    def keys(self) -> list[str]:
        """Frames with a draft and no label, in source order."""
        found = scan_labels(self._root) if self._root.is_dir() else set()
        return [k for k in self._project.keys if k in found and not self._project.has_label(k)]

    def load(self, key: str) -> Draft | None:
        """The draft of ``key``; None when it has none, or has a label (labels win).

        Raises
        ------
        MaskError, ProjectError
            The draft file is unreadable, has the wrong size or ids outside the schema.
        """
        if not self.has(key):
            return None
        from alges_napari.core.data.masks import validate_mask

        path = self.path(key)
        mask, source, distance = _decode(path)
        mask = validate_mask(mask, self._project.schema, shape=self._shape(), name=str(path))
        return Draft(mask, source, distance)

    def _shape(self) -> tuple[int, int]:
        return tuple(self._project.frames.shape)

    def save(self, key: str, mask: np.ndarray, source: str, distance: int) -> bool:
        """Store ``mask`` as the draft of ``key``, propagated from ``source`` ``distance`` away.

        Returns
        -------
        bool
            False, and nothing written, when ``key`` has a label or a draft from a nearer frame.

        Raises
        ------
        ProjectError
            The project is read-only, or ``key`` is not one of its frames.
        MaskError
            The mask does not fit the frames or the schema.
        """
        from alges_napari.core.data.masks import validate_mask

        project = self._project
        if project.readonly:
            raise ProjectError(f"project {project.root} is open read-only")
        if key not in project.frames:
            raise ProjectError(f"frame key {key!r} is not in the project's source {project.root}")
        mask = validate_mask(np.asarray(mask), project.schema, shape=self._shape(), name=key)
        data = _encode(mask, source, distance)
        path = self.path(key)
        with self._lock:
            if project.has_label(key):
                return False
            if path.is_file() and _decode(path, with_mask=False)[2] < distance:
                return False
            makedirs(path.parent)
            atomic_write_bytes(path, data)
        self._emit(ProjectEvent("draft", (key,)))
        return True

    def discard(self, key: str, announce: bool = True) -> bool:
        """Delete the draft of ``key``; True when there was one.

        ``announce=False`` emits no event (an accept's "label" event says it all).
        """
        path = self.path(key)
        with self._lock:
            try:
                path.unlink()
            except FileNotFoundError:
                return False
            except OSError as exc:
                raise ProjectError(f"cannot delete draft {path}: {exc.strerror or exc}") from exc
            with contextlib.suppress(OSError):
                fsync_folder(path.parent)
        if announce:
            self._emit(ProjectEvent("draft", (key,)))
        return True


#: The status the queue shows for an unlabelled frame that has a draft.
DRAFT_STATUS = "draft"


def shown_status(project: Any, key: str) -> str:
    """The status to show for ``key``: the project's, or :data:`DRAFT_STATUS` for an unlabelled
    frame with a draft (it stays "unlabelled" for the project until its draft is accepted).
    """
    status = project.status(key)
    return DRAFT_STATUS if status == "unlabelled" and project.drafts.has(key) else status


@dataclass(frozen=True)
class PropagationResult:
    """What a propagation did.

    Attributes
    ----------
    source : str
        The accepted frame propagated.
    written : tuple of str
        Frames that got a draft.
    kept : tuple of str
        Frames left as they were: they have a label, or a draft from a nearer frame.
    stopped : bool
        True when it was cancelled before the end.
    """

    source: str
    written: tuple[str, ...]
    kept: tuple[str, ...]
    stopped: bool


def iter_propagate_drafts(
    project: Any,
    key: str,
    k: int = 5,
    method: str = "dis",
    stop: SupportsIsSet | None = None,
) -> Generator[Progress, None, PropagationResult]:
    """Warp the accepted label of ``key`` to the next and previous ``k`` frames of its clip.

    Each warped label becomes a draft as soon as it is computed, so a cancelled run keeps the
    drafts already made. Labels are never touched.

    Parameters
    ----------
    project : Project
        Open for writing.
    key : str
        An accepted frame.
    k : int
        Frames to reach each way, within the clip (:func:`~.propagate.clip_neighbours`).
    method : {"dis", "farneback"}
        The optical flow.
    stop : object with ``is_set()``, optional
        Checked before each frame.

    Yields
    ------
    Progress
        Stage "propagate": frames done of the planned total; ``detail`` is the last frame.

    Raises
    ------
    ProjectError
        ``key`` has no accepted label.
    """
    try:
        label = project.load_label(key)
    except MaskError as exc:
        raise ProjectError(f"cannot propagate {key!r}: {exc}") from None
    if label is None:
        raise ProjectError(f"frame {key!r} has no accepted label: accept it, then propagate")
    keys, frames = project.keys, project.frames
    index = frames.index_of(key)
    runs = clip_neighbours(keys, index, k)
    total = sum(len(run) for run in runs)
    written: list[str] = []
    kept: list[str] = []
    yield Progress("propagate", 0, total, detail=key)
    for run in runs:
        for target, distance, warped in iter_warped(frames, index, label, run, method, stop):
            name = keys[target]
            (written if project.drafts.save(name, warped, key, distance) else kept).append(name)
            yield Progress("propagate", len(written) + len(kept), total, detail=name)
    done = len(written) + len(kept)
    return PropagationResult(key, tuple(written), tuple(kept), done < total and is_stopped(stop))
