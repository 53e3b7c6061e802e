"""ActiveLearningSession: a round trains, scores, selects and persists; stop and warm start work."""

from __future__ import annotations

import math
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from alges_napari.core.acquire.strategies import get_strategy
from alges_napari.core.errors import AlgesError, CheckpointError
from alges_napari.core.progress import StopFlag, run_to_end
from alges_napari.core.project.project import Project
from alges_napari.core.session import ActiveLearningSession, RoundConfig

SIZE = (48, 64)


pytestmark = [
    pytest.mark.tree(n_clips=2, frames_per_clip=8, size=SIZE, seed=3),
    # No step floor nor early stopping (the cpu preset's): these tests are about the round.
    pytest.mark.project(
        frames="tree",
        labels=(0, 5, 9, 14),  # training labels from ground truth
        input_size=(64, 64),
        epochs=1,
        batch_size=4,
        min_steps=0,
        patience=0,
    ),
]


def add_validation(project: Project, indices: tuple[int, ...] = (3, 12)) -> list[str]:
    keys = [project.keys[i] for i in indices]
    for i, key in zip(indices, keys, strict=True):
        project.accept_label(key, project.frames.ground_truth(i))
        project.set_validation(key)
    return keys


def independent_dice(
    preds: list[np.ndarray], targets: list[np.ndarray], num_classes: int
) -> np.ndarray:
    """Dataset-level Dice per class over labelled pixels; NaN where a class is in neither."""
    out = np.full(num_classes, np.nan)
    for c in range(num_classes):
        inter = size = 0
        for p, t in zip(preds, targets, strict=True):
            valid = t != 255
            pc, tc = (p == c) & valid, (t == c) & valid
            inter += int((pc & tc).sum())
            size += int(pc.sum() + tc.sum())
        if size:
            out[c] = 2 * inter / size
    return out


def test_round_trains_scores_selects_and_persists(project: Project) -> None:
    val_keys = add_validation(project)
    session = ActiveLearningSession(project, device="cpu")
    stages = []
    result = run_to_end(
        session.run_round(RoundConfig(strategy=get_strategy("alges-seg"), query_size=3, seed=1)),
        lambda p: stages.append(p.stage),
    )
    assert not result.stopped and result.round == 1
    assert {"train", "score", "select", "save"} <= set(stages)
    assert set(result.timings) >= {"train", "score", "select", "save"}

    # The queue: 3 distinct frames from the pool, persisted.
    queue = [e.key for e in result.queue]
    assert len(set(queue)) == 3 and all(project.status(k) == "unlabelled" for k in queue)
    assert [e.key for e in project.queue] == queue
    # Every row holds its frame's gradient mass and the k-means++ D^2 when it was picked (the
    # first pick's to the pool's mean embedding), persisted with the queue.
    assert all(e.score is not None and e.score >= 0 for e in result.queue)
    assert all(e.pick_value is not None and e.pick_value >= 0 for e in result.queue)
    assert all(e.strategy == "alges-seg" and e.measure == "gradient mass" for e in result.queue)
    assert project.queue == result.queue

    # The checkpoint is on disk and the history records it with the validation Dice.
    assert project.latest_checkpoint() == project.checkpoint_path(1)
    record = project.rounds[-1]
    assert record.round == 1 and record.checkpoint == "models/round_0001.safetensors"
    assert record.n_labelled == 4 and record.n_validation == 2

    # Validation Dice equals an independent computation from the session's own predictions.
    preds = [session.predict(k) for k in val_keys]
    targets = [project.load_label(k) for k in val_keys]
    expected = independent_dice(preds, targets, project.schema.num_classes)
    np.testing.assert_allclose(result.val_dice, expected, rtol=1e-6, atol=1e-6)
    scored = expected[list(project.schema.scored_classes)]
    assert result.mean_dice == pytest.approx(float(np.nanmean(scored)))
    assert record.mean_dice == pytest.approx(result.mean_dice, abs=1e-6)

    # The scoring pass filled the cache for every pool frame, and it matches the model.
    pool = project.unlabelled_keys()
    for key in pool:
        assert project.heat_map(key) is not None
    np.testing.assert_array_equal(project.prediction(pool[0]), session.predict(pool[0]))
    assert project.prediction(val_keys[0]) is None  # validation frames are not in the pool


def test_the_default_round_asks_for_random_frames_and_still_predicts_the_pool(
    project: Project,
) -> None:
    # The experiment found no strategy better than random (README), so random is the default;
    # the surgeon still corrects predictions, so every pool frame gets one and its heat map.
    assert RoundConfig().strategy is get_strategy("random")
    result = run_to_end(ActiveLearningSession(project, "cpu").run_round(RoundConfig(query_size=2)))
    # The draw uses no score; the pass computed the gradient mass for the heat maps anyway.
    assert all(e.strategy == "random" and e.measure == "gradient mass" for e in result.queue)
    pool = project.unlabelled_keys()
    assert all(project.prediction(k) is not None and project.heat_map(k) is not None for k in pool)
    assert {e.key for e in result.queue} <= set(pool)


