"""Learning curves of an active-learning experiment: read ``results.csv``, summarise, plot.

``results.csv`` (written by :mod:`alges_napari.core.experiment.loop`) has one row per strategy, repeat
and round with at least the columns ``strategy, repeat, round, n_labeled, mean_dice``. A
strategy's learning curve is its mean Dice over repeats at each number of labels, with the
standard deviation over repeats as its spread. Two figures summarise a curve:

- the **normalised area under the curve**: the trapezoid area over the range of label counts
  that every strategy covers, divided by the width of that range, so it reads as a Dice averaged
  over the labelling budget (1 would be perfect from the first label);
- the **labels needed to reach random sampling's final mean Dice**: the smallest label count at
  which the strategy's mean curve is at least random's last value ("not reached" otherwise).

Plotting uses matplotlib's object API on an Agg canvas (no pyplot, no global backend change), so
it works headless and leaves the caller's matplotlib state alone.
"""

from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from alges_napari.core.atomic import atomic_write_text
from alges_napari.core.errors import AlgesError

#: Columns every results.csv must have.
REQUIRED_COLUMNS = ("strategy", "repeat", "round", "n_labeled", "mean_dice")
#: The baseline other strategies are measured against.
BASELINE = "random"
NOT_REACHED = "not reached"


@dataclass
class Curve:
    """One strategy's learning curve.

    Attributes
    ----------
    strategy : str
        Strategy name.
    n_labeled : ndarray (P,)
        Label counts, increasing.
    mean, std : ndarray (P,)
        Mean and standard deviation (ddof=1; 0 with one repeat) of the metric over repeats.
    repeats : int
        Number of repeats averaged at every point.
    """

    strategy: str
    n_labeled: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    repeats: int


