"""Every option of ``alges simulate``, ``train`` and ``rank`` reaches the config field of its
name (the commands build their configs by field name: ``cli.common.fields_from``), the
defaults are the configs' own, and the old spellings ``--query`` and ``--size`` still work."""

from __future__ import annotations

import argparse
from dataclasses import fields

import pytest

from alges_napari import cli
from alges_napari.cli.experiment import simulation_config
from alges_napari.cli.project import _round_config
from alges_napari.core.acquire.strategies import get_strategy
from alges_napari.core.experiment.config import SimulationConfig, paper_training
from alges_napari.core.learn.config import TrainConfig
from alges_napari.core.session import RoundConfig

#: The SimulationConfig and TrainConfig fields ``alges simulate`` has an option for; the
#: others (``strategies``: ``--strategy``; ``train``; TrainConfig's amp, patience, max_steps,
#: eval_every and seed) keep the paper's protocol.
SIMULATE_FIELDS = {
    "data", "init", "query_size", "rounds", "repeats", "encoder_weights", "test_size", "seed",
    "candidates", "full_pool", "stride", "test_data", "warm_steps",
}  # fmt: skip
SIMULATE_TRAINING = {
    "arch", "encoder", "input_size", "epochs", "batch_size", "lr", "weight_decay",
    "dice_weight", "warm_start", "augment", "min_steps",
}  # fmt: skip


def subcommand(name: str) -> argparse.ArgumentParser:
    """The parser of ``alges NAME``."""
    parser = cli.build_parser()
    (sub,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices[name]


def options_by_field(name: str) -> dict[str, argparse.Action]:
    """The options of ``alges NAME`` by the attribute (``dest``) they set."""
    return {a.dest: a for a in subcommand(name)._actions if a.option_strings}


def other_value(action: argparse.Action, name: str) -> tuple[list[str], object]:
    """Arguments giving the option ``action`` a value other than its default, and that value."""
    flag = action.option_strings[0]
    if action.nargs == 0:  # a switch: give the one that sets the other value
        return [flag], action.const
    if action.nargs == 2:
        return [flag, "64", "96"], (64, 96)
    if action.type is int:
        value = (action.default or 0) + 3
        return [flag, str(value)], value
    if action.type is float:
        value = (action.default or 0.0) + 0.125
        return [flag, str(value)], value
    return [flag, f"given-{name}"], f"given-{name}"


def test_every_simulate_option_reaches_its_field() -> None:
    options = options_by_field("simulate")
    experiment = {f.name for f in fields(SimulationConfig)} & set(options)
    training = ({f.name for f in fields(TrainConfig)} - {"seed"}) & set(options)
    assert experiment == SIMULATE_FIELDS and training == SIMULATE_TRAINING
    argv, expected = ["simulate"], {}
    for name in sorted(experiment | training):
        action = options[name]
        if action.nargs == 0 and action.const == action.default:
            # a pair of switches on one field (--warm-start / --from-scratch): the other one
            action = next(
                a
                for a in subcommand("simulate")._actions
                if a.dest == name and a.const != a.default
            )
        args, expected[name] = other_value(action, name)
        argv += args
    argv += ["--candidates", "20"]  # at least query_size (13)
    expected["candidates"] = 20
    config = simulation_config(cli.build_parser().parse_args(argv))
    for name, value in expected.items():
        got = getattr(config.train if name in training else config, name)
        assert got == value, name
    assert config.train.seed == 0  # --seed is the experiment's base seed only
    untouched = ("amp", "patience", "max_steps", "eval_every")
    assert all(getattr(config.train, n) == getattr(paper_training(), n) for n in untouched)


def test_simulate_defaults_are_the_configs_own() -> None:
    args = cli.build_parser().parse_args(["simulate", "--data", "tree"])
    assert simulation_config(args) == SimulationConfig(data="tree")


def test_the_old_spellings_still_set_the_fields() -> None:
    parse = cli.build_parser().parse_args
    old = parse(["simulate", "--data", "t", "--query", "3", "--size", "64", "96"])
    new = parse(["simulate", "--data", "t", "--query-size", "3", "--input-size", "64", "96"])
    assert simulation_config(old) == simulation_config(new)
    config = simulation_config(old)
    assert (config.query_size, config.train.input_size) == (3, (64, 96))
    assert parse(["rank", "--project", "p", "--query", "4"]).query_size == 4
    init = parse(["init", "--project", "p", "--data", "d", "--size", "64", "96"])
    assert init.input_size == [64, 96]


@pytest.mark.parametrize("command", ["train", "rank"])
def test_every_round_option_reaches_its_field(command: str) -> None:
    options = options_by_field(command)
    wanted = {f.name for f in fields(RoundConfig)} & set(options)
    trains = command == "train"
    assert wanted == {"strategy", "query_size", "candidates", "seed"} | (
        {"epochs", "batch_size", "warm_start"} if trains else set()
    )
    argv = [command, "--project", "p", "--strategy", "entropy", "--query-size", "4"]
    argv += ["--candidates", "9", "--seed", "2"]
    if trains:
        argv += ["--epochs", "3", "--batch-size", "5", "--from-scratch"]
    args = cli.build_parser().parse_args(argv)
    args.strategy = get_strategy(args.strategy)  # as check_args resolves it
    expected = RoundConfig(
        strategy=get_strategy("entropy"),
        query_size=4,
        candidates=9,
        seed=2,
        epochs=3 if trains else None,
        batch_size=5 if trains else None,
        warm_start=False if trains else None,
    )
    assert _round_config(args) == expected


def test_keep_models_reaches_the_experiment(monkeypatch, tmp_path) -> None:
    import alges_napari.core.experiment.loop as loop

    seen = {}

    def fake(config, out, stop, device, client, engine, keep_models=()):
        seen["keep"] = list(keep_models)
        raise loop.AlgesError("stop here")
        yield  # a generator, as iter_simulate is

    monkeypatch.setattr(loop, "iter_simulate", fake)
    tree = tmp_path / "tree"
    tree.mkdir()
    argv = ["simulate", "--data", str(tree), "--out", str(tmp_path / "o"), "--quiet",
            "--keep-models", "random,alges-seg", "--keep-models", "coreset"]  # fmt: skip
    assert cli.main(argv) != 0
    assert seen["keep"] == ["random", "alges-seg", "coreset"]
