"""Hand-made results.csv files for the curve, statistics, summary and plot tests."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from alges_napari.core.experiment import curves


class ResultsFiles:
    """Writes results.csv files under a folder and reads them back.

    ``ROWS``: strategies random, fast and slow, 2 repeats, 10/20/30 labels. "fast" reaches
    random's final Dice (0.5) at 20 labels; "slow" never does. ``new_layout`` adds the
    correction columns and the full-pool rows of newer results files.
    """

    COLUMNS = ["strategy", "repeat", "round", "n_labelled", "mean_dice", "dice_liver"]
    NEW_COLUMNS = [*COLUMNS, "corrected_px", "corrected_regions"]
    NEW_COLUMNS += ["corrected_px_total", "corrected_regions_total"]
    ROWS = [
        ("random", 0, 0, 10, 0.20, 0.1),
        ("random", 0, 1, 20, 0.40, 0.2),
        ("random", 0, 2, 30, 0.50, 0.3),
        ("random", 1, 0, 10, 0.20, 0.1),
        ("random", 1, 1, 20, 0.30, 0.2),
        ("random", 1, 2, 30, 0.50, 0.3),
        ("fast", 0, 0, 10, 0.20, 0.1),
        ("fast", 0, 1, 20, 0.60, 0.2),
        ("fast", 0, 2, 30, 0.70, 0.3),
        ("fast", 1, 0, 10, 0.20, 0.1),
        ("fast", 1, 1, 20, 0.40, 0.2),
        ("fast", 1, 2, 30, 0.60, 0.3),
        ("slow", 0, 0, 10, 0.20, 0.1),
        ("slow", 0, 1, 20, 0.30, 0.2),
        ("slow", 0, 2, 30, 0.40, 0.3),
        ("slow", 1, 0, 10, 0.20, 0.1),
        ("slow", 1, 1, 20, 0.30, 0.2),
        ("slow", 1, 2, 30, 0.45, 0.3),
    ]

    def __init__(self, folder: Path):
        self.folder = folder

    def write(self, rows=None, columns=None, name: str = "results.csv") -> Path:
        path = self.folder / name
        with open(path, "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(self.COLUMNS if columns is None else columns)
            w.writerows(self.ROWS if rows is None else rows)
        return path

    def new_layout(self, rows=None) -> list[tuple]:
        """The rows with correction columns (1000 px and 2 regions per round after the
        initial n * 100 px; totals n * 100 px) and a full-pool row per repeat (Dice 0.8 and
        0.9, empty correction cells), one before the strategies and one after."""
        out = []
        for s, r, k, n, dice, liver in self.ROWS if rows is None else rows:
            out.append((s, r, k, n, dice, liver, 1000 if k else n * 100, 2, n * 100, n // 5))
        out.insert(0, ("full-pool", 0, 0, 400, 0.8, 0.7, "", "", "", ""))
        out.append(("full-pool", 1, 0, 400, 0.9, 0.7, "", "", "", ""))
        return out

    def old(self, rows=None, name: str = "old.csv") -> list[dict]:
        """Read back a file in the old layout (no correction columns, no full-pool rows)."""
        return curves.read_results(self.write(rows, name=name))

    def new(self, name: str = "new.csv") -> list[dict]:
        """Read back a file in the new layout."""
        return curves.read_results(self.write(self.new_layout(), self.NEW_COLUMNS, name))


@pytest.fixture
def results_files(tmp_path) -> ResultsFiles:
    return ResultsFiles(tmp_path)
