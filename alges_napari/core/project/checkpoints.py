"""``models/``: one checkpoint per recorded round, and which of them is the latest.

A checkpoint is one safetensors file that carries its own metadata (see
:func:`alges_napari.core.learn.model.save_checkpoint`). An older alges-napari wrote the weights
and then a JSON sidecar; a kill between the two left weights without metadata, which no command
could load. Such an orphan is an incomplete round: :meth:`CheckpointFolder.latest` passes over
it with an :class:`IncompleteCheckpointWarning` and returns the checkpoint before it.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path

from alges_napari.core.errors import CheckpointError
from alges_napari.core.project.files import MODELS_DIR
from alges_napari.core.project.records import RoundRecord


class IncompleteCheckpointWarning(UserWarning):
    """A checkpoint without metadata (a round cut short) was passed over."""


class CheckpointFolder:
    """The newest complete ``round_*.safetensors`` of a ``models/`` folder, listed only when it
    changed.

    The widget asks for the latest checkpoint on every refresh; one ``stat`` of the folder
    replaces a listing of it, unless the folder's modification time moved (a checkpoint was
    written, even by hand) or :meth:`forget` was called (a round was recorded).
    """

    def __init__(self, root: Path):
        self.root = root
        self._known: tuple[int, Path | None] | None = None  # (folder mtime, newest checkpoint)
        self._warned: set[tuple[Path, Path | None]] = set()

    def forget(self) -> None:
        """List the folder again at the next :meth:`latest`."""
        self._known = None

    def latest(self) -> Path | None:
        """The newest complete checkpoint (by round number), or None."""
        try:
            stamp: int | None = self.root.stat().st_mtime_ns
        except OSError:
            stamp = None
        known = self._known
        if known is not None and known[0] == stamp:
            return known[1]
        listed_at = time.time_ns()
        newest = self._newest_complete(sorted(self.root.glob("round_*.safetensors")))
        # File-system clocks tick coarsely: a file added within the same tick as the change we
        # listed would leave the folder's time as it was. Trust a listing once that tick is past.
        if stamp is not None and listed_at - stamp > 1_000_000_000:
            self._known = (stamp, newest)
        else:
            self._known = None
        return newest

    def _newest_complete(self, found: list[Path]) -> Path | None:
        if not found:
            return None
        from alges_napari.core.learn.model import checkpoint_metadata

        chosen, orphans = None, []
        for path in reversed(found):
            try:
                complete = checkpoint_metadata(path) is not None
            except CheckpointError:
                complete = True  # not an orphan but a bad file: loading it says what is wrong
            if complete:
                chosen = path
                break
            orphans.append(path)
        for orphan in orphans:
            self._warn_orphan(orphan, chosen)
        return chosen

    def _warn_orphan(self, orphan: Path, previous: Path | None) -> None:
        if (orphan, previous) in self._warned:
            return  # once per orphan and fallback: the widget asks on every refresh
        self._warned.add((orphan, previous))
        instead = f"using {previous.name}" if previous else "no earlier checkpoint is left"
        warnings.warn(
            f"{orphan} has no metadata: a round cut short while saving (by an older "
            f"alges-napari); it is ignored, {instead}. Delete it or train the round again",
            IncompleteCheckpointWarning,
            stacklevel=4,
        )


def rounds_from_checkpoints(root: Path) -> list[RoundRecord]:
    """The rounds whose checkpoints are in ``models/`` (all a lost state file leaves of them)."""
    return [
        RoundRecord(round=int(p.stem.split("_")[1]), checkpoint=p.relative_to(root).as_posix())
        for p in sorted((root / MODELS_DIR).glob("round_*.safetensors"))
        if p.stem.split("_")[1].isdigit()
    ]
