"""The queue: the frames the last round selected, in pick order, with their informativeness
(:func:`~alges_napari.core.acquire.queue.describe` says what to show) and status; click to go.

The status is the project's, except for an unlabelled frame with a propagated draft, shown as
"draft" (orange) until the draft is accepted (then "labelled") or discarded
(:func:`~alges_napari.core.project.drafts.shown_status`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from qtpy.QtCore import Qt, Signal
from qtpy.QtGui import QBrush, QColor
from qtpy.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem

from alges_napari.core.acquire.queue import describe
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
_COLUMNS = ("#", "frame", "informative", "status")
#: The informativeness column's header tooltip (README, "A labelling session", item 2).
INFO_HEADER_TIP = (
    "How informative the frame is to the model, 0-100 of the most informative frame the "
    "round scored (the strategy's measure: gradient mass for ALGES-seg and random, entropy, "
    "...; hover a cell for its definition, the raw value and why the frame was picked). "
    "The queue is in pick order (#): strategies that sort by their measure (entropy, "
    "margins) pick the highest first; ALGES, BADGE and core-set pick to cover the pool, so "
    "the column is not sorted; 'spread' marks the first queue, before any model."
)


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
        self.horizontalHeaderItem(2).setToolTip(INFO_HEADER_TIP)
        self.verticalHeader().setVisible(False)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.setToolTip(
            "Frames the last round asks you to label, in pick order (#1 first). Click to go there."
        )
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
        """Show queue entries (:class:`~alges_napari.core.acquire.queue.QueueEntry`) and their
        status; ``strategy`` (the last round's) stands in for entries that do not name theirs.
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
        """Show each row's informativeness and why it was picked (:func:`describe`).

        ``strategy`` (the last round's) names the picker of entries that do not carry theirs
        (written by an older version); entries that do are shown as they say.
        """
        for row, entry in enumerate(self._entries):
            if entry.strategy is None and entry.score is None:  # an older version's queue
                entry = replace(entry, strategy=strategy or "spread")  # no round: the first one
            text, tip = describe(entry)
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
