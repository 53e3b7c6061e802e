"""Simulated active learning: held-out clips, the rows of results.csv, resume after a stop."""

from __future__ import annotations

import csv
import json
import math
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest
import torch

from alges_napari.core.errors import AlgesError
from alges_napari.core.experiment.config import SimulationConfig, paper_training
from alges_napari.core.experiment.loop import iter_simulate, simulate
from alges_napari.core.experiment.pool import Pool, group_of_keys, split_repeat
from alges_napari.core.learn.config import TrainConfig
from alges_napari.core.learn.model import load_checkpoint
from alges_napari.core.learn.train import TrainSamples
from alges_napari.core.progress import StopFlag, run_to_end

TIMING = {"train_s", "select_s"}
#: The TrainConfig fields, which :func:`tiny` passes on to the experiment's ``train``.
TRAINING = {f.name for f in fields(TrainConfig)}


pytestmark = pytest.mark.tree(seed=3)  # 4 clips of 6 frames, 64 x 64


def tiny(tree: Path, **kw) -> SimulationConfig:
    """A small experiment on ``tree``; ``kw`` sets experiment and training fields alike."""
    base = dict(
        data=str(tree),
        strategies=("random", "alges-seg"),
        init=3,
        query_size=2,
        rounds=2,
        repeats=2,
        test_size=0.25,
        full_pool=False,
    )
    training = dict(epochs=1, batch_size=4, lr=1e-3, input_size=(64, 64))
    for name in TRAINING & set(kw):
        training[name] = kw.pop(name)
    return SimulationConfig(**{**base, **kw}, train=paper_training(**training))


