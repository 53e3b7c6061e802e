"""``models/``: one checkpoint per recorded round, and which of them is the latest."""

from __future__ import annotations

import time
from pathlib import Path

from alges_napari.core.project.files import MODELS_DIR
from alges_napari.core.project.records import RoundRecord


class CheckpointFolder:
    """The newest ``round_*.safetensors`` of a ``models/`` folder, listed only when it changed.

    The widget asks for the latest checkpoint on every refresh; one ``stat`` of the folder
    replaces a listing of it, unless the folder's modification time moved (a checkpoint was
    written, even by hand) or :meth:`forget` was called (a round was recorded).
    """

    def __init__(self, root: Path):
        self.root = root
        self._known: tuple[int, Path | None] | None = None  # (folder mtime, newest checkpoint)

    def forget(self) -> None:
        """List the folder again at the next :meth:`latest`."""
        self._known = None

    def latest(self) -> Path | None:
        """The newest checkpoint (by round number), or None."""
        try:
            stamp: int | None = self.root.stat().st_mtime_ns
        except OSError:
            stamp = None
        known = self._known
        if known is not None and known[0] == stamp:
            return known[1]
        listed_at = time.time_ns()
        found = sorted(self.root.glob("round_*.safetensors"))
        newest = found[-1] if found else None
        # File-system clocks tick coarsely: a file added within the same tick as the change we
        # listed would leave the folder's time as it was. Trust a listing once that tick is past.
        if stamp is not None and listed_at - stamp > 1_000_000_000:
            self._known = (stamp, newest)
        else:
            self._known = None
        return newest


def rounds_from_checkpoints(root: Path) -> list[RoundRecord]:
    """The rounds whose checkpoints are in ``models/`` (all a lost state file leaves of them)."""
    return [
        RoundRecord(round=int(p.stem.split("_")[1]), checkpoint=p.relative_to(root).as_posix())
        for p in sorted((root / MODELS_DIR).glob("round_*.safetensors"))
        if p.stem.split("_")[1].isdigit()
    ]
