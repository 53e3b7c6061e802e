"""Figures of an experiment: Dice against labels, and Dice against the correction it cost.

Each strategy is its mean curve over repeats with a band of +-1 standard deviation across
repeats; the mean Dice of the models trained on the whole pool (``full-pool`` rows), when the
results have it, is a dashed horizontal line: the ceiling active learning approaches.

Plotting uses matplotlib's object API on an Agg canvas (no pyplot, no global backend change), so
it works headless and leaves the caller's matplotlib state alone. PNGs are written atomically.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from alges_napari.core.atomic import atomic_write_with
from alges_napari.core.errors import AlgesError
from alges_napari.core.experiment.curves import Curve


def _axes() -> tuple[Any, Any]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4.5), dpi=120)
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


def _draw(ax: Any, x: np.ndarray, c: Curve, keep: np.ndarray | None = None) -> None:
    keep = np.ones(len(x), bool) if keep is None else keep
    x, mean, std = x[keep], c.mean[keep], c.std[keep]
    (line,) = ax.plot(x, mean, marker="o", ms=3, label=c.strategy)
    if c.repeats > 1:
        ax.fill_between(x, mean - std, mean + std, color=line.get_color(), alpha=0.15)


def _finish(fig: Any, ax: Any, full_pool: float, path: str | os.PathLike[str]) -> Path:
    if math.isfinite(full_pool):
        ax.axhline(full_pool, color="k", ls="--", lw=1, label=f"full pool ({full_pool:.3f})")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize="small")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write_with(path, lambda tmp: fig.savefig(tmp, format="png"))


def _repeats_text(curves: dict[str, Curve]) -> str:
    return "/".join(map(str, sorted({c.repeats for c in curves.values()})))


def plot_curves(
    curves: dict[str, Curve],
    path: str | os.PathLike[str],
    title: str | None = None,
    ylabel: str = "mean Dice (test frames)",
    full_pool: float = math.nan,
) -> Path:
    """Plot Dice against labelled frames (mean line, +-1 sd band) to a PNG file.

    Parameters
    ----------
    curves : dict of Curve
        From :func:`~alges_napari.core.experiment.curves.learning_curves`.
    path : path-like
        PNG file to write.
    title, ylabel : str
        Figure title and y-axis label.
    full_pool : float
        Mean score of the full-pool models, drawn as a dashed line; NaN draws none.

    Returns
    -------
    Path
        ``path``.
    """
    if not curves:
        raise AlgesError("no curves to plot: the results hold no complete label counts")
    fig, ax = _axes()
    for c in curves.values():
        _draw(ax, c.n_labelled, c)
    ax.set_xlabel("labelled frames")
    ax.set_ylabel(ylabel)
    ax.set_title(title or f"Learning curves (mean +- 1 sd over {_repeats_text(curves)} repeats)")
    return _finish(fig, ax, full_pool, path)


def pixel_scale(largest: float) -> tuple[float, str]:
    """A divisor and unit for a pixel-count axis: millions, thousands or plain pixels."""
    if largest >= 1e6:
        return 1e6, "millions of pixels"
    if largest >= 1e3:
        return 1e3, "thousands of pixels"
    return 1.0, "pixels"


def plot_correction_curves(
    curves: dict[str, Curve],
    costs: dict[str, Curve],
    path: str | os.PathLike[str],
    title: str | None = None,
    ylabel: str = "mean Dice (test frames)",
    full_pool: float = math.nan,
) -> Path:
    """Plot Dice against the cumulative correction effort to a PNG file.

    Each point is one label count of a strategy: x is the mean over repeats of
    ``corrected_px_total`` there (the pixels a user had to repaint in the frames picked so far,
    initial frames included), y the mean Dice with its +-1 sd band. Points whose correction is
    unknown are left out.

    Parameters
    ----------
    curves : dict of Curve
        Dice curves from :func:`~alges_napari.core.experiment.curves.learning_curves`.
    costs : dict of Curve
        ``corrected_px_total`` curves from the same rows (same strategies and label counts).
    path : path-like
        PNG file to write.
    title, ylabel : str
        Figure title and y-axis label.
    full_pool : float
        Mean score of the full-pool models, drawn as a dashed line; NaN draws none.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    AlgesError
        When no strategy has a known correction.
    """
    pairs = [(c, costs[name]) for name, c in curves.items() if name in costs]
    pairs = [(c, k) for c, k in pairs if np.array_equal(c.n_labelled, k.n_labelled)]
    known = [k.mean[np.isfinite(k.mean)] for _, k in pairs]
    if not any(len(x) for x in known):
        raise AlgesError("no correction to plot: the results have no corrected_px_total values")
    scale, unit = pixel_scale(max(float(x.max()) for x in known if len(x)))
    fig, ax = _axes()
    for c, k in pairs:
        _draw(ax, k.mean / scale, c, np.isfinite(k.mean))
    ax.set_xlabel(f"corrected pixels, cumulative ({unit}; mean over repeats)")
    ax.set_ylabel(ylabel)
    ax.set_title(
        title
        or f"Dice against correction effort (mean +- 1 sd over {_repeats_text(curves)} repeats)"
    )
    return _finish(fig, ax, full_pool, path)
