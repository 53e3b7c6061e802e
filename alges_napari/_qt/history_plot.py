"""A small plot of validation Dice per round, painted with QPainter (no plotting library)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from qtpy.QtCore import QPointF, QRectF, Qt
from qtpy.QtGui import QColor, QFont, QPainter, QPen
from qtpy.QtWidgets import QSizePolicy, QWidget

from alges_napari.core.project.records import RoundRecord

DICE_COLOUR = QColor("#4fc3f7")
LOSS_COLOUR = QColor("#ffb74d")


def round_series(rounds: Sequence[RoundRecord]) -> dict[str, list[tuple[int, float]]]:
    """(round, value) pairs of mean validation Dice and final training loss, gaps left out."""
    out: dict[str, list[tuple[int, float]]] = {"dice": [], "loss": []}
    for r in rounds:
        for name, value in (("dice", r.mean_dice), ("loss", r.train_loss)):
            if value is not None and math.isfinite(value):
                out[name].append((r.round, float(value)))
    return out


class HistoryPlot(QWidget):
    """Mean validation Dice (0-1, left axis) and training loss (scaled, dashed) per round.

    Parameters
    ----------
    parent : QWidget, optional
    """

    def __init__(self, parent: Any = None):
        super().__init__(parent)
        self.setMinimumHeight(90)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setFixedHeight(110)
        self.series: dict[str, list[tuple[int, float]]] = {"dice": [], "loss": []}
        self.set_rounds([])

    def set_rounds(self, rounds: Sequence[RoundRecord]) -> None:
        """Plot the project's round history (``Project.rounds``)."""
        self.series = round_series(rounds)
        lines = [
            f"round {r.round}: {r.n_labelled} labels, "
            f"Dice {_fmt(r.mean_dice)}, loss {_fmt(r.train_loss)}"
            for r in rounds
        ]
        self.setToolTip("\n".join(lines) or "No round yet")
        self.update()

    def paintEvent(self, _event: Any) -> None:  # noqa: N802 - Qt override
        """Draw axes, the Dice line and the loss line."""
        p = QPainter(self)
        try:
            p.setRenderHint(QPainter.RenderHint.Antialiasing)
            font = QFont(p.font())
            font.setPointSizeF(max(6.0, font.pointSizeF() * 0.85))
            p.setFont(font)
            plot = QRectF(30, 8, max(10, self.width() - 40), max(10, self.height() - 26))
            self._axes(p, plot)
            dice, loss = self.series["dice"], self.series["loss"]
            rounds = sorted({r for r, _ in dice + loss})
            if not rounds:
                self._message(p, plot, "No round yet: accept labels, then Retrain and rank")
                return
            lo, hi = rounds[0], max(rounds[-1], rounds[0] + 1)
            top_loss = max((v for _, v in loss), default=1.0) or 1.0
            self._line(p, plot, loss, lo, hi, top_loss, LOSS_COLOUR, dashed=True)
            self._line(p, plot, dice, lo, hi, 1.0, DICE_COLOUR, dashed=False)
            p.setPen(QPen(self.palette().text().color()))
            p.drawText(QPointF(plot.left(), plot.bottom() + 14), f"round {lo}")
            p.drawText(QPointF(plot.right() - 44, plot.bottom() + 14), f"round {rounds[-1]}")
            if not dice:
                self._message(p, plot, "Dice needs labelled validation frames")
        finally:
            p.end()

    def _axes(self, p: QPainter, plot: QRectF) -> None:
        text = self.palette().text().color()
        grid = QColor(text)
        grid.setAlpha(60)
        p.setPen(QPen(grid, 1))
        for frac in (0.0, 0.5, 1.0):
            y = plot.bottom() - frac * plot.height()
            p.drawLine(QPointF(plot.left(), y), QPointF(plot.right(), y))
        p.setPen(QPen(DICE_COLOUR))
        p.drawText(QPointF(2, plot.top() + 8), "1.0")
        p.drawText(QPointF(2, plot.bottom()), "0.0")
        p.drawText(QPointF(plot.left() + 4, plot.top() + 10), "Dice")
        p.setPen(QPen(LOSS_COLOUR))
        p.drawText(QPointF(plot.left() + 36, plot.top() + 10), "- - loss")

    def _line(
        self,
        p: QPainter,
        plot: QRectF,
        points: list[tuple[int, float]],
        lo: int,
        hi: int,
        top: float,
        colour: QColor,
        dashed: bool,
    ) -> None:
        if not points:
            return
        pen = QPen(colour, 2)
        if dashed:
            pen.setStyle(Qt.PenStyle.DashLine)
        p.setPen(pen)
        xy = [
            QPointF(
                plot.left() + (r - lo) / (hi - lo) * plot.width(),
                plot.bottom() - min(max(v / top, 0.0), 1.0) * plot.height(),
            )
            for r, v in points
        ]
        for a, b in zip(xy, xy[1:], strict=False):
            p.drawLine(a, b)
        p.setBrush(colour)
        for point in xy:
            p.drawEllipse(point, 2.5, 2.5)
        p.setBrush(Qt.BrushStyle.NoBrush)

    def _message(self, p: QPainter, plot: QRectF, text: str) -> None:
        p.setPen(QPen(self.palette().text().color()))
        p.drawText(plot, int(Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap), text)


def _fmt(value: float | None) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{value:.3f}"
