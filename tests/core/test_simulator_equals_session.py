"""A simulated round and a session round on the same frames, settings and seed train the same
weights and measure the same Dice: the simulator trains and evaluates with the widget's code
(``learn/holder.py``, ``acquire/evaluate.py``), not a copy of it (issue 24, item 3).

Bit-identical weights need one torch thread, which the suite's ``one_torch_thread`` fixture
(``tests/conftest.py``) sets for every test."""

from __future__ import annotations

import csv
import json
import math
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from alges_napari.core.data.frames import open_frames
from alges_napari.core.experiment.config import SimulationConfig, paper_training
from alges_napari.core.experiment.loop import simulate
from alges_napari.core.experiment.pool import load_runner
from alges_napari.core.learn.model import load_checkpoint
from alges_napari.core.learn.train import make_samples
from alges_napari.core.progress import run_to_end
from alges_napari.core.project.project import Project
from alges_napari.core.session import ActiveLearningSession, RoundConfig

MODEL_SIZE = (64, 64)


def write_tree(root: Path, size: tuple[int, int]) -> Path:
    from alges_napari.core.data.synthetic import write_cholecseg8k_tree

    return write_cholecseg8k_tree(root, n_clips=4, frames_per_clip=6, size=size, seed=3)


def experiment(tree: Path) -> SimulationConfig:
    """One repeat, round 0 only: 4 labelled frames, 2 epochs of 2 steps; augmentation, the
    Dice term and weight decay on, so the shuffling and augmentation generator, the loss and
    the optimiser settings all have to agree."""
    return SimulationConfig(
        data=str(tree),
        strategies=("random",),
        init=4,
        query_size=2,
        rounds=0,
        repeats=1,
        train=paper_training(
            epochs=2,
            batch_size=2,
            lr=1e-3,
            input_size=MODEL_SIZE,
            augment=True,
            dice_weight=1.0,
            weight_decay=1e-4,
        ),
        test_size=0.25,
        seed=5,
        full_pool=False,
    )


#: simulate seeds round t of repeat r with (seed + r) * 1000 + t: round 0 of repeat 0 here.
ROUND_SEED = 5 * 1000


def session_round(tree: Path, root: Path, config: SimulationConfig, split: dict) -> tuple:
    """A project on ``tree`` with the simulation's settings, its initial frames accepted with
    their ground truth and its test frames as labelled validation frames; one round of it."""
    train = {k: v for k, v in asdict(config.train_config(ROUND_SEED)).items() if k != "seed"}
    project = Project.create(root, tree, **train)
    source = open_frames(tree)
    for key in split["init"] + split["test"]:
        project.accept_label(key, source.ground_truth(source.index_of(key)))
    for key in split["test"]:
        project.set_validation(key)
    assert project.labelled_keys() == split["init"]  # the same frames, in the same order
    session = ActiveLearningSession(project, device="cpu")
    result = run_to_end(session.run_round(RoundConfig(query_size=2, seed=ROUND_SEED)))
    assert not result.stopped
    return project, session, result


def assert_same_weights(a: torch.nn.Module, b: torch.nn.Module) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    different = [k for k in sa if not torch.equal(sa[k], sb[k])]
    assert not different, f"{len(different)} of {len(sa)} tensors differ, e.g. {different[:3]}"


def read_row(out: Path) -> dict[str, str]:
    with open(out / "results.csv", newline="") as fh:
        (row,) = list(csv.DictReader(fh))
    return row


def simulated_round(tmp_path: Path, size: tuple[int, int]):
    """A tree of ``size`` frames and its simulated round 0: (tree, config, experiment folder,
    the repeat's split, the round-0 model)."""
    tree = write_tree(tmp_path / "tree", size)
    config = experiment(tree)
    out = tmp_path / "exp"
    simulate(config, out, device="cpu")
    split = json.loads((out / "state/repeat_0/split.json").read_text())
    simulated, _, _ = load_checkpoint(out / "state/repeat_0/round_0000.safetensors")
    return tree, config, out, split, simulated


def test_a_simulated_round_and_a_session_round_give_the_same_weights_and_dice(
    tmp_path: Path,
) -> None:
    # Frames at the model's size: the session measures Dice at the frames' resolution, the
    # simulator at the model's, so only then are both Dice the same number.
    tree, config, out, split, simulated = simulated_round(tmp_path, MODEL_SIZE)

    project, session, result = session_round(tree, tmp_path / "project", config, split)
    try:
        # Held-out monitoring sees the validation frames only at the step floor (4 steps,
        # eval_every 10): keeping its best weights keeps the last ones, as the simulator does.
        assert result.train.steps == 4 and result.train.best_step == 4
        saved, _, _ = load_checkpoint(project.checkpoint_path(1))
        assert_same_weights(saved, simulated)
        assert_same_weights(session.model, simulated)

        # The same Dice: the results row (6 decimals) is the session's validation Dice...
        row = read_row(out)
        for c, dice in enumerate(result.val_dice):
            assert row[f"dice_{c}"] == ("" if math.isnan(dice) else f"{dice:.6f}")
        assert row["mean_dice_scored"] == f"{result.mean_dice:.6f}"
        assert row["train_loss"] == f"{result.train.history[-1]['loss']:.6f}"
        assert int(row["n_test"]) == len(split["test"]) == 6
        # ...and the simulator's evaluation of the session's model is it exactly.
        runner = run_to_end(load_runner(config, torch.device("cpu")))
        cols = run_to_end(runner.evaluate(session.model, split["test"], None))
        got = np.array([cols[f"dice_{c}"] for c in range(project.schema.num_classes)])
        np.testing.assert_array_equal(got, result.val_dice)
        assert cols["mean_dice_scored"] == result.mean_dice
        assert np.isfinite(result.val_dice).sum() >= 2  # background and at least one organ
    finally:
        project.close()


def test_frames_larger_than_the_model_are_resized_alike_for_training(tmp_path: Path) -> None:
    """Both resize every labelled pair once with ``make_samples`` (the simulator at load time,
    the session when the round starts), so the weights agree on frames of any size."""
    tree, config, out, split, simulated = simulated_round(tmp_path, (96, 128))

    project, session, _ = session_round(tree, tmp_path / "project", config, split)
    try:
        assert_same_weights(session.model, simulated)
        # The pairs really were resized: the labels the session trained on are 96x128.
        key = split["init"][0]
        label = project.load_label(key)
        assert label.shape == (96, 128)
        small = make_samples([(np.zeros((96, 128, 3), np.uint8), label)], MODEL_SIZE).masks[0]
        runner = run_to_end(load_runner(config, torch.device("cpu")))
        np.testing.assert_array_equal(runner.truth_of(key), small.numpy())
    finally:
        project.close()
