"""Experiment files written before the names took one spelling ("labelled") still read.

Experiment folders written by earlier versions have a ``results.csv`` column ``n_labeled``,
``summary.csv`` one ``final_n_labeled``, and state files that keep their frame lists under
``labeled``. Readers pass what they read through :func:`respell`, and a resumed experiment's
``results.csv`` gets its header rewritten once (:func:`respell_header`), so an experiment
started by an older version resumes and plots as before.
"""

from __future__ import annotations

from typing import Any

#: Old name -> the name used now.
OLD_NAMES = {
    "n_labeled": "n_labelled",
    "final_n_labeled": "final_n_labelled",
    "labeled": "labelled",
}


def respell_header(columns: list[str]) -> list[str]:
    """``columns`` with every old name replaced by the one used now."""
    return [OLD_NAMES.get(c, c) for c in columns]


def respell(value: Any) -> Any:
    """A JSON value read from an experiment file, with old key names renamed (recursively).

    Parameters
    ----------
    value : object
        What ``json.load`` gave: dicts, lists and scalars.

    Returns
    -------
    object
        The same structure; dict keys in :data:`OLD_NAMES` carry their new names (a key
        present under both names keeps the new one's value).
    """
    if isinstance(value, dict):
        out = {OLD_NAMES.get(k, k): respell(v) for k, v in value.items() if k not in OLD_NAMES}
        for old, new in OLD_NAMES.items():
            if old in value and new not in value:
                out[new] = respell(value[old])
        return out
    if isinstance(value, list):
        return [respell(v) for v in value]
    return value
