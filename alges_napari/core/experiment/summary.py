"""The summary of an experiment: one row per strategy, as ``summary.csv`` and a Markdown table.

Per strategy (see :func:`summarise` for every column):

- **normalised AUC** of its mean curve over the label range every strategy covers;
- **AUC minus random, paired by repeat**, with a percentile-bootstrap 95 % interval over the
  repeats, the paired t-interval, the smallest difference the repeats could detect (80 %
  power) and the number of repeats where it beats random
  (:mod:`~alges_napari.core.experiment.stats`);
- **labels to reach random's final Dice**: the smallest label count at which its mean curve
  reaches random's final mean Dice (empty if never);
- **fraction of the full-pool Dice**: its final mean Dice over the mean Dice of the models
  trained on each repeat's whole pool (empty for results without ``full-pool`` rows);
- **correction effort** when the results carry ``corrected_px_total``: the mean cumulative
  corrected pixels at its final label count and where it reaches random's final Dice.
"""

from __future__ import annotations

import csv
import io
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from alges_napari.core.atomic import atomic_write_text
from alges_napari.core.experiment.curves import (
    BASELINE,
    Curve,
    common_range,
    labels_to_reach,
    normalised_auc,
)
from alges_napari.core.experiment.stats import (
    CI_LEVEL,
    N_RESAMPLES,
    SEED,
    PairedDifference,
    paired_auc_difference,
)

#: summary.csv's columns, in order.
COLUMNS = (
    "strategy",
    "repeats",
    "final_n_labelled",
    "final_mean_dice",
    "auc_normalised",
    "auc_range",
    "auc_minus_random",
    "auc_minus_random_ci_low",
    "auc_minus_random_ci_high",
    "auc_minus_random_t_low",
    "auc_minus_random_t_high",
    "auc_minus_random_detectable",
    "wins",
    "paired_repeats",
    "labels_to_random_final",
    "full_pool_dice",
    "fraction_of_full",
    "final_corrected_px_total",
    "corrected_px_to_random_final",
)
NOT_REACHED = "not reached"


def summarise(
    curves: dict[str, Curve],
    baseline: str = BASELINE,
    full_pool: float = math.nan,
    costs: dict[str, Curve] | None = None,
    n_resamples: int = N_RESAMPLES,
    level: float = CI_LEVEL,
    seed: int = SEED,
) -> list[dict[str, Any]]:
    """One summary row per strategy with a point.

    Parameters
    ----------
    curves : dict of Curve
        From :func:`~alges_napari.core.experiment.curves.learning_curves` (mean Dice).
    baseline : str
        The strategy the others are compared with.
    full_pool : float
        Mean Dice of the full-pool models
        (:func:`~alges_napari.core.experiment.curves.full_pool_score`); NaN when unknown.
    costs : dict of Curve, optional
        The ``corrected_px_total`` curves on the same rows; None for results without them.
    n_resamples, level, seed
        Of the paired bootstrap (:func:`~alges_napari.core.experiment.stats.bootstrap_mean_ci`).

    Returns
    -------
    list of dict
        Keys :data:`COLUMNS`: ``repeats``, ``final_n_labelled``; ``auc_range`` as "lo-hi";
        ``auc_minus_random`` with ``_ci_low``/``_ci_high``, ``wins`` of ``paired_repeats``
        (None on the baseline's own row and without a baseline); ``labels_to_random_final``
        (int, None if never reached or without a baseline); ``full_pool_dice`` and
        ``fraction_of_full`` (NaN without full-pool rows); ``final_corrected_px_total`` and
        ``corrected_px_to_random_final`` (NaN without correction columns or when not reached).
    """
    curves = {k: c for k, c in curves.items() if len(c.n_labelled)}
    if not curves:
        return []
    lo, hi = common_range(curves)
    base = curves.get(baseline)
    target = float(base.mean[-1]) if base is not None else None
    out = []
    for name, c in curves.items():
        paired = None
        if base is not None and name != baseline:
            paired = paired_auc_difference(c, base, lo, hi, n_resamples, level, seed)
        reach = labels_to_reach(c.n_labelled, c.mean, target) if target is not None else None
        row = {
            "strategy": name,
            "repeats": c.repeats,
            "final_n_labelled": int(c.n_labelled[-1]),
            "final_mean_dice": float(c.mean[-1]),
            "auc_normalised": normalised_auc(c.n_labelled, c.mean, lo, hi),
            "auc_range": f"{int(lo)}-{int(hi)}",
            "labels_to_random_final": reach,
            **_paired_columns(paired),
            **_full_pool_columns(c, full_pool),
            **_cost_columns(c, (costs or {}).get(name), reach),
        }
        out.append({k: row[k] for k in COLUMNS})
    return out


def _paired_columns(paired: PairedDifference | None) -> dict[str, Any]:
    keys = (
        "auc_minus_random",
        "auc_minus_random_ci_low",
        "auc_minus_random_ci_high",
        "auc_minus_random_t_low",
        "auc_minus_random_t_high",
        "auc_minus_random_detectable",
    )
    if paired is None:
        return dict.fromkeys((*keys, "wins", "paired_repeats"))
    values = (
        paired.mean,
        paired.ci_low,
        paired.ci_high,
        paired.t_low,
        paired.t_high,
        paired.detectable,
    )
    n_pairs = len(paired.repeat_ids)
    return {**dict(zip(keys, values, strict=True)), "wins": paired.wins, "paired_repeats": n_pairs}