def read_results(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Read a results.csv into a list of dicts with numeric fields converted.

    Parameters
    ----------
    path : path-like
        The CSV file, or a folder holding ``results.csv``.

    Returns
    -------
    list of dict
        ``repeat``, ``round`` and ``n_labeled`` as int, other columns but ``strategy`` as float
        (empty cells are NaN).

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
            columns = reader.fieldnames or []
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
        elif key in ("repeat", "round", "n_labeled"):
            out[key] = int(value)
        else:
            out[key] = float(value) if value not in ("", None) else math.nan
    return out


def learning_curves(rows: list[dict[str, Any]], metric: str = "mean_dice") -> dict[str, Curve]:
    """Aggregate rows into one curve per strategy (in order of first appearance).

    Only label counts reached by every repeat of a strategy are kept, so an unfinished repeat
    shortens the curve instead of silently mixing averages over different repeats.

    Parameters
    ----------
    rows : list of dict
        As returned by :func:`read_results`.
    metric : str
        Column to average (default ``mean_dice``; a per-class column works too).
    """
    by_strategy: dict[str, dict[int, dict[int, float]]] = {}
    for row in rows:
        if metric not in row:
            raise AlgesError(f"results have no column {metric!r}")
        per_n = by_strategy.setdefault(row["strategy"], {})
        per_n.setdefault(row["n_labeled"], {})[row["repeat"]] = float(row[metric])
    curves = {}
    for name, per_n in by_strategy.items():
        repeats = len({r for values in per_n.values() for r in values})
        ns = sorted(n for n, values in per_n.items() if len(values) == repeats)
        values = np.array([[per_n[n][r] for r in sorted(per_n[n])] for n in ns]).reshape(
            len(ns), repeats
        )
        std = values.std(axis=1, ddof=1) if repeats > 1 else np.zeros(len(ns))
        curves[name] = Curve(name, np.array(ns), values.mean(axis=1), std, repeats)
    return curves


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


def summarise(curves: dict[str, Curve], baseline: str = BASELINE) -> list[dict[str, Any]]:
    """One summary row per strategy.

    Returns
    -------
    list of dict
        Keys: ``strategy``, ``repeats``, ``final_n_labeled``, ``final_mean_dice``,
        ``auc_normalised`` (over the label range every strategy covers), ``auc_range``
        (that range as "lo-hi") and ``labels_to_reach_random`` (an int, "not reached", or
        "no random baseline" when ``baseline`` was not run).
    """
    curves = {k: c for k, c in curves.items() if len(c.n_labeled)}
    if not curves:
        return []
    lo = max(float(c.n_labeled[0]) for c in curves.values())
    hi = min(float(c.n_labeled[-1]) for c in curves.values())
    base = curves.get(baseline)
    target = float(base.mean[-1]) if base is not None else None
    out = []
    for name, c in curves.items():
        if target is None:
            reach: Any = f"no {baseline} baseline"
        else:
            hit = labels_to_reach(c.n_labeled, c.mean, target)
            reach = NOT_REACHED if hit is None else hit
        out.append(
            {
                "strategy": name,
                "repeats": c.repeats,
                "final_n_labeled": int(c.n_labeled[-1]),
                "final_mean_dice": float(c.mean[-1]),
                "auc_normalised": normalised_auc(c.n_labeled, c.mean, lo, hi),
                "auc_range": f"{int(lo)}-{int(hi)}",
                "labels_to_reach_random": reach,
            }
        )
    return out


_HEADERS = {
    "strategy": "strategy",
    "repeats": "repeats",
    "final_n_labeled": "final labels",
    "final_mean_dice": "final mean Dice",
    "auc_normalised": "normalised AUC",
    "auc_range": "AUC label range",
    "labels_to_reach_random": "labels to reach random's final Dice",
}


def _cell(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def format_markdown(summary: list[dict[str, Any]]) -> str:
    """The summary as a Markdown table (numbers to 4 decimals)."""
    keys = list(_HEADERS)
    lines = [
        "| " + " | ".join(_HEADERS[k] for k in keys) + " |",
        "|" + "|".join("---" for _ in keys) + "|",
    ]
    lines += ["| " + " | ".join(_cell(row[k]) for k in keys) + " |" for row in summary]
    return "\n".join(lines) + "\n"


def write_summary(summary: list[dict[str, Any]], out_dir: str | os.PathLike[str]) -> list[Path]:
    """Write ``summary.csv`` and ``summary.md`` into ``out_dir`` (atomically).

    Returns
    -------
    list of Path
        The two files written.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    keys = list(_HEADERS)
    lines = [",".join(keys)]
    lines += [",".join(_cell(row[k]) for k in keys) for row in summary]
    csv_path = atomic_write_text(out_dir / "summary.csv", "\n".join(lines) + "\n")
    md_path = atomic_write_text(out_dir / "summary.md", format_markdown(summary))
    return [csv_path, md_path]


def plot_curves(
    curves: dict[str, Curve],
    path: str | os.PathLike[str],
    title: str | None = None,
    ylabel: str = "mean Dice (test frames)",
) -> Path:
    """Plot the curves (mean line, +-1 standard deviation band) to a PNG file.

    Parameters
    ----------
    curves : dict of Curve
        From :func:`learning_curves`.
    path : path-like
        PNG file to write.
    title, ylabel : str
        Figure title and y-axis label.

    Returns
    -------
    Path
        ``path``.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if not curves:
        raise AlgesError("no curves to plot: the results hold no complete label counts")
    fig = Figure(figsize=(7, 4.5), dpi=120)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for c in curves.values():
        (line,) = ax.plot(c.n_labeled, c.mean, marker="o", ms=3, label=f"{c.strategy}")
        if c.repeats > 1:
            ax.fill_between(
                c.n_labeled, c.mean - c.std, c.mean + c.std, color=line.get_color(), alpha=0.15
            )
    repeats = sorted({c.repeats for c in curves.values()})
    ax.set_xlabel("labelled frames")
    ax.set_ylabel(ylabel)
    ax.set_title(
        title or f"Learning curves (mean +- 1 sd over {'/'.join(map(str, repeats))} repeats)"
    )
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize="small")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png")
    return path
