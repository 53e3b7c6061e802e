"""Experiment files written before the names took one spelling still read.

Experiment folders written by earlier versions have a ``results.csv`` column ``n_labeled``,
``summary.csv`` one ``final_n_labeled``, and state files that keep their frame lists under
``labeled``. Readers pass what they read through :func:`respell`, and a resumed experiment's
``results.csv`` gets its header rewritten once (:func:`respell_header`), so an experiment
started by an older version resumes and plots as before.

Their ``config.json`` is flat: ``query`` for what is now ``query_size``, and the training
settings (``size``, ``epochs``, ``lr``, ...) beside the experiment's, where this version keeps
them in a nested ``train`` dict with TrainConfig's names (``size`` is ``input_size``).
:func:`respell_settings` maps such a dict to the new shape; the settings' readers
(:meth:`~alges_napari.core.experiment.config.SimulationConfig.from_json` and
:func:`~alges_napari.core.experiment.config.comparable_settings`) apply it.
"""

from __future__ import annotations

from typing import Any

#: Old name -> the name used now.
OLD_NAMES = {
    "n_labeled": "n_labelled",
    "final_n_labeled": "final_n_labelled",
    "labeled": "labelled",
}

#: Old flat ``config.json`` key -> the setting's name now (experiment level).
OLD_SETTINGS = {"query": "query_size"}

#: Old flat ``config.json`` key -> the TrainConfig field under ``train`` that holds it now.
OLD_TRAINING = {
    "arch": "arch",
    "encoder": "encoder",
    "size": "input_size",
    "epochs": "epochs",
    "batch_size": "batch_size",
    "lr": "lr",
    "weight_decay": "weight_decay",
    "dice_weight": "dice_weight",
    "warm_start": "warm_start",
    "augment": "augment",
    "min_steps": "min_steps",
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


def respell_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """An experiment's ``config.json`` of any version, in this version's shape.

    Parameters
    ----------
    settings : dict
        The settings as read: flat (earlier versions: ``query``, ``size``, ``epochs``, ...)
        or already nested (a ``train`` dict).

    Returns
    -------
    dict
        A new dict: keys of :data:`OLD_SETTINGS` renamed, keys of :data:`OLD_TRAINING` moved
        into ``train`` under their TrainConfig names (a value already under the new name
        wins), every other key as it was. A dict in the new shape comes back equal.
    """
    out = {k: v for k, v in settings.items() if k not in OLD_SETTINGS and k not in OLD_TRAINING}
    for old, new in OLD_SETTINGS.items():
        if old in settings and new not in out:
            out[new] = settings[old]
    train = dict(out["train"]) if isinstance(out.get("train"), dict) else {}
    for old, new in OLD_TRAINING.items():
        if old in settings and new not in train:
            train[new] = settings[old]
    if train or "train" in out:
        out["train"] = train
    return out