def _full_pool_columns(curve: Curve, full_pool: float) -> dict[str, float]:
    usable = math.isfinite(full_pool) and full_pool > 0
    fraction = float(curve.mean[-1]) / full_pool if usable else math.nan
    return {"full_pool_dice": full_pool, "fraction_of_full": fraction}


def _cost_columns(curve: Curve, cost: Curve | None, reach: int | None) -> dict[str, float]:
    def at(n: int | None) -> float:
        if cost is None or n is None:
            return math.nan
        hit = np.flatnonzero(cost.n_labelled == n)
        return float(cost.mean[hit[0]]) if len(hit) else math.nan

    return {
        "final_corrected_px_total": at(int(curve.n_labelled[-1])),
        "corrected_px_to_random_final": at(reach),
    }


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and not math.isfinite(value))


def _csv_cell(value: Any) -> str:
    if _missing(value):
        return ""
    return f"{value:.6f}" if isinstance(value, float) else str(value)


def _auc_difference_cell(row: dict[str, Any], baseline: str, has_baseline: bool) -> str:
    if not has_baseline:
        return f"no {baseline} baseline"
    if row["strategy"] == baseline:
        return "(baseline)"
    mean, low, high = (row[f"auc_minus_random{k}"] for k in ("", "_ci_low", "_ci_high"))
    if _missing(mean):
        return "n/a"
    if _missing(low):
        return f"{mean:+.4f} (no CI: {row['paired_repeats']} repeat)"
    return f"{mean:+.4f} [{low:+.4f}, {high:+.4f}]"


def _t_interval_cell(row: dict[str, Any]) -> str:
    low, high = row["auc_minus_random_t_low"], row["auc_minus_random_t_high"]
    return "-" if _missing(low) else f"[{low:+.4f}, {high:+.4f}]"


def _markdown_cells(row: dict[str, Any], baseline: str, has_baseline: bool) -> dict[str, str]:
    reach = row["labels_to_random_final"]
    if reach is None:
        reach = NOT_REACHED if has_baseline else f"no {baseline} baseline"
    wins = "" if row["wins"] is None else f"{row['wins']}/{row['paired_repeats']}"
    cells = {k: _md_number(row[k]) for k in COLUMNS}
    return cells | {
        "auc_minus_random": _auc_difference_cell(row, baseline, has_baseline),
        "auc_minus_random_t_low": _t_interval_cell(row),
        "auc_minus_random_detectable": _md_number(row["auc_minus_random_detectable"]),
        "wins": wins,
        "labels_to_random_final": str(reach),
    }


def _md_number(value: Any) -> str:
    if _missing(value):
        return "-"
    if isinstance(value, float) and abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def format_markdown(
    summary: list[dict[str, Any]], baseline: str = BASELINE, level: float = CI_LEVEL
) -> str:
    """The summary as a Markdown table (numbers to 4 decimals, pixel counts as integers).

    The AUC difference reads ``mean [low, high]`` (the paired bootstrap interval), followed
    by the paired t-interval and the smallest detectable difference; the full-pool and
    correction columns appear only when some strategy has a value in them.
    """
    headers = {
        "strategy": "strategy",
        "repeats": "repeats",
        "final_n_labelled": "final labels",
        "final_mean_dice": "final mean Dice",
        "auc_normalised": "normalised AUC",
        "auc_range": "AUC label range",
        "auc_minus_random": f"AUC - {baseline}, paired [{level:.0%} bootstrap CI]",
        "auc_minus_random_t_low": f"paired t-interval ({level:.0%})",
        "auc_minus_random_detectable": "smallest detectable difference (80% power)",
        "wins": f"beats {baseline} (repeats)",
        "labels_to_random_final": f"labels to reach {baseline}'s final Dice",
        "fraction_of_full": "fraction of full-pool Dice",
        "corrected_px_to_random_final": f"corrected px to reach {baseline}'s final Dice",
        "final_corrected_px_total": "final corrected px",
    }
    optional = ("fraction_of_full", "corrected_px_to_random_final", "final_corrected_px_total")
    keys = [k for k in headers if k not in optional or any(not _missing(r[k]) for r in summary)]
    has_baseline = any(r["strategy"] == baseline for r in summary)
    lines = [
        "| " + " | ".join(headers[k] for k in keys) + " |",
        "|" + "|".join("---" for _ in keys) + "|",
    ]
    for row in summary:
        cells = _markdown_cells(row, baseline, has_baseline)
        lines.append("| " + " | ".join(cells[k] for k in keys) + " |")
    return "\n".join(lines) + "\n"


def write_csv_table(
    path: str | os.PathLike[str], columns: tuple[str, ...], rows: list[dict[str, Any]]
) -> Path:
    """Write ``rows`` as a CSV with ``columns``, atomically: floats with 6 decimals, empty
    cells where a value is missing (None or not finite)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([_csv_cell(row[k]) for k in columns] for row in rows)
    return atomic_write_text(Path(path), buf.getvalue())


def write_summary(
    summary: list[dict[str, Any]],
    out_dir: str | os.PathLike[str],
    baseline: str = BASELINE,
    level: float = CI_LEVEL,
) -> list[Path]:
    """Write ``summary.csv`` (columns :data:`COLUMNS`, empty = not available) and ``summary.md``.

    Both are written atomically into ``out_dir``; floats in the CSV carry 6 decimals.

    Returns
    -------
    list of Path
        The two files written.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path = write_csv_table(out_dir / "summary.csv", COLUMNS, summary)
    md = format_markdown(summary, baseline, level)
    md_path = atomic_write_text(out_dir / "summary.md", md)
    return [csv_path, md_path]
