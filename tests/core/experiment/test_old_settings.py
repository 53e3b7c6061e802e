"""Experiment folders written before the settings took one name each, and before the training
settings moved into ``SimulationConfig.train``, still read, resume, combine and plot.

Such a ``config.json`` is flat: ``query`` (now ``query_size``) and the training settings
(``size``, now ``train.input_size``; ``epochs``, ``lr``, ...) beside the experiment's. The old
dicts below are written out literally, as the earlier version's ``to_json`` wrote them.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from alges_napari.core.errors import AlgesError
from alges_napari.core.experiment.combine import combine_results
from alges_napari.core.experiment.config import (
    SimulationConfig,
    comparable_settings,
    paper_training,
)
from alges_napari.core.experiment.loop import simulate
from alges_napari.core.experiment.spelling import respell_settings
from alges_napari.core.learn.config import TrainConfig

pytestmark = pytest.mark.tree(seed=3)  # 4 clips of 6 frames, 64 x 64


def old_config(data: str, **changes) -> dict:
    """What the earlier version's ``SimulationConfig.to_json`` wrote for a small experiment
    (its defaults ``warm_steps`` 0, ``weight_decay`` 0, no ``test_data`` or ``encoder_weights``
    left out, as it left them out)."""
    old = {
        "data": data,
        "strategies": ["random"],
        "init": 3,
        "query": 2,
        "rounds": 1,
        "repeats": 1,
        "epochs": 1,
        "batch_size": 4,
        "lr": 0.001,
        "size": [64, 64],
        "arch": "Unet",
        "encoder": "resnet18",
        "warm_start": False,
        "test_size": 0.25,
        "seed": 0,
        "augment": False,
        "dice_weight": 0.0,
        "candidates": None,
        "min_steps": 0,
        "full_pool": False,
        "stride": 1,
    }
    old.update(changes)
    return old


def new_config(data: str, rounds: int = 1, **training) -> SimulationConfig:
    """The experiment of :func:`old_config`, built with this version's names."""
    train = dict(epochs=1, batch_size=4, lr=1e-3, input_size=(64, 64), **training)
    return SimulationConfig(
        data=data,
        strategies=("random",),
        init=3,
        query_size=2,
        rounds=rounds,
        repeats=1,
        train=paper_training(**train),
        test_size=0.25,
        full_pool=False,
    )


def old_train_config(old: dict, seed: int, warm: bool = False) -> TrainConfig:
    """The per-round TrainConfig the earlier version built from its flat fields (its
    ``train_config``, written out), for comparison with this version's."""
    short = warm and old["warm_start"] and old.get("warm_steps", 0) > 0
    return TrainConfig(
        arch=old["arch"],
        encoder=old["encoder"],
        input_size=tuple(old["size"]),
        epochs=1 if short else old["epochs"],
        min_steps=old.get("warm_steps", 0) if short else old["min_steps"],
        batch_size=old["batch_size"],
        lr=old["lr"],
        weight_decay=old.get("weight_decay", 0.0),
        dice_weight=old["dice_weight"],
        warm_start=old["warm_start"],
        augment=old["augment"],
        seed=seed,
    )


def test_respell_settings_moves_the_flat_training_settings_into_train() -> None:
    old = old_config("/x", weight_decay=1e-4)
    new = respell_settings(old)
    assert new["query_size"] == 2 and "query" not in new and "size" not in new
    assert new["train"] == {
        "arch": "Unet",
        "encoder": "resnet18",
        "input_size": [64, 64],
        "epochs": 1,
        "batch_size": 4,
        "lr": 0.001,
        "weight_decay": 1e-4,
        "dice_weight": 0.0,
        "warm_start": False,
        "augment": False,
        "min_steps": 0,
    }
    experiment = ("data", "strategies", "init", "rounds", "repeats", "test_size", "seed")
    experiment += ("candidates", "full_pool", "stride")
    assert sorted(new) == sorted((*experiment, "query_size", "train"))
    assert all(new[k] == old[k] for k in experiment)  # the experiment's settings stay put
    # a dict in the new shape comes back equal
    written = new_config("/x").to_json()
    assert respell_settings(written) == written


