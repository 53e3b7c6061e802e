"""The on-disk state of a simulated experiment, so an interrupted run resumes where it stopped.

Layout of an experiment folder (``alges simulate --out DIR``)::

    config.json                       the settings; a restart must use the same ones
    results.csv                       one row per strategy, repeat and round (appended, fsync'ed)
    state/repeat_<r>/split.json       that repeat's test frames and initial labelled frames
    state/repeat_<r>/round_0000.*     the round-0 model, shared by every strategy of the repeat
    state/repeat_<r>/round0.json      the round-0 row
    state/<strategy>/repeat_<r>/state.json            labelled frames, last round, rows so far
    state/<strategy>/repeat_<r>/round_<t>.safetensors its latest model (+ metadata JSON);
                                                      every round's with ``keep_models``

A step (strategy, repeat, round) is written in this order: checkpoint, then ``state.json``
(which holds the row), then the row appended to ``results.csv``; the previous checkpoint is
deleted last. Whatever moment a run is killed at, the state file names a checkpoint that exists,
and :meth:`ExperimentStore.open` appends rows that reached a state file but not the CSV.

Nothing is written before the experiment's first write (a repeat's split): a run rejected before
it (bad settings, data whose frames form one group) leaves no folder behind. A folder that holds
no finished step (only settings, an empty ``results.csv`` and splits) takes new settings.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
from pathlib import Path
from typing import Any

from alges_napari.core.atomic import atomic_write_bytes, atomic_write_json
from alges_napari.core.errors import AlgesError
from alges_napari.core.experiment.config import comparable_settings
from alges_napari.core.experiment.spelling import respell, respell_header

#: Settings that may change between a run and its restart (the experiment only grows).
GROWABLE = ("strategies", "rounds", "repeats")


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return respell(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise AlgesError(f"cannot read experiment state {path}: {exc}") from exc


def unfinished_files(root: str | os.PathLike[str]) -> list[Path] | None:
    """The files of an experiment folder that finished no step, or None when it holds more.

    A run that stopped before its first step leaves at most ``config.json``, a ``results.csv``
    with no row and the splits it drew (``state/repeat_<r>/split.json``): nothing worth keeping.
    """
    root = Path(root)
    state = root / "state"
    files = [p for p in root.rglob("*") if not p.is_dir()] if root.is_dir() else []
    for path in files:
        if path == root / "results.csv":
            if len(path.read_bytes().splitlines()) > 1:
                return None
        elif path != root / "config.json" and not (
            path.name == "split.json"
            and path.parent.parent == state
            and path.parent.name.startswith("repeat_")
        ):
            return None
    return files


def discard_unfinished(root: str | os.PathLike[str], remove_root: bool = False) -> bool:
    """Delete what a run that finished no step left in ``root`` (see :func:`unfinished_files`).

    Returns
    -------
    bool
        False (and nothing deleted) when ``root`` holds a finished step or unknown files.
    """
    root = Path(root)
    files = unfinished_files(root)
    if files is None:
        return False
    for path in files:
        path.unlink(missing_ok=True)
    folders = sorted((p for p in root.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts))
    for folder in folders + ([root] if remove_root else []):
        with contextlib.suppress(OSError):  # not empty after all: leave it
            folder.rmdir()
    return True


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return "" if not math.isfinite(value) else f"{value:.6f}"
    return str(value)


class ExperimentStore:
    """Reads and writes one experiment folder (see the module docstring).

    Parameters
    ----------
    root : path-like
        The ``--out`` folder.
    columns : list of str
        Header of ``results.csv``.
    """

    def __init__(self, root: str | os.PathLike[str], columns: list[str]):
        self.root = Path(root)
        self.columns = list(columns)
        self.results = self.root / "results.csv"
        self._pending: dict[str, Any] | None = None  # settings to write with the first state

    # ------------------------------------------------------------ opening

    def open(self, config: dict[str, Any]) -> None:
        """Check a previous run in the folder used the same settings, and repair its CSV.

        Writes nothing for a new experiment: the folder, ``config.json`` and the CSV header
        are written with the first state (see :meth:`_create`).

        Raises
        ------
        AlgesError
            When ``config.json`` or ``results.csv`` disagree with this run's settings.
        """
        if self.root.exists() and not self.root.is_dir():
            raise AlgesError(f"{self.root} exists and is not a folder: use another --out")
        old = _read_json(self.root / "config.json")
        if old is not None:
            # one flat form: a folder written by an earlier version (flat "query", "size",
            # "epochs", ...) holds the same settings as this version's nested "train"
            old, new = comparable_settings(old), comparable_settings(config)
            diff = sorted(
                k for k in set(old) | set(new) if k not in GROWABLE and old.get(k) != new.get(k)
            )
            if diff and not discard_unfinished(self.root):
                details = ", ".join(f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in diff)
                raise AlgesError(
                    f"{self.root} holds an experiment with other settings ({details}); "
                    "use another --out or the same settings to resume it"
                )
        self._pending = dict(config)
        if self.results.exists() and self.results.stat().st_size:
            self._repair_csv()

    def _create(self) -> None:
        """Write the folder, the settings and the CSV header, once, before the first state."""
        if self._pending is None:
            return
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            atomic_write_json(self.root / "config.json", self._pending)
            if not self.results.exists() or self.results.stat().st_size == 0:
                self._write_header()
        except OSError as exc:
            raise AlgesError(f"cannot write to {self.root}: {exc.strerror or exc}") from exc
        self._pending = None

    def _repair_csv(self) -> None:
        data = self.results.read_bytes()
        if not data.endswith(b"\n"):
            # A run killed in the middle of a line: drop the partial row, its state file
            # (written before the row) restores it in reconcile().
            with self.results.open("r+b") as fh:
                fh.truncate(data.rfind(b"\n") + 1)
        with self.results.open(newline="", encoding="utf-8") as fh:
            header = next(csv.reader(fh), [])
        if header != self.columns and respell_header(header) == self.columns:
            # Written by an earlier version (n_labeled): same columns, old names; the rows
            # stay as they are and the header takes the names this run writes.
            data = self.results.read_bytes()
            buf = io.StringIO()
            csv.writer(buf).writerow(self.columns)
            atomic_write_bytes(self.results, buf.getvalue().encode() + data[data.find(b"\n") + 1:])
            header = self.columns
        if header != self.columns:
            raise AlgesError(
                f"{self.results} has columns {header}, this run writes {self.columns}: "
                "use another --out"
            )

    def _write_header(self) -> None:
        with self.results.open("w", newline="", encoding="utf-8") as fh:
            csv.writer(fh).writerow(self.columns)
            fh.flush()
            os.fsync(fh.fileno())

    # ------------------------------------------------------------ rows

    def done_rows(self) -> set[tuple[str, int, int]]:
        """(strategy, repeat, round) of every row already in ``results.csv``."""
        if not self.results.exists():
            return set()
        with self.results.open(newline="", encoding="utf-8") as fh:
            return {
                (row["strategy"], int(row["repeat"]), int(row["round"]))
                for row in csv.DictReader(fh)
            }

    def append_row(self, row: dict[str, Any]) -> None:
        """Append one row and fsync, so a completed round survives a crash."""
        self._create()
        buf = io.StringIO()
        csv.writer(buf).writerow([_cell(row.get(c, "")) for c in self.columns])
        with self.results.open("a", newline="", encoding="utf-8") as fh:
            fh.write(buf.getvalue())
            fh.flush()
            os.fsync(fh.fileno())

    def reconcile(self) -> int:
        """Append rows recorded in state files but missing from the CSV; return how many."""
        done = self.done_rows()
        added = 0
        for path in sorted((self.root / "state").glob("*/repeat_*/state.json")):
            for row in (_read_json(path) or {}).get("rows", []):
                if (row["strategy"], int(row["repeat"]), int(row["round"])) not in done:
                    self.append_row(row)
                    done.add((row["strategy"], int(row["repeat"]), int(row["round"])))
                    added += 1
        return added

    # ------------------------------------------------------------ per-repeat and per-strategy state

    def repeat_dir(self, repeat: int, create: bool = True) -> Path:
        """Folder of a repeat's shared state (created unless ``create`` is False)."""
        return self._dir(self.root / "state" / f"repeat_{repeat}", create)

    def strategy_dir(self, strategy: str, repeat: int, create: bool = True) -> Path:
        """Folder of one (strategy, repeat) state (created unless ``create`` is False)."""
        return self._dir(self.root / "state" / strategy / f"repeat_{repeat}", create)

    def _dir(self, path: Path, create: bool) -> Path:
        if create:
            self._create()
            path.mkdir(parents=True, exist_ok=True)
        return path

    def load_split(self, repeat: int) -> dict[str, Any] | None:
        """The repeat's stored split ({"test": keys, "init": keys}) or None."""
        return _read_json(self.repeat_dir(repeat, create=False) / "split.json")

    def save_split(self, repeat: int, split: dict[str, Any]) -> None:
        """Store the repeat's split."""
        atomic_write_json(self.repeat_dir(repeat) / "split.json", split)

    def load_round0(self, repeat: int) -> dict[str, Any] | None:
        """The repeat's shared round-0 record ({"checkpoint", "labelled", "row"}) or None."""
        d = self.repeat_dir(repeat, create=False)
        rec = _read_json(d / "round0.json")
        return rec if rec and (d / rec["checkpoint"]).exists() else None

    def save_round0(self, repeat: int, record: dict[str, Any]) -> None:
        """Store the shared round-0 record (its checkpoint must already be written)."""
        atomic_write_json(self.repeat_dir(repeat) / "round0.json", {**record})

    def load_state(self, strategy: str, repeat: int) -> dict[str, Any] | None:
        """A (strategy, repeat) state ({"round", "labelled", "checkpoint", "rows"}) or None."""
        return _read_json(self.strategy_dir(strategy, repeat, create=False) / "state.json")

    def save_state(
        self, strategy: str, repeat: int, state: dict[str, Any], keep_previous: bool = False
    ) -> None:
        """Store a (strategy, repeat) state atomically, then delete checkpoints it no longer
        names (the one it names was written before); ``keep_previous`` keeps every earlier
        round's model as well (``iter_simulate(keep_models=...)``)."""
        d = self.strategy_dir(strategy, repeat)
        atomic_write_json(d / "state.json", state)
        if keep_previous:
            return
        keep = Path(state["checkpoint"]).name if state.get("checkpoint") else None
        for old in d.glob("round_*"):
            if keep is None or not old.name.startswith(Path(keep).stem):
                old.unlink(missing_ok=True)

    def checkpoint_path(self, strategy: str | None, repeat: int, round_index: int) -> Path:
        """Where the model of a round goes (``strategy=None``: the shared round-0 model)."""
        d = self.repeat_dir(repeat) if strategy is None else self.strategy_dir(strategy, repeat)
        return d / f"round_{round_index:04d}.safetensors"
