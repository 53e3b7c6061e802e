"""The queue: the frames the last round selected, with rank, score and status; click to go.

The status is the project's, except for an unlabelled frame with a propagated draft, shown as
"draft" (orange) until the draft is accepted (then "labelled") or discarded
(:func:`~alges_napari.core.project.drafts.shown_status`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from qtpy.QtCore import Qt, Signal
from qtpy.QtGui import QBrush, QColor
from qtpy.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem

from alges_napari.core.acquire.strategies import get_strategy
from alges_napari.core.errors import AlgesError
from alges_napari.core.project.drafts import DRAFT_STATUS

#: Row text colours by frame status (done rows fade, skipped ones fade further; a draft is
#: orange, as the frame line of a frame showing one).
_STATUS_COLOURS = {
    "labelled": "#7fbf7f",
    "validation": "#7fa8bf",
    "skipped": "#8a8a8a",
    DRAFT_STATUS: "#e8a33d",
}
#: The status cell's tooltip by status.
STATUS_TIPS = {
    "unlabelled": "not labelled yet",
    "labelled": "accepted: a training label",
    "validation": "accepted as a validation frame (held out of training)",
    "skipped": "skipped: never queued again",
    DRAFT_STATUS: (
        "a propagated draft waits: the frame opens with it; correct it and Accept to make it "
        "a label (until then the frame is unlabelled)"
    ),
}
_COLUMNS = ("#", "frame", "score", "status")


#: The score cell of a frame its strategy did not score, and why.
NO_SCORE = "-"
NO_SCORE_WHY = (
    "no score: this strategy ranks frames without scoring them (random draws, or frames spread "
    "evenly before any model exists)"
)


def lower_is_better(strategy: str | None) -> bool:
    """True when ``strategy`` asks first for the frames with the lowest score (margins)."""
    if strategy is None:
        return False
    try:
        return not getattr(get_strategy(strategy), "highest_first", True)
    except AlgesError:  # a strategy of an older or newer version: scores read as "higher asks more"
        return False


def relative_scores(scores: Sequence[float | None], lower: bool = False) -> list[float | None]:
    """Scores on a 0-100 scale of the best one (100); None stays None.

    With ``lower`` the smallest score is the best and a score ``s`` maps to ``100 * best / s``
    (100 where ``s`` is 0); otherwise ``100 * s / best``. All-zero scores map to 100.
    """
    finite = [s for s in scores if s is not None and math.isfinite(s)]
    if not finite:
        return [None] * len(scores)
    best = min(finite) if lower else max(finite)
    out: list[float | None] = []
    for s in scores:
        if s is None or not math.isfinite(s):
            out.append(None)
        elif lower:
            out.append(100.0 if s <= 0 else 100.0 * best / s)
        else:
            out.append(100.0 if best <= 0 else 100.0 * s / best)
    return out


def short_key(key: str) -> str:
    """The last path component of a frame key (CholecSeg8k keys are long)."""
    return key.rsplit("/", 1)[-1]


class QueueTable(QTableWidget):
    """A table of queue entries; emits :attr:`frame_chosen` with the key of a clicked row.

    Parameters
    ----------
    parent : QWidget, optional
    """

    frame_chosen = Signal(str)

    def __init__(self, parent: Any = None):
        super().__init__(0, len(_COLUMNS), parent)
        self.setHorizontalHeaderLabels(_COLUMNS)
        self.horizontalHeaderItem(2).setToolTip(
            "How strongly the strategy asked for the frame, 0-100 relative to the round's "
            "best frame (100); hover a score for the strategy's raw value. '-' when the "
            "strategy ranks without scores (random, the first queue)."
        )
        self.verticalHeader().setVisible(False)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.setToolTip("Frames the last round asks you to label, best first. Click to go there.")
        self.setMinimumHeight(110)
        self._keys: list[str] = []
        self._entries: list[Any] = []
        self._rows: dict[str, int] = {}
        self.cellClicked.connect(self._on_click)

    @property
    def keys(self) -> list[str]:
        """The keys shown, in row order."""
        return list(self._keys)

    def set_entries(
        self,
        entries: Sequence[Any],
        status_of: Callable[[str], str],
        strategy: str | None = None,
    ) -> None:
        """Show queue entries (objects with ``key``, ``rank``, ``score``) and their status.

        ``strategy`` names the strategy that ranked them (None: the first queue); it says
        whether a low or a high raw score is the better one, and why there is no score.
        """
        self.setRowCount(len(entries))
        self._entries = list(entries)
        self._keys = [e.key for e in entries]
        self._rows = {key: row for row, key in enumerate(self._keys)}
        for row, entry in enumerate(entries):
            cells = (str(entry.rank + 1), short_key(entry.key), "", "")
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if col == 1:
                    item.setToolTip(entry.key)
                if col in (0, 2):
                    item.setTextAlignment(
                        int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                    )
                self.setItem(row, col, item)
            self.set_status(entry.key, status_of(entry.key))
        self.set_strategy(strategy)

    def set_strategy(self, strategy: str | None) -> None:
        """Show the scores as ranked by ``strategy`` (the round's record may come after its queue)."""
        lower = lower_is_better(strategy)
        relative = relative_scores([e.score for e in self._entries], lower)
        what = strategy or "the first queue (no model yet)"
        for row, entry in enumerate(self._entries):
            if relative[row] is None:
                text, tip = NO_SCORE, f"{what}: {NO_SCORE_WHY}"
            else:
                text = f"{relative[row]:.0f}"
                order = "lower" if lower else "higher"
                tip = f"{what}: raw score {entry.score:,.6g} ({order} asks more); 100 = the best"
            item = self.item(row, 2)
            item.setText(text)
            item.setToolTip(tip)

    def set_status(self, key: str, status: str) -> None:
        """Show ``status`` in the row of ``key`` (nothing when ``key`` is not queued)."""
        row = self._rows.get(key)
        if row is None:
            return
        cell = self.item(row, len(_COLUMNS) - 1)
        cell.setText(status)
        cell.setToolTip(STATUS_TIPS.get(status, status))
        colour = _STATUS_COLOURS.get(status)
        brush = QBrush(QColor(colour)) if colour else None  # None: the palette's text colour
        for col in range(len(_COLUMNS)):
            self.item(row, col).setData(Qt.ItemDataRole.ForegroundRole, brush)

    def status_of(self, key: str) -> str | None:
        """The status shown in the row of ``key``, or None when ``key`` is not queued."""
        row = self._rows.get(key)
        return None if row is None else self.item(row, len(_COLUMNS) - 1).text()

    def highlight(self, key: str | None) -> None:
        """Select the row of ``key`` (the frame on screen), or none."""
        self.blockSignals(True)
        try:
            if key in self._keys:
                self.selectRow(self._keys.index(key))
            else:
                self.clearSelection()
        finally:
            self.blockSignals(False)

    def _on_click(self, row: int, _column: int) -> None:
        if 0 <= row < len(self._keys):
            self.frame_chosen.emit(self._keys[row])
