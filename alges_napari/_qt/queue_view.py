"""The queue: the frames the last round selected, with rank, score and status; click to go."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from qtpy.QtCore import Qt, Signal
from qtpy.QtGui import QBrush, QColor
from qtpy.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem

#: Row text colours by frame status (done rows fade, skipped ones fade further).
_STATUS_COLOURS = {"labelled": "#7fbf7f", "validation": "#7fa8bf", "skipped": "#8a8a8a"}
_COLUMNS = ("#", "frame", "score", "status")


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
            "Why the strategy asked for the frame: entropy / margin / 1 - confidence for the "
            "uncertainty strategies; for ALGES and BADGE the squared distance to the frames "
            "picked before it (blank for the first, random pick); for core-set the distance to "
            "the labelled set; blank for random."
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
        self._rows: dict[str, int] = {}
        self.cellClicked.connect(self._on_click)

    @property
    def keys(self) -> list[str]:
        """The keys shown, in row order."""
        return list(self._keys)

    def set_entries(self, entries: Sequence[Any], status_of: Callable[[str], str]) -> None:
        """Show queue entries (objects with ``key``, ``rank``, ``score``) and their status."""
        self.setRowCount(len(entries))
        self._keys = [e.key for e in entries]
        self._rows = {key: row for row, key in enumerate(self._keys)}
        for row, entry in enumerate(entries):
            score = "" if entry.score is None else f"{entry.score:.3g}"
            cells = (str(entry.rank + 1), short_key(entry.key), score, "")
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

    def set_status(self, key: str, status: str) -> None:
        """Show ``status`` in the row of ``key`` (nothing when ``key`` is not queued)."""
        row = self._rows.get(key)
        if row is None:
            return
        self.item(row, len(_COLUMNS) - 1).setText(status)
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
