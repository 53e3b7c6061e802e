"""The queue means what it shows (issue 25): pick order, each frame's informativeness under the
strategy's measure, and the strategy's value at pick time, checked against independent sums."""

from __future__ import annotations

import math

import numpy as np
import pytest

from alges_napari.core.acquire.queue import QueueEntry, describe, initial_queue
from alges_napari.core.acquire.scores import HEAT, MEASURES, ScoreResult, informativeness
from alges_napari.core.acquire.step import Selection, iter_acquire, rank_queue
from alges_napari.core.acquire.strategies import REGISTRY, get_strategy
from alges_napari.core.progress import Progress, run_to_end

N, C, F = 24, 4, 6
KEYS = [f"video01/video01_00080/frame_{80 + i}_endo.png" for i in range(N)]


@pytest.fixture(scope="module")
def scores() -> ScoreResult:
    rng = np.random.default_rng(11)
    dw = rng.standard_normal((N, C, 3))  # per-frame last-layer gradients, as the pass has them
    return ScoreResult(
        n=N,
        emb_img=np.linalg.norm(dw, axis=2),
        emb_seg=rng.random((N, C)) * 1e4,
        badge=dw.reshape(N, -1),
        entropy=rng.random(N),
        margin=rng.random(N),
        least_confidence=rng.random(N),
        features=rng.standard_normal((N, F)),
        keys=list(KEYS),
    )


LABELLED = np.random.default_rng(12).standard_normal((3, F))


def expected_informativeness(s: ScoreResult, name: str) -> list[float]:
    """Each measure written out frame by frame, with plain Python sums."""
    rows = range(s.n)
    if name in ("alges-seg", "alges-seg-video", "alges-seg-balanced", "random"):
        return [math.fsum(s.emb_seg[i]) for i in rows]
    if name == "alges-img":
        return [math.sqrt(math.fsum(v * v for v in s.emb_img[i])) for i in rows]
    if name == "badge":
        return [math.sqrt(math.fsum(v * v for v in s.badge[i])) for i in rows]
    if name == "entropy":
        return [float(s.entropy[i]) for i in rows]
    if name == "margins":
        return [1.0 - float(s.margin[i]) for i in rows]
    if name == "least-confidence":
        return [float(s.least_confidence[i]) for i in rows]
    if name == "coreset":
        return [min(math.dist(s.features[i], lab) for lab in LABELLED) for i in rows]
    raise AssertionError(name)


RANKED = [n for n in REGISTRY if n != "spread"]


@pytest.mark.parametrize("name", RANKED)
def test_each_entry_holds_its_frames_informativeness_and_share_of_the_pools_best(
    scores: ScoreResult, name: str
) -> None:
    labelled = LABELLED if name == "coreset" else None
    queue = rank_queue(get_strategy(name), scores, KEYS, 6, seed=3, labelled_features=labelled)
    expected = expected_informativeness(scores, name)
    best = max(expected)
    assert [e.rank for e in queue] == list(range(6))  # pick order
    assert len({e.key for e in queue}) == 6
    for e in queue:
        i = KEYS.index(e.key)
        assert e.strategy == name and e.measure == get_strategy(name).measure
        assert e.score == pytest.approx(expected[i], rel=1e-12)
        assert e.relative == pytest.approx(100 * expected[i] / best, rel=1e-12)
    # The queue's first pick is the strategy's: the same frames as its own selection.
    idx = get_strategy(name).select(scores, 6, seed=3, labelled_features=labelled)
    assert [e.key for e in queue] == [KEYS[int(i)] for i in idx]


@pytest.mark.parametrize("name", ["entropy", "margins", "least-confidence"])
def test_sorting_strategies_read_most_informative_first(scores: ScoreResult, name: str) -> None:
    queue = rank_queue(get_strategy(name), scores, KEYS, 8, seed=0)
    shown = [e.score for e in queue]
    assert shown == sorted(shown, reverse=True)
    assert queue[0].relative == 100.0 and all(e.pick_value is None for e in queue)
    expected = sorted(expected_informativeness(scores, name), reverse=True)[:8]
    assert shown == pytest.approx(expected, rel=1e-12)


def test_alges_pick_values_are_k_means_plus_plus_d2_at_pick_time(scores: ScoreResult) -> None:
    queue = rank_queue(get_strategy("alges-seg"), scores, KEYS, 5, seed=4)
    emb = scores.emb_seg
    picked: list[np.ndarray] = []
    for e in queue:
        x = emb[KEYS.index(e.key)]
        centres = picked or [emb.mean(axis=0)]  # before any pick: the pool's mean
        expected = min(math.fsum((x - c) ** 2) for c in centres)
        assert e.pick_value == pytest.approx(expected, rel=1e-9)
        picked.append(x)


def test_coreset_pick_values_are_distances_at_pick_time_and_never_grow(scores) -> None:
    queue = rank_queue(get_strategy("coreset"), scores, KEYS, 6, seed=0, labelled_features=LABELLED)
    feats = scores.features
    centres = list(LABELLED)
    for e in queue:
        x = feats[KEYS.index(e.key)]
        assert e.pick_value == pytest.approx(min(math.dist(x, c) for c in centres), rel=1e-9)
        centres.append(x)
    values = [e.pick_value for e in queue]
    assert values == sorted(values, reverse=True)
    # Without a labelled set there is no feature distance to show, only the pick-time value.
    bare = rank_queue(get_strategy("coreset"), scores, KEYS, 3, seed=0)
    assert all(e.score is None and e.measure is None and e.pick_value for e in bare)


