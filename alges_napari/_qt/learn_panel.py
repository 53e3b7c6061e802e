"""Learning controls: strategy, query batch, epochs, auto-retrain, Retrain/Cancel, progress."""

from __future__ import annotations

from typing import Any

from qtpy.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from alges_napari.core.acquire.strategies import available_strategies
from alges_napari.core.progress import Progress
from alges_napari.core.session import RoundConfig

DEFAULT_STRATEGY = "alges-seg"
STAGE_NAMES = {
    "train": "Training",
    "save": "Saving model",
    "validate": "Validating",
    "score": "Scoring pool",
    "select": "Selecting",
    "count": "Counting labelled pixels",
    "export": "Exporting",
}


def describe_progress(p: Progress) -> str:
    """One line for a core progress record: stage, epoch, loss, frames scored."""
    text = STAGE_NAMES.get(p.stage, p.stage.capitalize())
    if p.stage == "train":
        text += f": epoch {p.epoch or '?'}/{p.epochs or '?'}"
        if p.step is not None and p.steps is not None:
            text += f", batch {p.step}/{p.steps}"
        if p.loss is not None:
            text += f", loss {float(p.loss):.4f}"
    elif p.stage in ("score", "validate", "count") and p.total:
        text += f": {p.done}/{p.total} frames"
    if p.warning:
        text += f" ({p.warning})"
    return text


class LearnPanel(QWidget):
    """The controls of a round; :meth:`round_config` reads them."""

    def __init__(self, parent: Any = None):
        super().__init__(parent)
        self.strategy = QComboBox()
        self.strategy.addItems(available_strategies())
        self.strategy.setCurrentText(DEFAULT_STRATEGY)
        self.strategy.setToolTip("How the next frames to label are chosen")
        self.query_size = QSpinBox()
        self.query_size.setRange(1, 10_000)
        self.query_size.setValue(RoundConfig().query_size)
        self.query_size.setToolTip("Batch size: frames selected for labelling per round")
        self.epochs = QSpinBox()
        self.epochs.setRange(0, 1000)
        self.epochs.setToolTip("Training epochs per round; 'preset' uses the project's preset")
        self.set_preset_epochs(None)
        self.auto_every = QSpinBox()
        self.auto_every.setRange(0, 1000)
        self.auto_every.setSpecialValueText("off")
        self.auto_every.setSuffix(" labels")
        self.auto_every.setToolTip("Retrain and rank automatically after every K accepted labels")
        self.retrain = QPushButton("Retrain and rank")
        self.retrain.setToolTip("Train on all accepted labels, score the pool, refill the queue")
        self.cancel = QPushButton("Cancel")
        self.cancel.setToolTip("Stop the round within one batch")
        self.progress = QProgressBar()
        self.progress.setTextVisible(False)
        self.progress.setMaximumHeight(10)
        self.progress_text = QLabel("Idle")
        self.progress_text.setWordWrap(True)

        form = QFormLayout()
        form.addRow("Strategy", self.strategy)
        form.addRow("Batch size", self.query_size)
        form.addRow("Epochs", self.epochs)
        form.addRow("Auto-retrain every", self.auto_every)
        buttons = QHBoxLayout()
        buttons.addWidget(self.retrain, 2)
        buttons.addWidget(self.cancel, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.progress)
        layout.addWidget(self.progress_text)

    def set_preset_epochs(self, epochs: int | None) -> None:
        """Name the preset's epoch count in the spin box's "use the preset" position (0)."""
        self.epochs.setSpecialValueText("preset" if epochs is None else f"preset ({epochs})")

    def round_config(self) -> RoundConfig:
        """A RoundConfig from the controls."""
        return RoundConfig(
            strategy=self.strategy.currentText(),
            query_size=self.query_size.value(),
            epochs=self.epochs.value() or None,
        )

    def show_progress(self, p: Progress) -> None:
        """Move the bar and the text to a progress record."""
        total = int(p.total or 0)
        if total > 0:
            self.progress.setRange(0, total)
            self.progress.setValue(min(int(p.done), total))
        else:
            self.progress.setRange(0, 0)  # busy indicator
        self.progress_text.setText(describe_progress(p))

    def show_idle(self, text: str = "Idle") -> None:
        """Reset the bar and show ``text``."""
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress_text.setText(text)
