"""Status: labelled / total, the log of rounds and exports, per-class pixels, effort, history.

The log keeps one line per finished round, export and propagation, with full frame names and
paths (selectable, copyable): napari's toasts are cut off, vanish after seconds and render
their text as markdown (``frame_87_endo`` became "frame 87 endo"), so a toast only points here.
"""

from __future__ import annotations

import html
import time
from collections.abc import Generator, Sequence
from typing import Any

import numpy as np
from qtpy.QtCore import Qt
from qtpy.QtWidgets import QLabel, QPlainTextEdit, QVBoxLayout, QWidget

from alges_napari._qt.history_plot import HistoryPlot
from alges_napari.core.errors import AlgesError
from alges_napari.core.progress import Progress, SupportsIsSet, is_stopped
from alges_napari.core.project.autofill import floor_line, round_quality
from alges_napari.core.project.effort import RoundEffort
from alges_napari.core.project.records import RoundRecord


def class_pixels(mask: np.ndarray, num_classes: int) -> np.ndarray:
    """Labelled pixels per class of one mask (ignore, 255, and out-of-range ids left out)."""
    counts = np.bincount(np.asarray(mask, dtype=np.uint8).ravel(), minlength=256)
    return counts[:num_classes].astype(np.int64)


def iter_label_pixels(
    project: Any, keys: Sequence[str], stop: SupportsIsSet | None = None
) -> Generator[Progress, None, dict[str, np.ndarray]]:
    """Count the labelled pixels of each class in the accepted labels of ``keys``.

    Reads every label PNG once (in a thread worker when a project with many labels opens);
    a label the project refuses to read (``AlgesError``) is left out.

    Returns
    -------
    dict
        key -> (C,) int64 pixel counts.
    """
    out: dict[str, np.ndarray] = {}
    n = project.schema.num_classes
    for i, key in enumerate(keys):
        if is_stopped(stop):
            break
        try:
            mask = project.load_label(key)
        except AlgesError:  # unusable: not counted (the frame names it when shown)
            mask = None
        if mask is not None:
            out[key] = class_pixels(mask, n)
        yield Progress("count", i + 1, len(keys))
    return out


#: Lines the log keeps (the oldest go first): a long session's rounds, exports and drafts.
LOG_LINES = 500