def read_rows(out: Path) -> list[dict[str, str]]:
    with open(out / "results.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def fake_pool(keys: list[str]) -> Pool:
    n = len(keys)
    samples = TrainSamples(torch.zeros(n, 3, 32, 32, dtype=torch.uint8), torch.zeros(n, 32, 32))
    return Pool(keys, group_of_keys(keys), samples, schema=None)


# ---------------------------------------------------------------- splits


def test_groups_are_videos_or_blocks() -> None:
    keys = ["video01/video01_00080/frame_80_endo", "video02/video02_00160/frame_160_endo"]
    assert group_of_keys(keys) == ["video01", "video02"]
    flat = [f"frame_{i:03d}" for i in range(40)]
    groups = group_of_keys(flat)
    assert groups[0] == groups[1] != groups[2] and len(set(groups)) == 20  # blocks of 2


def test_split_holds_out_whole_videos_per_repeat() -> None:
    keys = [
        f"video{v:02d}/video{v:02d}_00080/frame_{i}_endo" for v in range(1, 11) for i in range(8)
    ]
    pool = fake_pool(keys)
    config = SimulationConfig(data="x", init=5, query_size=2, rounds=3, test_size=0.2)
    splits = [split_repeat(pool, config, r) for r in range(3)]
    for split in splits:
        test_videos = {k.split("/")[0] for k in split["test"]}
        assert len(split["test"]) == 16 and len(test_videos) == 2  # whole videos, 20 %
        assert all(k.split("/")[0] not in test_videos for k in split["init"])  # no leakage
        assert len(set(split["init"])) == 5
    assert split_repeat(pool, config, 1) == splits[1]  # a repeat's split is its seed's
    assert splits[0]["init"] != splits[1]["init"]  # and repeats differ
    by_count = SimulationConfig(data="x", init=5, query_size=2, rounds=3, test_size=24)
    assert len(split_repeat(pool, by_count, 0)["test"]) == 24  # a frame count: 3 videos
    with pytest.raises(AlgesError, match="init \\+ rounds \\* query"):
        split_repeat(pool, SimulationConfig(data="x", init=50, query_size=10, rounds=3), 0)


def test_one_folder_of_frames_points_one_folder_lower() -> None:
    keys = [f"clips/video{v:02d}/video{v:02d}_00080/frame_{i}_endo" for v in (1, 2) for i in (1, 2)]
    config = SimulationConfig(data="data", init=1, query_size=1, rounds=1)
    with pytest.raises(AlgesError, match="one folder lower") as info:
        split_repeat(fake_pool(keys), config, 0)
    assert f"--data {Path('data') / 'clips'}" in str(info.value)
    assert "--init" not in str(info.value)  # shrinking the experiment would not help


def test_config_rejects_bad_values() -> None:
    with pytest.raises(AlgesError, match="unknown selection strategy"):
        SimulationConfig(data="x", strategies=("alges-sag",))
    with pytest.raises(AlgesError, match="init must be >= 1"):
        SimulationConfig(data="x", init=0)
    with pytest.raises(AlgesError, match="multiples of 32"):
        SimulationConfig(data="x", train=paper_training(input_size=(50, 64)))
    with pytest.raises(AlgesError, match="candidates"):
        SimulationConfig(data="x", candidates=3, query_size=10)


# ---------------------------------------------------------------- the experiment


def test_results_rows(tree: Path, tmp_path: Path) -> None:
    config = tiny(tree, rounds=1)
    result = simulate(config, tmp_path / "exp")
    assert not result.stopped and result.rows_written == 2 * 2 * 2
    rows = read_rows(tmp_path / "exp")
    assert list(rows[0])[:6] == [
        "strategy",
        "repeat",
        "round",
        "n_labelled",
        "mean_dice",
        "mean_dice_scored",
    ]
    # every class of the schema has its column, scored on CholecSeg8k or not (7: blood)
    assert [c for c in rows[0] if c.startswith("dice_")] == [f"dice_{c}" for c in range(13)]
    seen = {(r["strategy"], int(r["repeat"]), int(r["round"])) for r in rows}
    assert seen == {(s, p, t) for s in ("random", "alges-seg") for p in (0, 1) for t in (0, 1)}
    for r in rows:
        assert int(r["n_labelled"]) == 3 + 2 * int(r["round"])
        scored = [float(r[f"dice_{c}"]) for c in (0, 1, 2, 3, 4, 5, 9, 10) if r[f"dice_{c}"]]
        assert float(r["mean_dice_scored"]) == pytest.approx(np.mean(scored), abs=1e-5)
        assert 0 <= float(r["mean_dice"]) <= 1
    # round 0 is shared: same start, same model, same numbers for every strategy
    for p in (0, 1):
        r0 = [r for r in rows if r["round"] == "0" and r["repeat"] == str(p)]
        assert r0[0]["mean_dice"] == r0[1]["mean_dice"]


def test_labelled_sets_grow_without_test_frames(tree: Path, tmp_path: Path) -> None:
    import json

    out = tmp_path / "exp"
    simulate(tiny(tree, strategies=("entropy",), repeats=1), out)
    split = json.loads((out / "state/repeat_0/split.json").read_text())
    state = json.loads((out / "state/entropy/repeat_0/state.json").read_text())
    assert state["round"] == 2 and state["labelled"][:3] == split["init"]
    assert len(set(state["labelled"])) == 3 + 2 * 2
    assert not set(state["labelled"]) & set(split["test"])
    assert (out / state["checkpoint"]).is_file()
    assert len(list((out / "state/entropy/repeat_0").glob("round_*.safetensors"))) == 1


def test_evaluation_matches_an_independent_dice(tree: Path, tmp_path: Path) -> None:
    """Recompute round 0's liver Dice from its checkpoint with plain torch and numpy."""
    import json

    from alges_napari.core.data.frames import open_frames
    from alges_napari.core.learn.train import make_samples

    out = tmp_path / "exp"
    simulate(tiny(tree, strategies=("random",), repeats=1, rounds=0), out)
    split = json.loads((out / "state/repeat_0/split.json").read_text())
    model, spec, _ = load_checkpoint(out / "state/repeat_0/round_0000.safetensors")
    source = open_frames(tree)
    data = make_samples([(source.frame(k), source.truth(k)) for k in split["test"]], (64, 64))
    x = data.images.float() / 255
    x = (x - torch.tensor(spec.mean).view(1, 3, 1, 1)) / torch.tensor(spec.std).view(1, 3, 1, 1)
    with torch.no_grad():
        pred = model.eval()(x).argmax(1).numpy()
    truth = data.masks.numpy()
    keep = truth != 255
    row = read_rows(out)[0]
    dice = {}
    for c in range(13):
        inter = np.sum((pred == c) & (truth == c) & keep)
        size = np.sum((pred == c) & keep) + np.sum((truth == c) & keep)
        dice[c] = 2 * inter / size if size else math.nan
        if math.isnan(dice[c]):
            assert row[f"dice_{c}"] == ""
        else:
            assert float(row[f"dice_{c}"]) == pytest.approx(dice[c], abs=1e-5)
    # the primary figure: every foreground class present in the test truth, equally weighted
    present = [c for c in range(1, 13) if np.any((truth == c) & keep)]
    assert present and float(row["mean_dice"]) == pytest.approx(
        np.mean([dice[c] for c in present]), abs=1e-5
    )


def test_stop_then_resume_gives_the_uninterrupted_rows(tree: Path, tmp_path: Path) -> None:
    config = tiny(tree, repeats=1)
    whole = tmp_path / "whole"
    simulate(config, whole)

    out, stop = tmp_path / "resumed", StopFlag()

    def stop_after_round_1(p: dict) -> None:
        if p.stage == "step" and p.round == 1 and p.row:
            stop.request()  # stop while the next step is about to start

    result = run_to_end(iter_simulate(config, out, stop=stop), stop_after_round_1)
    assert result.stopped
    assert len(read_rows(out)) == 3  # round 0 for both strategies + round 1 of the first
    again = simulate(config, out)
    assert not again.stopped and again.rows_written == 3 and again.rows_skipped == 1

    def strip(rows):
        return sorted(tuple((k, v) for k, v in r.items() if k not in TIMING) for r in rows)

    assert strip(read_rows(out)) == strip(read_rows(whole))


def test_restart_repairs_a_torn_results_file(tree: Path, tmp_path: Path) -> None:
    config = tiny(tree, strategies=("random",), repeats=1, rounds=1)
    out = tmp_path / "exp"
    simulate(config, out)
    lines = (out / "results.csv").read_text().splitlines(keepends=True)
    # killed after the state file but while writing the last row: a partial line remains
    (out / "results.csv").write_text("".join(lines[:-1]) + lines[-1][:7])
    result = simulate(config, out)
    assert result.rows_written == 0 and result.rows_skipped == 1
    assert (out / "results.csv").read_text().splitlines(keepends=True) == lines


def test_restart_with_other_settings_is_refused(tree: Path, tmp_path: Path) -> None:
    out = tmp_path / "exp"
    simulate(tiny(tree, strategies=("random",), repeats=1, rounds=0), out)
    with pytest.raises(AlgesError, match="epochs: 1 -> 2"):
        simulate(tiny(tree, strategies=("random",), repeats=1, rounds=0, epochs=2), out)
    # growing the experiment is allowed: one more strategy reuses the shared round 0
    grown = simulate(tiny(tree, strategies=("random", "coreset"), repeats=1, rounds=1), out)
    assert grown.rows_written == 3  # coreset round 0 (copied), random round 1, coreset round 1


def test_a_run_rejected_before_its_first_step_writes_nothing(tree: Path, tmp_path: Path) -> None:
    out = tmp_path / "exp"
    with pytest.raises(AlgesError, match="init \\+ rounds \\* query"):
        simulate(tiny(tree, init=30), out)
    assert not out.exists()
    result = simulate(tiny(tree, strategies=("random",), repeats=1, rounds=0), out)
    assert result.rows_written == 1


def test_a_folder_without_a_finished_step_takes_new_settings(tree: Path, tmp_path: Path) -> None:
    from alges_napari.core.experiment.store import ExperimentStore

    out = tmp_path / "exp"
    # What a run that failed in its first training (or an older version's rejected run) left.
    store = ExperimentStore(out, ["strategy", "repeat", "round"])
    store.open(tiny(tree, epochs=7).to_json())
    store.save_split(0, {"test": ["x"], "init": ["y"]})
    assert (out / "config.json").exists() and (out / "state/repeat_0/split.json").exists()
    result = simulate(tiny(tree, strategies=("random",), repeats=1, rounds=0), out)
    assert result.rows_written == 1
    assert json.loads((out / "config.json").read_text())["train"]["epochs"] == 1


def test_data_without_ground_truth_is_refused(tmp_path: Path) -> None:
    import imageio.v3 as iio

    folder = tmp_path / "frames"
    folder.mkdir()
    for i in range(3):
        iio.imwrite(folder / f"f{i}.png", np.zeros((32, 32, 3), np.uint8))
    with pytest.raises(AlgesError, match="ground.truth"):
        simulate(tiny(folder), tmp_path / "exp")


def test_correction_effort_and_full_pool_rows(tree: Path, tmp_path: Path) -> None:
    """corrected_px of a round equals an independent count from the previous model's predictions."""
    import json

    out = tmp_path / "exp"
    config = tiny(tree, strategies=("entropy",), repeats=1, rounds=1, full_pool=True)
    result = simulate(config, out)
    assert result.rows_written == 3
    rows = {(r["strategy"], r["round"]): r for r in read_rows(out)}
    split = json.loads((out / "state/repeat_0/split.json").read_text())
    state = json.loads((out / "state/entropy/repeat_0/state.json").read_text())
    runner_truth = _resized_truth(tree, (64, 64))

    r0, r1 = rows[("entropy", "0")], rows[("entropy", "1")]
    painted = sum(int((runner_truth[k] != 255).sum()) for k in split["init"])
    assert int(r0["corrected_px"]) == int(r0["corrected_px_total"]) == painted
    assert int(r0["corrected_regions"]) >= 3  # at least one region per initial frame

    model, spec, _ = load_checkpoint(out / "state/repeat_0/round_0000.safetensors")
    picked = state["labelled"][3:]
    wrong = 0
    for key in picked:
        pred = _predict(model, spec, _resized_frame(tree, key, (64, 64)))
        truth = runner_truth[key]
        wrong += int(((pred != truth) & (truth != 255)).sum())
    assert int(r1["corrected_px"]) == wrong
    assert int(r1["corrected_px_total"]) == painted + wrong
    assert int(r1["corrected_regions_total"]) == int(r0["corrected_regions"]) + int(
        r1["corrected_regions"]
    )

    full = rows[("full-pool", "0")]
    assert int(full["n_labelled"]) == len(runner_truth) - len(split["test"])
    assert 0 <= float(full["mean_dice"]) <= 1


def test_simulate_and_a_session_pick_the_same_frames(tree: Path, tmp_path: Path) -> None:
    """One acquisition step: the same model, pool and seed give the same picks in both."""
    import json
    import shutil

    from alges_napari.core.acquire.strategies import get_strategy
    from alges_napari.core.project.project import Project
    from alges_napari.core.session import ActiveLearningSession, RoundConfig

    out = tmp_path / "exp"
    simulate(tiny(tree, strategies=("alges-seg",), repeats=1, rounds=1), out)
    split = json.loads((out / "state/repeat_0/split.json").read_text())
    state = json.loads((out / "state/alges-seg/repeat_0/state.json").read_text())
    truth = _resized_truth(tree, (64, 64))

    # A project whose pool is the simulation's: the initial frames labelled, the test frames
    # skipped, and the simulation's round-0 model as its latest checkpoint.
    root = tmp_path / "project"
    project = Project.create(root, tree, input_size=(64, 64))
    for key in split["init"]:
        project.accept_label(key, truth[key])
    for key in split["test"]:
        project.skip(key)
    project.close()
    for suffix in (".safetensors", ".json"):
        shutil.copy(
            out / f"state/repeat_0/round_0000{suffix}", root / f"models/round_0001{suffix}"
        )
    project = Project.open(root)
    try:
        session = ActiveLearningSession(project, device="cpu")
        # simulate seeds round t of repeat r with (seed + r) * 1000 + t; rank adds round 0
        cfg = RoundConfig(strategy=get_strategy("alges-seg"), query_size=2, seed=1)
        ranked = run_to_end(session.rank(cfg))
        assert [e.key for e in ranked.queue] == state["labelled"][3:]
    finally:
        project.close()


def _resized_truth(tree: Path, size: tuple[int, int]) -> dict[str, np.ndarray]:
    from alges_napari.core.data.frames import open_frames
    from alges_napari.core.learn.train import make_samples

    source = open_frames(tree)
    out = {}
    for i, key in enumerate(source.keys):
        out[key] = make_samples([(source[i], source.ground_truth(i))], size).masks[0].numpy()
    return out


def _resized_frame(tree: Path, key: str, size: tuple[int, int]) -> np.ndarray:
    from alges_napari.core.data.frames import open_frames
    from alges_napari.core.learn.train import make_samples

    source = open_frames(tree)
    return make_samples([(source.frame(key), source.truth(key))], size).images[0]


def _predict(model, spec, image: torch.Tensor) -> np.ndarray:
    x = image[None].float() / 255
    x = (x - torch.tensor(spec.mean).view(1, 3, 1, 1)) / torch.tensor(spec.std).view(1, 3, 1, 1)
    with torch.no_grad():
        return model.eval()(x).argmax(1)[0].numpy()


# ---------------------------------------------------------------- a fixed test set


@pytest.fixture(scope="module")
def test_tree(tmp_path_factory) -> Path:
    """Another synthetic tree (other seed, same frame names): the fixed test set."""
    from alges_napari.core.data.synthetic import write_cholecseg8k_tree

    root = tmp_path_factory.mktemp("test_tree")
    return write_cholecseg8k_tree(root, n_clips=2, frames_per_clip=3, size=(64, 64), seed=11)


def test_test_data_evaluates_every_model_on_the_fixed_set(tree, test_tree, tmp_path) -> None:
    from alges_napari.core.data.frames import open_frames
    from alges_napari.core.learn.train import make_samples

    out = tmp_path / "exp"
    config = tiny(tree, strategies=("random",), repeats=1, rounds=1, test_data=str(test_tree))
    simulate(config, out)
    test_source = open_frames(test_tree)
    split = json.loads((out / "state/repeat_0/split.json").read_text())
    assert split["test"] == list(test_source.keys)  # the whole fixed set, nothing held out
    rows = read_rows(out)
    assert [int(r["n_test"]) for r in rows] == [6, 6]
    state = json.loads((out / "state/random/repeat_0/state.json").read_text())
    pool_keys = set(open_frames(tree).keys)
    assert set(state["labelled"]) <= pool_keys and len(state["labelled"]) == 3 + 2
    # every pool frame is pool: none is held out although the test set shares frame names
    assert set(test_source.keys) & pool_keys
    # round 0's mean Dice recomputed on the *test tree's* frames from the stored checkpoint
    model, spec, _ = load_checkpoint(out / "state/repeat_0/round_0000.safetensors")
    data = make_samples(
        [(test_source[i], test_source.ground_truth(i)) for i in range(len(test_source))], (64, 64)
    )
    x = data.images.float() / 255
    x = (x - torch.tensor(spec.mean).view(1, 3, 1, 1)) / torch.tensor(spec.std).view(1, 3, 1, 1)
    with torch.no_grad():
        pred = model.eval()(x).argmax(1).numpy()
    truth, dice = data.masks.numpy(), []
    for c in range(1, 13):
        if np.any(truth == c):
            inter = np.sum((pred == c) & (truth == c))
            dice.append(2 * inter / (np.sum(pred == c) + np.sum(truth == c)))
    assert float(rows[0]["mean_dice"]) == pytest.approx(np.mean(dice), abs=1e-5)
    assert json.loads((out / "config.json").read_text())["test_data"] == str(test_tree.resolve())


def test_test_data_with_other_classes_is_refused_before_any_work(tree, tmp_path) -> None:
    from PIL import Image

    other = tmp_path / "paired"
    (other / "images").mkdir(parents=True)
    (other / "masks").mkdir()
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(other / "images" / "a.png")
    Image.fromarray(np.zeros((64, 64), np.uint8)).save(other / "masks" / "a.png")
    (other / "classes.txt").write_text("0 background\n1 tool\n")
    out = tmp_path / "exp"
    with pytest.raises(AlgesError, match="both must use one class schema"):
        simulate(tiny(tree, test_data=str(other)), out)
    assert not out.exists()


def test_runs_made_before_test_data_still_resume(tree, tmp_path) -> None:
    config = tiny(tree)
    assert "test_data" not in config.to_json()  # old config.json files compare equal


def test_warm_rounds_train_warm_steps_and_first_models_the_full_schedule(
    tree, tmp_path, monkeypatch
) -> None:
    from alges_napari.core.learn import holder as holder_module

    seen = []
    real = holder_module.iter_train

    def recording(model, data, config, *args, **kw):
        seen.append((len(data), config.epochs, config.min_steps, config.weight_decay))
        return (yield from real(model, data, config, *args, **kw))

    monkeypatch.setattr(holder_module, "iter_train", recording)
    config = tiny(
        tree,
        strategies=("random",),
        repeats=1,
        rounds=2,
        epochs=2,
        min_steps=5,
        warm_start=True,
        warm_steps=3,
        weight_decay=1e-4,
    )
    simulate(config, tmp_path / "exp")
    # round 0 from scratch (2 epochs, floor 5), rounds 1 and 2 warm (1 epoch, floor 3)
    assert seen == [(3, 2, 5, 1e-4), (5, 1, 3, 1e-4), (7, 1, 3, 1e-4)]
    saved = json.loads((tmp_path / "exp" / "config.json").read_text())
    assert saved["warm_steps"] == 3 and saved["train"]["weight_decay"] == 1e-4
    assert "warm_steps" not in tiny(tree).to_json()  # defaults keep older runs resumable
    with pytest.raises(AlgesError, match="warm_steps"):
        tiny(tree, warm_steps=-1)


def test_keep_models_keeps_every_round_model_of_a_strategy_and_changes_no_row(
    tree: Path, tmp_path: Path
) -> None:
    import csv
    import json

    from alges_napari.core.learn.model import load_checkpoint

    config = tiny(tree, repeats=1)
    plain = simulate(config, tmp_path / "plain")
    kept = simulate(config, tmp_path / "kept", keep_models=["Random"])  # any spelling
    assert kept.rows_written == plain.rows_written
    def rows(out: Path) -> list[dict[str, str]]:  # results.csv without its timings
        with open(out / "results.csv", newline="") as fh:
            return [
                {c: v for c, v in r.items() if c not in ("train_s", "select_s")}
                for r in csv.DictReader(fh)
            ]

    assert rows(tmp_path / "kept") == rows(tmp_path / "plain")
    rand, seg = tmp_path / "kept/state/random/repeat_0", tmp_path / "kept/state/alges-seg/repeat_0"
    assert sorted(p.name for p in rand.glob("round_*.safetensors")) == [
        "round_0001.safetensors", "round_0002.safetensors",
    ]  # fmt: skip
    assert len(list(seg.glob("round_*.safetensors"))) == 1  # only the latest, as before
    # The round-1 model is the one that picked round 2's frames: the state says which.
    state = json.loads((rand / "state.json").read_text())
    n1 = next(r["n_labelled"] for r in state["rows"] if r["round"] == 1)
    assert len(state["labelled"][n1:]) == 2
    model, _, _ = load_checkpoint(rand / "round_0001.safetensors", device="cpu")
    assert sum(p.numel() for p in model.parameters()) > 0


def test_keep_models_refuses_a_strategy_the_experiment_does_not_run(
    tree: Path, tmp_path: Path
) -> None:
    from alges_napari.core.errors import AlgesError

    for name in ("coreset", "no-such-strategy"):
        with pytest.raises(AlgesError, match=f"keep_models: '{name}' is not a strategy"):
            simulate(tiny(tree, repeats=1), tmp_path / "exp", keep_models=[name])
    assert not (tmp_path / "exp").exists()  # refused before anything is written
