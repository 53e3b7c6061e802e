"""Combine experiment folders that ran the same experiment with different seeds.

Repeats of an experiment are independent: repeat ``r`` of ``alges simulate --seed S`` draws its
split, start, training and selection from ``S + r`` alone (see ``work._seed`` and
``pool.split_repeat``). So ``--seed 5 --repeats 1`` run in one process and ``--seed 6 --repeats 1``
in another produce exactly the rows that repeats 5 and 6 of ``--seed 0 --repeats 10`` would. This
module puts such folders back together for ``alges plot``: it checks that every folder used the
same settings (all but the seed and the growable ones), numbers each row's repeat by its seed
(``seed + repeat``), and refuses two folders that hold the same repeat.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from alges_napari.core.errors import AlgesError
from alges_napari.core.experiment.config import comparable_settings
from alges_napari.core.experiment.curves import read_results
from alges_napari.core.experiment.store import GROWABLE

__all__ = ["combine_results"]

#: Settings that may differ between folders that are parts of one experiment.
_MAY_DIFFER = frozenset(GROWABLE) | {"seed"}


def _settings(folder: Path) -> dict[str, Any]:
    path = folder / "config.json"
    try:
        settings = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise AlgesError(
            f"cannot combine {folder}: {path.name} is unreadable ({exc.strerror or exc}); "
            "only folders written by alges simulate can be combined"
        ) from exc
    except ValueError as exc:
        raise AlgesError(f"cannot combine {folder}: {path} is not valid JSON ({exc})") from exc
    if not isinstance(settings, dict) or not isinstance(settings.get("seed"), int):
        raise AlgesError(f"cannot combine {folder}: {path} has no integer 'seed'")
    return comparable_settings(settings)  # a folder of an earlier version compares equal


def combine_results(folders: Sequence[str | os.PathLike[str]]) -> list[dict[str, Any]]:
    """Read several experiment folders as one experiment, repeats numbered by their seeds.

    Parameters
    ----------
    folders : sequence of path-like
        Folders written by ``alges simulate`` (each with ``config.json`` and ``results.csv``).

    Returns
    -------
    list of dict
        The rows of every folder (as :func:`~alges_napari.core.experiment.curves.read_results`
        gives them), with ``repeat`` replaced by ``seed + repeat`` of the folder that wrote it.

    Raises
    ------
    AlgesError
        When fewer than one folder is given, a folder is not an experiment folder, two folders
        differ in a setting other than the seed, repeats, rounds or strategies (the message
        names both folders and the setting), or two folders hold the same repeat.
    """
    paths = [Path(f) for f in folders]
    if not paths:
        raise AlgesError("no experiment folder to combine")
    first = paths[0]
    reference = _settings(first)
    owner: dict[int, Path] = {}
    rows: list[dict[str, Any]] = []
    for folder in paths:
        settings = reference if folder == first else _settings(folder)
        differ = sorted(
            key
            for key in set(reference) | set(settings)
            if key not in _MAY_DIFFER and reference.get(key) != settings.get(key)
        )
        if differ:
            details = ", ".join(
                f"{key}: {reference.get(key)!r} in {first} vs {settings.get(key)!r} in {folder}"
                for key in differ
            )
            raise AlgesError(f"{folder} is not the same experiment as {first} ({details})")
        seed = settings["seed"]
        own = read_results(folder)
        for repeat in sorted({row["repeat"] for row in own}):
            number = seed + repeat
            if number in owner:
                raise AlgesError(
                    f"repeat seed {number} is in both {owner[number]} and {folder}: "
                    "combine folders whose seeds do not overlap"
                )
            owner[number] = folder
        rows += [{**row, "repeat": seed + row["repeat"]} for row in own]
    return rows
