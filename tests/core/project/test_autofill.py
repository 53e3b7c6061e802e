"""Auto-fill pastes a prediction only when the round earned it, never over the user's work."""

from __future__ import annotations

import pytest

from alges_napari.core.project.autofill import (
    AUTOFILL_FLOOR,
    RoundQuality,
    decide_autofill,
    floor_line,
    round_quality,
)
from alges_napari.core.project.records import RoundRecord


def test_the_quality_figure_is_validation_dice_else_training_set_dice() -> None:
    both = RoundRecord(round=2, mean_dice=0.41, train_dice=0.9)
    assert round_quality(both) == RoundQuality(2, 0.41, "validation Dice")
    train_only = RoundRecord(round=1, mean_dice=None, train_dice=0.62)
    assert round_quality(train_only) == RoundQuality(1, 0.62, "training-set Dice")
    assert round_quality(RoundRecord(round=3)) == RoundQuality(3, None)  # an older record
    assert round_quality(None) == RoundQuality(None, None)


@pytest.mark.parametrize(
    ("value", "paste"),
    [(0.0, False), (AUTOFILL_FLOOR - 1e-9, False), (AUTOFILL_FLOOR, True), (0.9, True)],
)
def test_the_floor_decides(value: float, paste: bool) -> None:
    quality = RoundQuality(1, value, "training-set Dice")
    decision = decide_autofill(quality, enabled=True, has_prediction=True, touched=False)
    assert decision.paste is paste
    if paste:
        assert decision.reason == f"prediction pasted (training-set Dice {value:.3f} >= floor 0.50)"
    else:
        assert decision.reason == (
            f"prediction not pasted: training-set Dice {value:.3f} is below the auto-fill floor "
            "0.50; it shows as the overlay"
        )


def test_never_over_the_users_work_nor_when_off_or_without_a_prediction() -> None:
    good = RoundQuality(1, 0.95, "validation Dice")
    for kw in (
        {"enabled": True, "has_prediction": True, "touched": True},
        {"enabled": False, "has_prediction": True, "touched": False},
        {"enabled": True, "has_prediction": False, "touched": False},
    ):
        decision = decide_autofill(good, **kw)
        assert not decision.paste and decision.reason == ""


def test_a_round_without_a_figure_is_not_trusted_and_the_floor_is_a_parameter() -> None:
    decision = decide_autofill(
        RoundQuality(4, None), enabled=True, has_prediction=True, touched=False
    )
    assert not decision.paste
    assert decision.reason == (
        "prediction not pasted: round 4 measured no Dice, so its prediction is not trusted; "
        "it shows as the overlay"
    )
    q = RoundQuality(1, 0.3, "validation Dice")
    assert decide_autofill(q, enabled=True, has_prediction=True, touched=False, floor=0.25).paste


def test_the_status_line_names_figure_floor_and_verdict() -> None:
    assert floor_line(RoundQuality(None, None)) == "Auto-fill floor 0.50 (no trained model yet)"
    assert floor_line(RoundQuality(1, 0.031, "training-set Dice")) == (
        "Auto-fill: training-set Dice 0.031, floor 0.50: predictions show as the overlay only"
    )
    assert floor_line(RoundQuality(2, 0.7, "validation Dice"), floor=0.6) == (
        "Auto-fill: validation Dice 0.700, floor 0.60: predictions are pasted"
    )
