"""Auto-fill: whether a new frame opens with the model's prediction pasted as its annotation.

A prediction is pasted only when the model has earned it: the quality figure of the latest
round (its validation Dice when labelled validation frames measured it, else the Dice on its own
training labels) is at or above a floor. Pasting a useless prediction (round 1 of a model
trained a few steps predicts one class almost everywhere) makes the surgeon repaint the frame
instead of correcting it; shown as the overlay it costs nothing. Nothing is ever pasted over
the user's own work (an edit, a kept draft, an accepted label or a propagated draft).

The widget asks :func:`decide_autofill` and shows its ``reason``; the rule lives here, headless.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from alges_napari.core.project.records import RoundRecord

#: Mean Dice (scored classes) a round must reach before its predictions are pasted. A chosen
#: threshold, not a measured break-even: at 0.5 a class's predicted and true regions overlap by
#: half of their mean size, below it most of a pasted frame would be repainted.
AUTOFILL_FLOOR = 0.5


@dataclass(frozen=True)
class RoundQuality:
    """The quality figure of one round, and which figure it is.

    Attributes
    ----------
    round : int or None
        The round measured (None: no round yet).
    value : float or None
        Mean Dice over the scored classes; None when the round measured none.
    source : str
        "validation Dice" or "training-set Dice" ("" when ``value`` is None).
    """

    round: int | None
    value: float | None
    source: str = ""

    def text(self) -> str:
        """``"validation Dice 0.712"``, or why there is no figure."""
        if self.round is None:
            return "no trained model yet"
        if self.value is None:
            return f"round {self.round} measured no Dice"
        return f"{self.source} {self.value:.3f}"


def round_quality(record: RoundRecord | None) -> RoundQuality:
    """The quality figure of ``record``: validation Dice if measured, else training-set Dice."""
    if record is None:
        return RoundQuality(None, None)
    for value, source in (
        (record.mean_dice, "validation Dice"),
        (record.train_dice, "training-set Dice"),
    ):
        if value is not None and math.isfinite(value):
            return RoundQuality(record.round, float(value), source)
    return RoundQuality(record.round, None)


@dataclass(frozen=True)
class AutofillDecision:
    """Whether to paste the prediction, and a sentence for the user saying why (or why not)."""

    paste: bool
    reason: str


def earned(quality: RoundQuality, floor: float | None = None) -> bool:
    """True when ``quality`` has a figure at or above ``floor`` (None: :data:`AUTOFILL_FLOOR`)."""
    floor = _floor(floor)
    return quality.value is not None and quality.value >= floor


def decide_autofill(
    quality: RoundQuality,
    *,
    enabled: bool,
    has_prediction: bool,
    touched: bool,
    floor: float | None = None,
) -> AutofillDecision:
    """Decide whether a frame opens with its cached prediction pasted as the annotation.

    Parameters
    ----------
    quality : RoundQuality
        The latest round's figure (:func:`round_quality`); the cached predictions are its.
    enabled : bool
        The user's "Auto-fill new frames" choice.
    has_prediction : bool
        Whether this frame has a cached prediction.
    touched : bool
        Whether the frame holds the user's work (an edit, a kept draft, a label, a
        propagated draft): it is never pasted over.
    floor : float, optional
        The figure the round must reach; None: :data:`AUTOFILL_FLOOR`, read at each call.

    Returns
    -------
    AutofillDecision
        ``reason`` is "" when there is nothing to explain (auto-fill off, the user's own work,
        no prediction to paste).
    """
    if not enabled or touched or not has_prediction:
        return AutofillDecision(False, "")
    floor = _floor(floor)
    figure = quality.text()
    if earned(quality, floor):
        return AutofillDecision(True, f"prediction pasted ({figure} >= floor {floor:.2f})")
    if quality.value is None:
        why = f"{figure}, so its prediction is not trusted"
    else:
        why = f"{figure} is below the auto-fill floor {floor:.2f}"
    return AutofillDecision(False, f"prediction not pasted: {why}; it shows as the overlay")


def floor_line(quality: RoundQuality, floor: float | None = None) -> str:
    """One line for the Status panel: the figure, the floor, and what auto-fill does with it."""
    floor = _floor(floor)
    if quality.round is None:
        return f"Auto-fill floor {floor:.2f} (no trained model yet)"
    verdict = (
        "predictions are pasted"
        if earned(quality, floor)
        else "predictions show as the overlay only"
    )
    return f"Auto-fill: {quality.text()}, floor {floor:.2f}: {verdict}"


def _floor(floor: float | None) -> float:
    # The module's value at call time: one floor for the decision and the Status panel.
    return AUTOFILL_FLOOR if floor is None else float(floor)