def test_an_old_config_reads_into_the_same_config_and_round_settings() -> None:
    old = old_config("/x")
    config = SimulationConfig.from_json(old)
    assert config == new_config("/x")
    for seed in (0, 1003):
        assert config.train_config(seed) == old_train_config(old, seed)
    # the fields the old version had no option for keep TrainConfig's defaults, as then
    assert (config.train.amp, config.train.patience, config.train.max_steps) == (True, 0, 0)
    assert config.train.eval_every == 10
    assert comparable_settings(old) == comparable_settings(config.to_json())


def test_old_warm_runs_keep_their_short_warm_rounds() -> None:
    old = old_config("/x", warm_start=True, warm_steps=3, weight_decay=1e-4, min_steps=5)
    config = SimulationConfig.from_json(old)
    assert config.warm_steps == 3 and config.train.weight_decay == 1e-4
    for warm in (False, True):
        assert config.train_config(7, warm) == old_train_config(old, 7, warm)
    assert config.train_config(7, True).epochs == 1 and config.train_config(7, True).min_steps == 3


def test_new_configs_round_trip_through_json() -> None:
    config = new_config("/x", augment=True, dice_weight=0.5, patience=2, max_steps=40)
    text = json.dumps(config.to_json())  # JSON-ready
    back = SimulationConfig.from_json(json.loads(text))
    assert back == config
    assert "seed" not in config.to_json()["train"]  # each round sets its own
    assert SimulationConfig(data="/x").train == paper_training()
    assert paper_training() is not paper_training()  # every config its own copy


def write_old_folder(folder: Path, old: dict) -> None:
    """Make ``folder`` (written by this version) look as the earlier version left it."""
    (folder / "config.json").write_text(json.dumps(old))


def rows_of(folder: Path) -> list[dict[str, str]]:
    with open(folder / "results.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def test_an_old_experiment_folder_resumes_combines_and_plots(tree, tmp_path, capsys) -> None:
    from alges_napari import cli

    data = str(Path(tree).resolve())
    out = tmp_path / "old"
    assert simulate(new_config(data), out).rows_written == 2
    write_old_folder(out, old_config(data))
    done = rows_of(out)

    # the same settings: nothing to do, nothing reported as changed
    again = simulate(new_config(data), out)
    assert (again.rows_written, again.rows_skipped) == (0, 1)  # round 1 (round 0 is shared)
    # more rounds (a growable setting): resumes where it stopped, the old rows kept
    grown = simulate(new_config(data, rounds=2), out)
    assert (grown.rows_written, grown.rows_skipped) == (1, 1)
    assert rows_of(out)[:2] == done and [r["n_labelled"] for r in rows_of(out)] == ["3", "5", "7"]
    # the folder now holds this version's shape, which reads back to the same experiment
    saved = json.loads((out / "config.json").read_text())
    assert "train" in saved and "query" not in saved and "epochs" not in saved
    assert SimulationConfig.from_json(saved) == new_config(data, rounds=2)
    assert simulate(new_config(data, rounds=2), out).rows_written == 0  # and resumes as such

    # another training setting is refused, named by its place in the new shape
    write_old_folder(out, old_config(data, rounds=2))
    with pytest.raises(AlgesError, match=r"train\.epochs: 1 -> 2"):
        simulate(SimulationConfig.from_json(old_config(data, rounds=2, epochs=2)), out)

    # an old folder and a new one of the same experiment with another seed combine
    other = tmp_path / "new"
    config = new_config(data, rounds=2)
    config.seed = 1
    simulate(config, other)
    rows = combine_results([out, other])
    assert sorted({r["repeat"] for r in rows}) == [0, 1]

    assert cli.main(["plot", "--results", str(out), "--quiet"]) == 0
    assert "| random | 1 |" in capsys.readouterr().out
