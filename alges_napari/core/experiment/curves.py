"""Learning curves of an active-learning experiment: read ``results.csv`` and aggregate it.

``results.csv`` (written by :mod:`alges_napari.core.experiment.loop`) has one row per strategy, repeat
and round with at least the columns ``strategy, repeat, round, n_labelled, mean_dice``. Newer
files add the correction effort (``corrected_px``, ``corrected_regions`` and their running
totals ``corrected_px_total``, ``corrected_regions_total``) and one row per repeat with the
strategy ``full-pool``: the score of a model trained on that repeat's whole pool, a reference
line and not a strategy curve. Older files lack both; every function here treats a missing
column or row as "not available" (NaN, None), never as an error.

A strategy's learning curve is its mean over repeats at each number of labels, with the
standard deviation over repeats as its spread and the per-repeat values kept for paired
statistics (:mod:`~alges_napari.core.experiment.stats`). Two figures summarise a curve
(:mod:`~alges_napari.core.experiment.summary`):

- the **normalised area under the curve**: the trapezoid area over the range of label counts
  that every strategy covers, divided by the width of that range, so it reads as a Dice averaged
  over the labelling budget (1 would be perfect from the first label);
- the **labels needed to reach random sampling's final mean Dice**: the smallest label count at
  which the strategy's mean curve is at least random's last value (None otherwise).
"""

from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from alges_napari.core.errors import AlgesError
from alges_napari.core.experiment.config import FULL_POOL
from alges_napari.core.experiment.spelling import respell_header

#: Columns every results.csv must have.
REQUIRED_COLUMNS = ("strategy", "repeat", "round", "n_labelled", "mean_dice")
#: The baseline other strategies are measured against.
BASELINE = "random"
#: Running total of the pixels a user corrected (picked frames' wrong pixels at pick time).
CORRECTION_COLUMN = "corrected_px_total"


@dataclass
class Curve:
    """One strategy's learning curve.

    Attributes
    ----------
    strategy : str
        Strategy name.
    n_labelled : ndarray (P,)
        Label counts, increasing.
    mean, std : ndarray (P,)
        Mean and standard deviation (ddof=1; 0 with one repeat) of the metric over repeats.
    repeats : int
        Number of repeats averaged at every point.
    values : ndarray (P, R)
        The metric of each repeat at each label count (columns in the order of ``repeat_ids``).
    repeat_ids : tuple of int
        The repeat numbers, increasing.
    """

    strategy: str
    n_labelled: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    repeats: int
    values: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    repeat_ids: tuple[int, ...] = ()