def test_no_validation_frames_gives_nan_not_a_number(project: Project) -> None:
    result = run_to_end(ActiveLearningSession(project, "cpu").run_round(RoundConfig(query_size=2)))
    assert np.isnan(result.val_dice).all() and math.isnan(result.mean_dice)
    assert "no labelled validation" in result.message
    record = project.rounds[-1]
    assert record.mean_dice is None and all(v is None for v in record.val_dice)
    # The round's quality figure then is the Dice on its own training labels (all 4 here).
    session = ActiveLearningSession(project, "cpu")
    keys = project.labelled_keys()
    preds = [session.predict(k) for k in keys]
    expected = independent_dice(preds, [project.load_label(k) for k in keys], 13)
    scored = expected[list(project.schema.scored_classes)]
    assert record.train_dice == pytest.approx(float(np.nanmean(scored)), abs=1e-6)
    assert result.train_dice == pytest.approx(record.train_dice, abs=1e-6)
    assert record.steps == 1 and record.epochs == 1  # 4 labels, batch 4, 1 epoch


def test_the_step_floor_and_early_stopping_on_validation_frames(project: Project) -> None:
    # The settings the session reads each round (in memory only: the test changes no file).
    project.config["train"].update(min_steps=5, max_steps=40, patience=2, eval_every=2)
    session = ActiveLearningSession(project, "cpu")
    # Without validation frames: exactly the floor (4 labels, batch 4: 1 step an epoch).
    run_to_end(session.run_round(RoundConfig(query_size=2, warm_start=False)))
    record = project.rounds[-1]
    assert (record.steps, record.epochs, record.best_step) == (5, 5, None)
    # With validation frames their loss decides: past the floor, at most max_steps, the
    # best evaluation's step kept; the figure is then the validation Dice.
    add_validation(project)
    result = run_to_end(session.run_round(RoundConfig(query_size=2, warm_start=False)))
    record = project.rounds[-1]
    assert 5 <= record.steps <= 40 and record.best_step is not None
    assert record.best_step <= record.steps and record.best_step % 2 == 0
    losses = [h["held_out_loss"] for h in result.train.history if "held_out_loss" in h]
    best = min(range(len(losses)), key=losses.__getitem__)
    assert record.best_step == 2 * (best + 1)  # evaluated every 2 steps (1-step epochs)
    if record.steps < 40:  # stopped early: the last 2 evaluations did not improve
        assert result.train.early_stopped and len(losses) - 1 - best == 2
    assert record.mean_dice is not None and record.train_dice is None


def test_stop_during_training_keeps_previous_state(project: Project) -> None:
    session = ActiveLearningSession(project, "cpu")
    run_to_end(session.run_round(RoundConfig(query_size=2)))
    queue, rounds = project.queue, project.rounds
    ckpt_bytes = project.checkpoint_path(1).read_bytes()
    stop = StopFlag()
    gen = session.run_round(RoundConfig(query_size=2, epochs=20), stop=stop)
    assert next(gen).stage == "train"
    stop.request()
    result = run_to_end(gen)
    assert result.stopped and "previous checkpoint" in result.message
    assert project.queue == queue and project.rounds == rounds
    assert project.latest_checkpoint() == project.checkpoint_path(1)
    assert project.checkpoint_path(1).read_bytes() == ckpt_bytes
    # The session's model is the last good checkpoint again, not the half-trained one.
    from alges_napari.core.learn.model import load_checkpoint

    saved, _, _ = load_checkpoint(project.checkpoint_path(1))
    for a, b in zip(saved.state_dict().values(), session.model.state_dict().values(), strict=True):
        assert torch.equal(a, b.cpu())


