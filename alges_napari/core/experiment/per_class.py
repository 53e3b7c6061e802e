"""The per-class table of an experiment: each class's Dice by strategy (``per_class.csv``, ``.md``).

``results.csv`` holds one data-set Dice per class and row (columns ``dice_<id>``, see
:mod:`.pool`). For every strategy and class this table gives the class's mean Dice at the
strategy's final label count and the normalised AUC of its mean curve over the label range every
strategy covers, and, against random, that AUC's difference paired by repeat with its paired
t-interval (:func:`~alges_napari.core.experiment.stats.t_interval`). A class with an empty cell
in some repeat (absent from the test truth and from that repeat's prediction) has empty cells
where that repeat counts, never zero; a class empty everywhere has no row.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from alges_napari.core.atomic import atomic_write_text
from alges_napari.core.experiment.curves import (
    BASELINE,
    common_range,
    learning_curves,
    normalised_auc,
)
from alges_napari.core.experiment.stats import repeat_aucs, t_interval
from alges_napari.core.experiment.summary import write_csv_table

#: per_class.csv's columns, in order.
COLUMNS = (
    "strategy",
    "class_id",
    "final_n_labelled",
    "final_dice",
    "auc_normalised",
    "auc_minus_random",
    "auc_minus_random_t_low",
    "auc_minus_random_t_high",
)
_CLASS_COLUMN = re.compile(r"^dice_(\d+)$")


def class_ids(rows: list[dict[str, Any]]) -> list[int]:
    """The class ids that have a ``dice_<id>`` column in ``rows``, increasing."""
    ids = {int(m.group(1)) for row in rows[:1] for k in row if (m := _CLASS_COLUMN.match(k))}
    return sorted(ids)


def per_class_table(rows: list[dict[str, Any]], baseline: str = BASELINE) -> list[dict[str, Any]]:
    """One row per strategy and class (see the module docstring).

    Parameters
    ----------
    rows : list of dict
        As :func:`~alges_napari.core.experiment.curves.read_results` returns them.
    baseline : str
        The strategy the paired differences are taken against.

    Returns
    -------
    list of dict
        Keys :data:`COLUMNS`; NaN where a class has no finite curve or there is no baseline.
    """
    out: list[dict[str, Any]] = []
    for c in class_ids(rows):
        curves = learning_curves(rows, f"dice_{c}")
        curves = {k: v for k, v in curves.items() if np.isfinite(v.mean).any()}
        if not curves:
            continue
        lo, hi = common_range(curves)
        base = curves.get(baseline)
        base_aucs = repeat_aucs(base, lo, hi) if base is not None else {}
        for name, curve in curves.items():
            row = {
                "strategy": name,
                "class_id": c,
                "final_n_labelled": int(curve.n_labelled[-1]),
                "final_dice": float(curve.mean[-1]),
                "auc_normalised": normalised_auc(curve.n_labelled, curve.mean, lo, hi),
                "auc_minus_random": math.nan,
                "auc_minus_random_t_low": math.nan,
                "auc_minus_random_t_high": math.nan,
            }
            if base is not None and name != baseline:
                ours = repeat_aucs(curve, lo, hi)
                ids = sorted(set(ours) & set(base_aucs))
                d = np.array([ours[r] - base_aucs[r] for r in ids], dtype=float)
                if len(d) and np.isfinite(d).all():
                    low, high, _ = t_interval(d)
                    row.update(
                        auc_minus_random=float(d.mean()),
                        auc_minus_random_t_low=low,
                        auc_minus_random_t_high=high,
                    )
            out.append(row)
    return out


def _cell(value: Any, digits: int = 6) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def format_per_class_markdown(
    table: list[dict[str, Any]], names: dict[int, str] | None = None, baseline: str = BASELINE
) -> str:
    """The table as Markdown: one line per class, a column per strategy reading
    ``final Dice / AUC`` and, for strategies other than ``baseline``, the paired AUC difference
    with its t-interval."""
    strategies = list(dict.fromkeys(r["strategy"] for r in table))
    classes = list(dict.fromkeys(r["class_id"] for r in table))
    by = {(r["strategy"], r["class_id"]): r for r in table}
    lines = [
        "| class | " + " | ".join(strategies) + " |",
        "|---|" + "|".join("---" for _ in strategies) + "|",
    ]
    for c in classes:
        cells = []
        for s in strategies:
            r = by.get((s, c))
            if r is None:
                cells.append("-")
                continue
            text = f"{_cell(r['final_dice'], 3) or '-'} / {_cell(r['auc_normalised'], 3) or '-'}"
            if s != baseline and math.isfinite(r["auc_minus_random"]):
                lo, hi = r["auc_minus_random_t_low"], r["auc_minus_random_t_high"]
                interval = "" if not math.isfinite(lo) else f" [{lo:+.3f}, {hi:+.3f}]"
                text += f"; {r['auc_minus_random']:+.3f}{interval}"
            cells.append(text)
        label = f"{c} {names[c]}" if names and c in names else str(c)
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    note = (
        f"\nEach cell: final mean Dice / normalised AUC; for strategies other than {baseline}, "
        f"the AUC minus {baseline}'s, paired by repeat, [95% paired t-interval].\n"
    )
    return "\n".join(lines) + "\n" + note


def write_per_class(
    table: list[dict[str, Any]],
    out_dir: str | os.PathLike[str],
    names: dict[int, str] | None = None,
) -> list[Path]:
    """Write ``per_class.csv`` (columns :data:`COLUMNS`) and ``per_class.md`` atomically."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path = write_csv_table(out_dir / "per_class.csv", COLUMNS, table)
    md_path = atomic_write_text(out_dir / "per_class.md", format_per_class_markdown(table, names))
    return [csv_path, md_path]
