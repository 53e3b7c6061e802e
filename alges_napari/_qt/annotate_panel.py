"""Annotation controls: the queue, Next / Accept / Skip, the class palette, superpixel painting,
GrabCut box, Refine edges and the scissors."""

from __future__ import annotations

from typing import Any

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

from alges_napari._qt.palette import ClassPalette
from alges_napari._qt.queue_view import QueueTable
from alges_napari._qt.superpixel_tool import BRUSH_MODIFIER
from alges_napari.core.data.superpixels import AREAS

#: napari key names; all free in napari's default keymaps (viewer and layers).
KEYS = {"next": "N", "accept": "Control-Enter", "skip": "Shift-N"}


def key_label(key: str) -> str:
    """A napari key name as people write it ("Control-Enter" -> "Ctrl+Enter")."""
    return key.replace("Control", "Ctrl").replace("-", "+")


class AnnotatePanel(QWidget):
    """Widgets of the annotation loop (the wiring lives in the dock widget).

    Attributes
    ----------
    loop : QWidget
        The frame line, the queue and Next / Accept / Skip: what the dock keeps always in view.
    tools : QWidget
        The palette, superpixel painting, the GrabCut box, Refine edges, the scissors and the
        prediction / heat map / validation switches: the dock's "Correct" tab. Both sit in
        this panel until the dock lays them out.
    """

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
            "model's prediction in the annotation, once the latest round's quality (validation "
            "Dice, else Dice on its training labels) reaches the auto-fill floor shown in Status; "
            "below it the prediction shows as the overlay only, and the frame line says why"
        )
        self.validation = QCheckBox("Validation frame")
        self.validation.setToolTip(
            "Accept this frame as a validation frame: held out of training, it gives the Dice "
            "per round"
        )
        self.palette = ClassPalette()
        self.superpixels = QPushButton("Superpixel paint")
        self.superpixels.setCheckable(True)
        self.superpixels.setToolTip(
            "Click or drag on the frame to paint whole superpixels (regions that follow the "
            f"image's edges) with the selected class; hold {BRUSH_MODIFIER} for napari's plain "
            "brush, Space to pan. One undo step per click or drag. The superpixels' boundaries "
            "are drawn while it is on. Picking a napari tool turns it off."
        )
        self.grabcut = _mode_button(
            "GrabCut box",
            "Drag a box around an object: on release the object inside the box (found by "
            "OpenCV's GrabCut from the frame's colours and edges) gets the selected class. One "
            "undo step per box. The box is drawn while you drag; hold Space to pan. Picking a "
            "napari tool or Superpixel paint turns it off.",
        )
        self.refine = QPushButton("Refine edges")
        self.refine.setEnabled(False)  # until a project's annotation layer has the tool
        self.refine.setToolTip(
            "Move the selected class's edges on this frame onto the image's edges (OpenCV's "
            "GrabCut, within 24 px of the class): pixels it adds get the class, pixels it "
            "takes away become not labelled. One undo step."
        )
        self.scissors = _mode_button(
            "Scissors",
            "Click anchors along an object's outline: each leg follows the image's edges "
            "(OpenCV's intelligent scissors). Double-click or Enter closes the outline and "
            "paints it with the selected class (one undo step); Backspace takes the last anchor "
            "back, Escape drops the outline, Space pans.",
        )
        self.coarseness = QComboBox()
        for name, area in AREAS.items():
            side = round(area**0.5)
            self.coarseness.addItem(f"{name} (~{side}x{side} px)", name)
        self.coarseness.setToolTip(
            "Size of the superpixels a click paints (G switches while superpixel mode is on)"
        )
        self.heat = QCheckBox("Heat map")
        self.heat.setToolTip("Show where the model's last-layer gradient is largest (ALGES-seg)")

        buttons = QHBoxLayout()
        for b in (self.next, self.accept, self.skip):
            buttons.addWidget(b)
        tools = QHBoxLayout()
        tools.addWidget(self.superpixels, 1)
        tools.addWidget(self.coarseness, 1)
        boxes = QHBoxLayout()  # a row of its own: the dock keeps its width
        boxes.addWidget(self.grabcut, 1)
        boxes.addWidget(self.refine, 1)
        boxes.addWidget(self.scissors, 1)
        grid = QGridLayout()
        grid.addWidget(self.from_prediction, 0, 0)
        grid.addWidget(self.heat, 0, 1)
        grid.addWidget(self.auto_prediction, 1, 0)
        grid.addWidget(self.validation, 1, 1)
        self.loop, self.tools = QWidget(), QWidget()
        loop = QVBoxLayout(self.loop)
        loop.setContentsMargins(0, 0, 0, 0)
        loop.addWidget(self.frame_info)
        loop.addWidget(self.queue, 1)  # the queue takes the height the dock has to spare
        loop.addLayout(buttons)
        layout = QVBoxLayout(self.tools)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.palette)
        layout.addLayout(tools)
        layout.addLayout(boxes)
        layout.addLayout(grid)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self.loop, 1)
        outer.addWidget(self.tools)

    def set_classes(self, names: tuple[str, ...], colors: tuple[tuple[int, int, int], ...]) -> None:
        """Show the schema's classes in the palette."""
        self.palette.set_classes(names, colors)


def _mode_button(text: str, tip: str) -> QPushButton:
    """A checkable button for a mode of the annotation layer, off until a project's layer has
    the tool (the tool's ``attach_*`` enables it)."""
    button = QPushButton(text)
    button.setCheckable(True)
    button.setEnabled(False)
    button.setToolTip(tip)
    return button