def test_gradient_norm_is_the_same_from_alges_img_and_badge() -> None:
    """Both embeddings hold the last-layer gradient dW: ||(||dW_c||)_c|| = ||vec dW||."""
    rng = np.random.default_rng(5)
    dw = rng.standard_normal((7, C, 9))
    s = ScoreResult(n=7, emb_img=np.linalg.norm(dw, axis=2), badge=dw.reshape(7, -1))
    img = informativeness(s, "gradient norm")
    s.emb_img = None
    badge = informativeness(s, "gradient norm")
    np.testing.assert_allclose(img, badge, rtol=1e-12)
    np.testing.assert_allclose(badge, [np.sqrt((dw[i] ** 2).sum()) for i in range(7)], rtol=1e-12)


def test_random_shows_gradient_mass_only_when_the_pass_computed_it(scores) -> None:
    queue = rank_queue(get_strategy("random"), scores, KEYS, 4, seed=9)
    assert all(e.measure == "gradient mass" and e.score is not None for e in queue)
    bare = rank_queue(get_strategy("random"), ScoreResult(n=N), KEYS, 4, seed=9)
    assert [e.key for e in bare] == [e.key for e in queue]  # the draw does not use the scores
    assert all(e.score is None and e.measure is None and e.relative is None for e in bare)
    text, tip = describe(bare[1])
    assert text == "random" and tip.startswith("random pick #2:")
    text, tip = describe(queue[1])
    assert text == f"{queue[1].relative:.0f}" and "did not use it" in tip


class RecordingSink:
    def __init__(self) -> None:
        self.queue: list[QueueEntry] = []

    def clear_cache(self) -> None:
        pass

    def write_cache(self, key, prediction, heat) -> None:
        pass

    def set_queue(self, entries) -> None:
        self.queue = list(entries)


def test_the_step_asks_the_pass_for_randoms_measure_only_when_it_predicts_anyway() -> None:
    asked: list[frozenset[str]] = []
    rng = np.random.default_rng(2)

    def scorer(keys, want, on_frame, stop):
        asked.append(want)
        yield Progress("score", len(keys), len(keys))
        return ScoreResult(n=len(keys), emb_seg=rng.random((len(keys), C)))

    pool = KEYS[:10]
    sink = RecordingSink()
    random, three = get_strategy("random"), Selection(query_size=3, seed=0)
    got = run_to_end(iter_acquire(scorer, random, pool, three, sink=sink))
    assert asked == [frozenset({"emb_seg", HEAT})]  # a sink keeps heat maps unless it says not
    assert sink.queue == got.queue and all(e.measure == "gradient mass" for e in got.queue)
    sink.keeps_heat = False  # the simulator's sink: no heat map asked for
    run_to_end(iter_acquire(scorer, random, pool, three, sink=sink))
    assert asked[1] == frozenset({"emb_seg"})
    got = run_to_end(iter_acquire(scorer, random, pool, three))
    assert len(asked) == 2  # no sink: random runs no pass at all
    assert all(e.score is None and e.strategy == "random" for e in got.queue)


def test_the_first_queue_is_a_spread_and_says_so() -> None:
    queue = initial_queue(KEYS, 4)
    assert [e.rank for e in queue] == [0, 1, 2, 3]
    assert all(e.strategy == "spread" and e.score is None for e in queue)
    text, tip = describe(queue[2])
    assert text == "spread" and tip.startswith("spread pick #3:") and "evenly" in tip


def test_describe_names_the_measure_the_raw_value_and_the_pick_time_value(scores) -> None:
    e = rank_queue(get_strategy("alges-seg"), scores, KEYS, 3, seed=1)[1]
    text, tip = describe(e)
    assert text == f"{e.relative:.0f}"
    lines = tip.split("\n")
    assert (
        lines[0] == "alges-seg pick #2: picked to cover the pool, so not sorted by informativeness"
    )
    assert lines[1] == (
        f"gradient mass {e.score:,.6g} ({e.relative:.0f}% of the most informative): "
        + MEASURES["gradient mass"]
    )
    assert lines[2].startswith(f"when picked: {e.pick_value:,.6g}, k-means++ D^2")
    old = QueueEntry(KEYS[0], 0, 12.5)  # a queue of an older version: its score was D^2
    assert describe(old)[0] == "-" and "older version" in describe(old)[1]


def test_entries_round_trip_through_json_and_older_entries_read() -> None:
    e = QueueEntry("a", 2, 0.5, "entropy", "entropy", 50.0, None)
    assert QueueEntry.from_json(e.to_json()) == e
    assert e.to_json() == {
        "key": "a",
        "rank": 2,
        "score": 0.5,
        "strategy": "entropy",
        "measure": "entropy",
        "relative": 50.0,
        "pick_value": None,
    }
    assert QueueEntry.from_json({"key": "b", "rank": 0, "score": 3.0}) == QueueEntry("b", 0, 3.0)


def test_a_project_keeps_what_the_queue_means(tmp_path, scores) -> None:
    import imageio.v3 as iio

    from alges_napari.core.project.project import Project

    frames = tmp_path / "frames"
    frames.mkdir()
    for i in range(6):
        iio.imwrite(frames / f"frame_{i}.png", np.full((32, 32, 3), i * 20, np.uint8))
    with Project.create(tmp_path / "p", frames) as project:
        sub = scores.subset(np.arange(6))
        queue = rank_queue(get_strategy("alges-seg"), sub, project.keys, 3, seed=0)
        project.set_queue(queue)
    with Project.open(tmp_path / "p", readonly=True) as again:
        assert again.queue == queue
