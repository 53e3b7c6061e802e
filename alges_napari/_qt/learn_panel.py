"""Learning controls: strategy, frames per round, epochs, auto-retrain, Retrain/Cancel, progress.

The settings are a magicgui form made from the typed signature of :func:`round_settings`;
its numpydoc parameters become the fields' tooltips.
"""

# No `from __future__ import annotations`: magicgui reads the annotations of the form's
# signature at run time.
import warnings
from typing import Annotated, Any

from magicgui import magicgui
from magicgui.widgets import ComboBox, Container
from qtpy.QtCore import Qt
from qtpy.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout, QWidget

from alges_napari.core.acquire.strategies import (
    DEFAULT_STRATEGY,
    REGISTRY,
    available_strategies,
    get_strategy,
)
from alges_napari.core.errors import AlgesError
from alges_napari.core.learn.config import PRESETS
from alges_napari.core.learn.engine import ENGINES
from alges_napari.core.progress import Progress
from alges_napari.core.session import RoundConfig
from alges_napari.core.validate import engine_from_env

#: The auto-retrain choices: after every K accepted labels (0 = never).
AUTO_EVERY = (0, 1, 2, 3, 5, 10, 20, 50, 100)
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


def round_settings(
    strategy: Annotated[
        str, {"choices": available_strategies(), "label": "Strategy"}
    ] = DEFAULT_STRATEGY,
    query_size: Annotated[int, {"min": 1, "max": 10_000, "label": "Frames per round"}] = (
        RoundConfig().query_size
    ),
    epochs: Annotated[int, {"min": 1, "max": 1000, "label": "Epochs"}] = PRESETS["cpu"].epochs,
    auto_every: Annotated[
        int,
        {
            "choices": [("off", 0)] + [(f"{k} label{'s' * (k > 1)}", k) for k in AUTO_EVERY[1:]],
            "label": "Auto-retrain every",
        },
    ] = 0,
) -> RoundConfig:
    """Settings of the next round.

    Parameters
    ----------
    strategy : str
        How the next frames to label are chosen.
    query_size : int
        Frames the round selects for labelling (the queue's length).
    epochs : int
        Training epochs per round (set to the project's preset when a project opens).
    auto_every : int
        Retrain and rank automatically after every K accepted labels.
    """
    # The form is the widget's edge: the chosen name is resolved here, once, for the round.
    return RoundConfig(strategy=get_strategy(strategy), query_size=query_size, epochs=epochs)


class LearnPanel(QWidget):
    """The controls of a round; :meth:`round_config` reads them.

    Attributes
    ----------
    settings : magicgui.widgets.FunctionGui
        The form of :func:`round_settings`; ``strategy``, ``query_size``, ``epochs`` and
        ``auto_every`` are its magicgui widgets (read and set ``.value``).
    engine : magicgui.widgets.ComboBox
        What runs the scoring pass (auto, torch, onnx), starting from ``$ALGES_ENGINE`` (read
        once, here); each round takes its value when it starts (:meth:`engine_choice`), as an
        argument of the session: nothing process-wide or in the environment changes.
    form_box : QWidget
        The settings (the form and the engine): the dock's "Learn" tab.
    run_box : QWidget
        Retrain and rank, Cancel and the progress line: the dock keeps it always in view, so
        a round can be started and followed while labelling. Both sit in this panel until the
        dock lays them out.
    """

    def __init__(self, parent: Any = None):
        super().__init__(parent)
        self.settings = magicgui(round_settings, call_button=False)
        self.settings.margins = (0, 0, 0, 0)
        self.settings.native.layout().setSpacing(2)  # the dock must fit a laptop screen
        s = self.settings
        self.strategy, self.query_size, self.epochs = s.strategy, s.query_size, s.epochs
        self.auto_every = s.auto_every
        # A machine's setting, not a round's: beside the form.
        try:
            current = engine_from_env() or "auto"
        except AlgesError as exc:  # a mistyped $ALGES_ENGINE: say so, score on auto
            warnings.warn(f"{exc}; using auto", RuntimeWarning, stacklevel=2)
            current = "auto"
        self.engine = ComboBox(
            choices=list(ENGINES),
            value=current if current in ENGINES else "auto",
            label="Scoring engine",
            tooltip="What runs the scoring pass: auto (the fastest measured on this machine), "
            "torch, or onnx (ONNX Runtime, CPU)",
        )
        engine_row = Container(widgets=[self.engine], labels=True)
        engine_row.margins = (0, 0, 0, 0)
        combo = self.strategy.native
        for i, name in enumerate(self.strategy.choices):
            combo.setItemData(i, REGISTRY[name].description, Qt.ItemDataRole.ToolTipRole)
        self.retrain = QPushButton("Retrain and rank")
        self.retrain.setToolTip("Train on all accepted labels, score the pool, refill the queue")
        self.cancel = QPushButton("Cancel")
        self.cancel.setToolTip("Stop the round within one batch")
        self.progress = QProgressBar()
        self.progress.setTextVisible(False)
        self.progress.setMaximumHeight(10)
        self.progress_text = QLabel("Idle")
        self.progress_text.setWordWrap(True)

        buttons = QHBoxLayout()
        buttons.addWidget(self.retrain, 2)
        buttons.addWidget(self.cancel, 1)
        self.form_box, self.run_box = QWidget(), QWidget()
        form = QVBoxLayout(self.form_box)
        form.setContentsMargins(0, 0, 0, 0)
        form.addWidget(s.native)
        form.addWidget(engine_row.native)
        run = QVBoxLayout(self.run_box)
        run.setContentsMargins(0, 0, 0, 0)
        run.setSpacing(2)
        run.addLayout(buttons)
        run.addWidget(self.progress)
        run.addWidget(self.progress_text)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.form_box)
        layout.addWidget(self.run_box)

    def set_preset_epochs(self, epochs: int) -> None:
        """Show the project's preset epoch count (what a round trains for unless changed)."""
        edit = self.epochs.native.lineEdit()
        edit.blockSignals(True)  # superqt's spin box takes the keyboard focus on a text change,
        try:  # which would swallow the viewer's shortcuts (N, Shift+N) after a project opens
            self.epochs.value = epochs
        finally:
            edit.blockSignals(False)
        self.epochs.tooltip = f"Training epochs per round (the project's preset: {epochs})"

    def round_config(self) -> RoundConfig:
        """A RoundConfig from the controls."""
        return self.settings()

    def engine_choice(self) -> str:
        """The scoring engine chosen (one of :data:`~alges_napari.core.learn.engine.ENGINES`)."""
        return str(self.engine.value)

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