def read_results(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Read a results.csv into a list of dicts with numeric fields converted.

    Parameters
    ----------
    path : path-like
        The CSV file, or a folder holding ``results.csv``.

    Returns
    -------
    list of dict
        ``repeat``, ``round`` and ``n_labelled`` as int, other columns but ``strategy`` as float
        (empty cells are NaN). Columns the file lacks are absent from the dicts.

    Raises
    ------
    AlgesError
        When the file is missing, empty, lacks a required column or holds a non-number.
    """
    path = Path(path)
    if path.is_dir():
        path = path / "results.csv"
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            columns = respell_header(list(reader.fieldnames or []))
            reader.fieldnames = columns  # an earlier version's n_labeled reads as n_labelled
            raw = list(reader)
    except OSError as exc:
        raise AlgesError(f"cannot read results {path}: {exc.strerror or exc}") from exc
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise AlgesError(f"{path} lacks the column(s) {missing}: is it an alges results.csv?")
    if not raw:
        raise AlgesError(f"{path} holds no results yet")
    rows = []
    for line, row in enumerate(raw, start=2):
        try:
            rows.append(_convert(row))
        except (TypeError, ValueError) as exc:
            raise AlgesError(f"{path} line {line}: {exc}") from exc
    return rows


def _convert(row: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in row.items():
        if key is None:
            raise ValueError("more cells than columns")
        if key == "strategy":
            out[key] = value
        elif key in ("repeat", "round", "n_labelled"):
            out[key] = int(value)
        else:
            out[key] = float(value) if value not in ("", None) else math.nan
    return out


def strategy_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows of the active-learning strategies (every row but the ``full-pool`` ones)."""
    return [row for row in rows if row["strategy"] != FULL_POOL]


def learning_curves(rows: list[dict[str, Any]], metric: str = "mean_dice") -> dict[str, Curve]:
    """Aggregate rows into one curve per strategy (in order of first appearance).

    Only label counts reached by every repeat of a strategy are kept, so an unfinished repeat
    shortens the curve instead of silently mixing averages over different repeats. The
    ``full-pool`` rows are left out (see :func:`full_pool_score`).

    Parameters
    ----------
    rows : list of dict
        As returned by :func:`read_results`.
    metric : str
        Column to average (default ``mean_dice``; a per-class column works too).

    Raises
    ------
    AlgesError
        When a strategy row lacks ``metric``.
    """
    by_strategy: dict[str, dict[int, dict[int, float]]] = {}
    for row in strategy_rows(rows):
        if metric not in row:
            raise AlgesError(f"results have no column {metric!r}")
        per_n = by_strategy.setdefault(row["strategy"], {})
        per_n.setdefault(row["n_labelled"], {})[row["repeat"]] = float(row[metric])
    return {name: _curve(name, per_n) for name, per_n in by_strategy.items()}


def _curve(name: str, per_n: dict[int, dict[int, float]]) -> Curve:
    ids = tuple(sorted({r for values in per_n.values() for r in values}))
    ns = sorted(n for n, values in per_n.items() if len(values) == len(ids))
    values = np.array([[per_n[n][r] for r in ids] for n in ns], dtype=float)
    values = values.reshape(len(ns), len(ids))
    std = values.std(axis=1, ddof=1) if len(ids) > 1 else np.zeros(len(ns))
    return Curve(name, np.array(ns, dtype=int), values.mean(axis=1), std, len(ids), values, ids)


def has_values(rows: list[dict[str, Any]], column: str) -> bool:
    """Whether any strategy row holds a finite value in ``column`` (False for old files)."""
    return any(math.isfinite(row.get(column, math.nan)) for row in strategy_rows(rows))


def full_pool_score(rows: list[dict[str, Any]], metric: str = "mean_dice") -> float:
    """Mean over repeats of the ``full-pool`` model's ``metric``; NaN when there is none.

    Parameters
    ----------
    rows : list of dict
        As returned by :func:`read_results`.
    metric : str
        Column to average; non-finite cells are skipped.
    """
    scores = [row.get(metric, math.nan) for row in rows if row["strategy"] == FULL_POOL]
    finite = [s for s in scores if math.isfinite(s)]
    return float(np.mean(finite)) if finite else math.nan


def common_range(curves: dict[str, Curve]) -> tuple[float, float]:
    """The label range every non-empty curve covers: (largest first, smallest last count).

    Raises
    ------
    AlgesError
        When no curve has a point.
    """
    filled = [c for c in curves.values() if len(c.n_labelled)]
    if not filled:
        raise AlgesError("no curves: the results hold no complete label counts")
    return (
        max(float(c.n_labelled[0]) for c in filled),
        min(float(c.n_labelled[-1]) for c in filled),
    )


def normalised_auc(n: np.ndarray, y: np.ndarray, lo: float, hi: float) -> float:
    """Trapezoid area under ``y(n)`` between ``lo`` and ``hi``, divided by ``hi - lo``.

    Points outside ``[lo, hi]`` are ignored; with a single point (``lo == hi``) the value there
    is returned. NaN when no point lies in the range or a value in it is NaN.
    """
    keep = (n >= lo) & (n <= hi)
    x, v = np.asarray(n, float)[keep], np.asarray(y, float)[keep]
    if len(x) == 0 or not np.isfinite(v).all():
        return math.nan
    if len(x) == 1 or hi <= lo:
        return float(v[0])
    return float(np.sum((v[1:] + v[:-1]) * np.diff(x)) / 2 / (x[-1] - x[0]))


def labels_to_reach(n: np.ndarray, y: np.ndarray, target: float) -> int | None:
    """The smallest label count whose mean value is at least ``target``; None if none is."""
    hits = np.flatnonzero(np.asarray(y, float) >= target)
    return int(n[hits[0]]) if len(hits) else None
