"""Annotation controls: the queue, Next / Accept / Skip, start from prediction, paint class."""

from __future__ import annotations

from typing import Any

from qtpy.QtGui import QColor, QIcon, QPixmap
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from alges_napari._qt.queue_view import QueueTable

#: napari key names; all free in napari's default keymaps (viewer and layers).
KEYS = {"next": "N", "accept": "Control-Enter", "skip": "Shift-N"}


def key_label(key: str) -> str:
    """A napari key name as people write it ("Control-Enter" -> "Ctrl+Enter")."""
    return key.replace("Control", "Ctrl").replace("-", "+")


class AnnotatePanel(QWidget):
    """Widgets of the annotation loop (the wiring lives in the dock widget)."""

    def __init__(self, parent: Any = None):
        super().__init__(parent)
        self.frame_info = QLabel("No frame")
        self.frame_info.setWordWrap(True)
        self.queue = QueueTable()
        self.next = QPushButton("Next")
        self.accept = QPushButton("Accept")
        self.skip = QPushButton("Skip")
        tips = {
            self.next: ("next", "Go to the next unlabelled frame in the queue"),
            self.accept: ("accept", "Save the annotation as this frame's label (on disk at once)"),
            self.skip: ("skip", "Mark this frame as skipped (never queued again) and go on"),
        }
        for button, (name, tip) in tips.items():
            button.setToolTip(f"{tip} [{key_label(KEYS[name])}]")
        self.from_prediction = QPushButton("Start from prediction")
        self.from_prediction.setToolTip(
            "Copy the model's prediction for this frame into the annotation, to correct it"
        )
        self.auto_prediction = QCheckBox("Auto-fill new frames")
        self.auto_prediction.setChecked(True)
        self.auto_prediction.setToolTip(
            "Start from prediction by default: a frame with no label or draft opens with the "
            "model's prediction in the annotation"
        )
        self.validation = QCheckBox("Validation frame")
        self.validation.setToolTip(
            "Accept this frame as a validation frame: held out of training, it gives the Dice "
            "per round"
        )
        self.paint_class = QComboBox()
        self.paint_class.setToolTip("Class painted by napari's brush and fill")
        self.heat = QCheckBox("Heat map")
        self.heat.setToolTip("Show where the model's last-layer gradient is largest (ALGES-seg)")

        buttons = QHBoxLayout()
        for b in (self.next, self.accept, self.skip):
            buttons.addWidget(b)
        grid = QGridLayout()
        grid.addWidget(self.from_prediction, 0, 0)
        grid.addWidget(self.paint_class, 0, 1)
        grid.addWidget(self.auto_prediction, 1, 0)
        grid.addWidget(self.heat, 1, 1)
        grid.addWidget(self.validation, 2, 0)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.frame_info)
        layout.addWidget(self.queue)
        layout.addLayout(buttons)
        layout.addLayout(grid)

    def set_classes(self, names: tuple[str, ...], colors: tuple[tuple[int, int, int], ...]) -> None:
        """Fill the paint-class list with coloured entries."""
        self.paint_class.blockSignals(True)
        self.paint_class.clear()
        for i, (name, rgb) in enumerate(zip(names, colors, strict=True)):
            pix = QPixmap(12, 12)
            pix.fill(QColor(*rgb))
            self.paint_class.addItem(QIcon(pix), f"{i}: {name}")
        self.paint_class.blockSignals(False)