class StatusPanel(QWidget):
    """Counts, the log, per-class pixels and the Dice history of the open project.

    Attributes
    ----------
    log : QPlainTextEdit
        Read-only, selectable: one line per round, export or propagation (:meth:`add_log`).
    """

    def __init__(self, parent: Any = None):
        super().__init__(parent)
        self.counts = QLabel("No project open")
        self.counts.setWordWrap(True)
        self.pixels = QLabel()
        self.pixels.setTextFormat(Qt.TextFormat.RichText)
        self.pixels.setToolTip("Labelled pixels per class, over all accepted labels")
        self.plot = HistoryPlot()
        self.last_round = QLabel()
        self.last_round.setWordWrap(True)
        self.effort = QLabel()
        self.effort.setTextFormat(Qt.TextFormat.RichText)
        self.effort.setToolTip(
            "Annotation effort per frame, median over the frames first accepted in each round "
            "(round 0: before any model): seconds on the frame, pixels changed from what it "
            "opened with (prediction or draft), edits (strokes, fills, superpixel clicks)"
        )
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)  # selectable and copyable, never edited
        self.log.setMaximumBlockCount(LOG_LINES)
        self.log.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.log.setPlaceholderText("Rounds, exports and propagations are logged here")
        self.log.setToolTip("What each round, export and propagation did (select to copy)")
        line = self.log.fontMetrics().lineSpacing()
        self.log.setMinimumHeight(4 * line + 12)
        self.log.setMaximumHeight(8 * line + 12)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for w in (self.counts, self.last_round, self.log, self.pixels, self.effort, self.plot):
            layout.addWidget(w)

    def add_log(self, text: str) -> None:
        """Append ``text`` as one line, after the time of day, and scroll to it."""
        self.log.appendPlainText(f"{time.strftime('%H:%M:%S')}  {text}")
        bar = self.log.verticalScrollBar()
        bar.setValue(bar.maximum())

    def log_lines(self) -> list[str]:
        """The logged lines, oldest first, without their times."""
        lines = self.log.toPlainText().splitlines()
        return [line.split("  ", 1)[1] if "  " in line else line for line in lines]

    def show_counts(self, counts: dict[str, int], total: int, pending: int) -> None:
        """``counts`` from ``Project.counts()``; ``pending`` = queued frames still unlabelled."""
        done = counts.get("labelled", 0) + counts.get("validation", 0)
        self.counts.setText(
            f"Labelled {done} / {total} frames  (training {counts.get('labelled', 0)}, "
            f"validation {counts.get('validation', 0)}, skipped {counts.get('skipped', 0)}); "
            f"{pending} queued to label"
        )

    def show_pixels(self, schema: Any, pixels: np.ndarray) -> None:
        """Per-class pixel counts as two columns of colour swatch, class name and count."""
        cells = []
        for cls, (name, rgb) in enumerate(zip(schema.names, schema.colors, strict=True)):
            swatch = "#{:02x}{:02x}{:02x}".format(*tuple(rgb))
            cells.append(
                f"<td><span style='color:{swatch}'>&#9632;</span> {html.escape(name)}</td>"
                f"<td align='right'>{_human(int(pixels[cls]))}</td>"
            )
        half = (len(cells) + 1) // 2
        rows = [
            "<tr>" + cells[i] + (cells[i + half] if i + half < len(cells) else "") + "</tr>"
            for i in range(half)
        ]
        table = "<table cellspacing='0' cellpadding='1' style='font-size:small'>"
        self.pixels.setText(table + "".join(rows) + "</table>")

    def show_effort(self, rounds: Sequence[RoundEffort]) -> None:
        """Median seconds, pixels changed and edits per frame, one row per round."""
        if not rounds:
            self.effort.setText("")
            return
        head = ("Round", "Frames", "s/frame", "px changed", "edits")
        rows = ["<tr>" + "".join(f"<th align='right'>{h}</th>" for h in head) + "</tr>"]
        for r in rounds:
            cells = ("?" if r.round is None else r.round, r.frames, *_medians(r))
            rows.append("<tr>" + "".join(f"<td align='right'>{c}</td>" for c in cells) + "</tr>")
        table = "<table cellspacing='0' cellpadding='1' style='font-size:small'>"
        self.effort.setText("Effort (median per frame)" + table + "".join(rows) + "</table>")

    def show_rounds(self, rounds: Sequence[RoundRecord]) -> None:
        """The history plot and a line about the last round."""
        self.plot.set_rounds(rounds)
        if not rounds:
            self.last_round.setText("")
            return
        r = rounds[-1]
        dice = "n/a (no validation frames)" if r.mean_dice is None else f"{r.mean_dice:.3f}"
        self.last_round.setText(
            f"Round {r.round}: {r.n_labelled} labels, {r.strategy or '?'}, "
            f"validation mean Dice {dice}\n{floor_line(round_quality(r))}"
        )

    def clear(self) -> None:
        """Back to "no project"."""
        self.counts.setText("No project open")
        self.pixels.setText("")
        self.effort.setText("")
        self.show_rounds([])  # the log stays: an export's path is still wanted after Close


def _medians(r: RoundEffort) -> tuple[str, str, str]:
    """The medians of one round as table cells ("-" where nothing was measured)."""

    def cell(value: float | None, fmt: str) -> str:
        return "-" if value is None else fmt.format(value)

    return (
        cell(r.seconds, "{:.1f}"),
        "-" if r.pixels_changed is None else _human(int(round(r.pixels_changed))),
        cell(r.edit_actions, "{:g}"),
    )


def _human(n: int) -> str:
    if n >= 1_000_000:
        return f"{n / 1e6:.1f}M"
    if n >= 10_000:
        return f"{n / 1e3:.0f}k"
    return str(n)