def test_warm_start_continues_from_last_checkpoint(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    from alges_napari.core.learn import holder as holder_mod
    from alges_napari.core.learn.model import load_checkpoint

    session = ActiveLearningSession(project, "cpu")
    run_to_end(session.run_round(RoundConfig(query_size=2)))
    first, _, _ = load_checkpoint(project.checkpoint_path(1))
    starts = []
    real = holder_mod.iter_train

    def spy(model, *args, **kw):  # type: ignore[no-untyped-def]
        starts.append({k: v.detach().clone() for k, v in model.state_dict().items()})
        return real(model, *args, **kw)

    monkeypatch.setattr(holder_mod, "iter_train", spy)
    run_to_end(session.run_round(RoundConfig(query_size=2)))  # warm (the default)
    run_to_end(session.run_round(RoundConfig(query_size=2, warm_start=False)))
    ref = first.state_dict()
    assert all(torch.equal(starts[0][k], ref[k]) for k in ref)
    assert not all(torch.equal(starts[1][k], ref[k]) for k in ref if ref[k].is_floating_point())
    assert [r.round for r in project.rounds] == [1, 2, 3]


@pytest.mark.parametrize("strategy", ["coreset", "random", "entropy"])
def test_other_strategies_and_candidates(project: Project, strategy: str) -> None:
    cfg = RoundConfig(strategy=get_strategy(strategy), query_size=3, candidates=6, seed=2)
    result = run_to_end(ActiveLearningSession(project, "cpu").run_round(cfg))
    queue = [e.key for e in result.queue]
    cached = [k for k in project.keys if project.prediction(k) is not None]
    pool_scored = [k for k in cached if project.status(k) == "unlabelled"]
    assert len(pool_scored) == 6  # only the candidate subset was scored
    assert len(set(queue)) == 3 and set(queue) <= set(pool_scored)
    scores = [e.score for e in result.queue]
    assert all(s is not None and s >= 0 for s in scores)  # random: the gradient mass it shows
    if strategy == "entropy":  # highest first
        assert scores == sorted(scores, reverse=True)
    if strategy == "coreset":  # farthest-first distances at pick time never grow
        picks = [e.pick_value for e in result.queue]
        assert picks == sorted(picks, reverse=True)
    assert project.queue == result.queue  # persisted with the queue


def test_no_labels_is_refused(tree: Path, tmp_path: Path) -> None:
    with Project.create(tmp_path / "empty", tree, input_size=(64, 64)) as proj:
        with pytest.raises(AlgesError, match="no accepted labels"):
            run_to_end(ActiveLearningSession(proj, "cpu").run_round())


def test_pickle_checkpoint_is_refused(project: Project) -> None:
    session = ActiveLearningSession(project, "cpu")
    run_to_end(session.run_round(RoundConfig(query_size=2)))
    # Someone drops a pickle (torch.save) where a checkpoint should be.
    torch.save(session.model.state_dict(), project.checkpoint_path(2))
    with pytest.raises(CheckpointError):
        _ = ActiveLearningSession(project, "cpu").model


def test_rank_rescores_with_the_latest_model_without_training(project: Project) -> None:
    session = ActiveLearningSession(project, "cpu")
    run_to_end(session.run_round(RoundConfig(query_size=2)))
    checkpoints = sorted(p.name for p in project.checkpoint_path(1).parent.iterdir())
    stages: list[dict] = []
    cfg = RoundConfig(strategy=get_strategy("entropy"), query_size=4, seed=3)
    result = run_to_end(ActiveLearningSession(project, "cpu").rank(cfg), stages.append)
    assert not result.stopped and "train" not in {p.stage for p in stages}
    assert [e.key for e in project.queue] == [e.key for e in result.queue]
    assert len(result.queue) == 4 and all(
        project.status(e.key) == "unlabelled" for e in result.queue
    )
    assert [r.round for r in project.rounds] == [1]  # ranking records no round
    assert sorted(p.name for p in project.checkpoint_path(1).parent.iterdir()) == checkpoints
    stop = StopFlag()
    stop.request()
    before = list(project.queue)
    assert run_to_end(ActiveLearningSession(project, "cpu").rank(cfg, stop)).stopped
    assert project.queue == before  # a stopped ranking leaves the queue alone


def test_rank_without_a_model_is_refused(project: Project) -> None:
    with pytest.raises(AlgesError, match="no trained model"):
        run_to_end(ActiveLearningSession(project, "cpu").rank())


def test_accepts_during_a_round_never_leave_a_stale_state_file(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The round thread and an accepting thread write state.json through one gate.

    The accepting thread's state writes land 80 ms late (a busy disk), and the round persists
    its queue and record inside such a window: without the gate the accept's older snapshot
    lands last, and the queue (or the round) is gone after a clean close.
    """
    from alges_napari.core.project import project as project_mod

    real_write = project_mod.atomic_write_json
    accepting = threading.get_ident()
    accept_writing = threading.Event()

    def late_for_the_accepting_thread(path, obj):  # type: ignore[no-untyped-def]
        if threading.get_ident() == accepting:
            accept_writing.set()
            time.sleep(0.08)
        return real_write(path, obj)

    def inside_an_accept_write(p: Any) -> None:
        # Select and persist while an accept's state write is in flight: the race, every time.
        if p.stage == "select" and p.done == 0:
            accept_writing.clear()
            accept_writing.wait(timeout=5)

    monkeypatch.setattr(project_mod, "atomic_write_json", late_for_the_accepting_thread)
    failures: list[BaseException] = []

    def round_thread() -> None:
        session = ActiveLearningSession(project, "cpu")
        try:
            run_to_end(session.run_round(RoundConfig(query_size=3)), inside_an_accept_write)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            failures.append(exc)

    worker = threading.Thread(target=round_thread)
    worker.start()
    pool = [1, 2, 6, 10, 13]  # frames outside the fixture's training labels
    accepts = 0
    while worker.is_alive():
        i = pool[accepts % len(pool)]
        project.accept_label(project.keys[i], project.frames.ground_truth(i), seconds=1.0)
        accepts += 1
    worker.join()
    assert failures == [] and accepts >= 2

    def snapshot(p: Project) -> tuple:
        statuses = {k: (p.status(k), p.annotation_seconds(k)) for k in p.keys}
        return p.rounds, p.queue, statuses

    in_memory = snapshot(project)
    assert len(in_memory[0]) == 1 and len(in_memory[1]) == 3
    project.close()
    with Project.open(project.root) as again:
        assert again.recovery is None
        assert snapshot(again) == in_memory
