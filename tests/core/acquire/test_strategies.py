"""Selection strategies on constructed pools whose right answer is known."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from sklearn.cluster import kmeans_plusplus

from alges_napari.core.acquire import centres
from alges_napari.core.acquire import strategies as sel
from alges_napari.core.acquire.scores import SCORE_FIELDS, ScoreResult
from alges_napari.core.acquire.strategies import (
    SelectionWarning,
    available_strategies,
    get_strategy,
    k_center_greedy,
    kmeans_pp_centres,
    select,
)
from alges_napari.core.errors import AlgesError

ALL = [
    "alges-img",
    "alges-seg",
    "alges-seg-video",
    "alges-seg-balanced",
    "badge",
    "random",
    "entropy",
    "margins",
    "least-confidence",
    "coreset",
    "spread",
]


def full_scores(n: int, seed: int = 0) -> ScoreResult:
    """A pool with every field filled with distinct random values."""
    rng = np.random.default_rng(seed)
    return ScoreResult(
        n=n,
        emb_img=rng.random((n, 4)),
        emb_seg=rng.random((n, 4)),
        badge=rng.normal(size=(n, 12)),
        entropy=rng.random(n),
        margin=rng.random(n),
        least_confidence=rng.random(n),
        features=rng.normal(size=(n, 6)),
        keys=[f"video01/clip{i // 3}/frame_{i}_endo" for i in range(n)],
    )


def uncertainty_from_probs(probs: np.ndarray) -> ScoreResult:
    """Mean per-pixel entropy, top-2 margin and 1 - max p of (N, C, H, W) softmax maps."""
    n = probs.shape[0]
    ent = -(probs * np.log(np.clip(probs, 1e-12, None))).sum(axis=1).reshape(n, -1).mean(axis=1)
    top = np.sort(probs, axis=1)
    margin = (top[:, -1] - top[:, -2]).reshape(n, -1).mean(axis=1)
    lc = (1.0 - top[:, -1]).reshape(n, -1).mean(axis=1)
    return ScoreResult(n=n, entropy=ent, margin=margin, least_confidence=lc)


def softmax_pool() -> np.ndarray:
    """Five 3-class 4x4 frames: #3 uniform, #1 two-way tie, others confident to varying degree."""
    confid = {0: 0.95, 1: None, 2: 0.8, 3: "uniform", 4: 0.9}
    probs = np.empty((5, 3, 4, 4))
    for i, c in confid.items():
        if c == "uniform":
            probs[i] = 1.0 / 3.0
        elif c is None:  # 0.48 / 0.48 / 0.04: smallest margin, not the highest entropy
            probs[i] = np.array([0.48, 0.48, 0.04])[:, None, None]
        else:
            probs[i] = np.array([c, (1 - c) / 2, (1 - c) / 2])[:, None, None]
    return probs


# ------------------------------------------------------------------------------ registry


def test_registry_lists_every_strategy_with_valid_needs() -> None:
    assert available_strategies() == ALL
    for name in ALL:
        strategy = get_strategy(name)
        assert strategy.name == name
        assert isinstance(strategy.needs, frozenset)
        assert strategy.needs <= set(SCORE_FIELDS)
    assert get_strategy("alges-seg").needs == {"emb_seg"}
    assert get_strategy("random").needs == frozenset()
    assert get_strategy("Least_Confidence") is get_strategy("least-confidence")


def test_unknown_name_lists_valid_names_and_suggests() -> None:
    with pytest.raises(AlgesError) as err:
        get_strategy("margin")
    msg = str(err.value)
    assert "'margin'" in msg and "did you mean 'margins'" in msg
    for name in ALL:
        assert name in msg


def test_missing_field_names_it() -> None:
    with pytest.raises(AlgesError, match="needs emb_seg"):
        select("alges-seg", ScoreResult(n=3, entropy=np.ones(3)), 1)


def test_register_rejects_duplicates_and_unknown_fields() -> None:
    with pytest.raises(AlgesError, match="already registered"):
        sel.register(type("Dup", (sel.Strategy,), {"name": "entropy"}))
    with pytest.raises(AlgesError, match="unknown score fields"):
        sel.register(type("Bad", (sel.Strategy,), {"name": "new", "needs": frozenset({"x"})}))
    assert "new" not in available_strategies()


@pytest.mark.parametrize("name", ALL)
def test_every_strategy_distinct_ranked_and_deterministic(name: str) -> None:
    scores = full_scores(30)
    a = select(name, scores, 7, seed=3, labelled_features=np.zeros((2, 6)))
    b = select(name, scores, 7, seed=3, labelled_features=np.zeros((2, 6)))
    assert a.dtype == np.int64 and a.shape == (7,)
    assert len(set(a.tolist())) == 7 and a.min() >= 0 and a.max() < 30
    np.testing.assert_array_equal(a, b)
    assert select(name, scores, 0).shape == (0,)


# ------------------------------------------------------------------------------ uncertainty


def test_entropy_margins_least_confidence_pick_the_known_frames() -> None:
    scores = uncertainty_from_probs(softmax_pool())
    # Uniform #3 has the highest entropy and the lowest confidence; then the tie #1; then the
    # least confident of the rest (#2: 0.8, #4: 0.9, #0: 0.95).
    np.testing.assert_array_equal(select("entropy", scores, 5), [3, 1, 2, 4, 0])
    np.testing.assert_array_equal(select("least-confidence", scores, 5), [3, 1, 2, 4, 0])
    # Margins: #3 has margin 0 exactly; #1 has 0.48 - 0.48 = 0 too, so both precede #2 etc.
    assert set(select("margins", scores, 2).tolist()) == {1, 3}
    np.testing.assert_array_equal(select("margins", scores, 5)[2:], [2, 4, 0])


def test_margins_smallest_first_entropy_highest_first() -> None:
    margin = np.array([0.5, 0.1, 0.9, 0.05, 0.3])
    got = select("margins", ScoreResult(n=5, margin=margin), 3)
    np.testing.assert_array_equal(got, np.argsort(margin)[:3])
    ent = np.array([0.2, 1.1, 0.4, 0.9, 0.0])
    np.testing.assert_array_equal(select("entropy", ScoreResult(n=5, entropy=ent), 2), [1, 3])


def test_uncertainty_rank_scores_are_the_scores() -> None:
    scores = uncertainty_from_probs(softmax_pool())
    np.testing.assert_allclose(get_strategy("entropy").rank_scores(scores, 2), scores.entropy)
    assert get_strategy("random").rank_scores(scores, 2) is None


def test_ties_are_broken_by_seed_not_by_position() -> None:
    scores = ScoreResult(n=50, entropy=np.ones(50))
    picks = {tuple(select("entropy", scores, 5, seed=s).tolist()) for s in range(10)}
    assert len(picks) == 10  # each seed orders the tied frames its own way
    np.testing.assert_array_equal(select("entropy", scores, 5, 4), select("entropy", scores, 5, 4))


# ------------------------------------------------------------------------------ random


def test_random_is_distinct_seeded_and_covers_the_pool() -> None:
    scores = ScoreResult(n=20)
    a, b = select("random", scores, 20, seed=1), select("random", scores, 20, seed=2)
    assert sorted(a.tolist()) == list(range(20)) == sorted(b.tolist())
    assert not np.array_equal(a, b)
    np.testing.assert_array_equal(a, select("random", scores, 20, seed=1))


# ------------------------------------------------------------------------------ k-means++


def test_kmeans_pp_matches_sklearn_on_ordinary_data() -> None:
    rng = np.random.default_rng(0)
    for seed in range(10):
        x = rng.normal(size=(120, 5))
        for k in (1, 3, 10, 40):
            _, ref = kmeans_plusplus(x, n_clusters=k, random_state=seed)
            np.testing.assert_array_equal(kmeans_pp_centres(x, k, seed), ref)


def test_kmeans_pp_float32_is_computed_in_float64() -> None:
    # sklearn keeps float32 input in float32, cumulative D^2 sum included, which for large
    # pools moves draws to neighbouring frames; this module casts to float64 blockwise, so it
    # equals sklearn run on the float64 copy.
    x = np.random.default_rng(1).random((5000, 13)).astype(np.float32)
    for seed in range(3):
        _, ref = kmeans_plusplus(x.astype(np.float64), n_clusters=30, random_state=seed)
        np.testing.assert_array_equal(kmeans_pp_centres(x, 30, seed), ref)


def test_kmeans_pp_plain_d2_sampling_with_one_trial() -> None:
    x = np.random.default_rng(1).normal(size=(60, 3))
    _, ref = kmeans_plusplus(x, n_clusters=8, random_state=5, n_local_trials=1)
    np.testing.assert_array_equal(kmeans_pp_centres(x, 8, 5, n_local_trials=1), ref)


def clusters(centres: np.ndarray, sizes: list[int], spread: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.concatenate(
        [
            c + spread * rng.normal(size=(s, centres.shape[1]))
            for c, s in zip(centres, sizes, strict=True)
        ]
    )


@pytest.mark.parametrize(
    "name,field", [("alges-img", "emb_img"), ("alges-seg", "emb_seg"), ("badge", "badge")]
)
def test_centre_strategies_find_the_lone_outlier_cluster(name: str, field: str) -> None:
    # 60 frames of one look, 2 very different frames: any second centre lands on the outliers
    # (their D^2 share is ~1 - 1e-7).
    emb = clusters(np.array([[0.0, 0.0, 0.0], [50.0, 40.0, 30.0]]), [60, 2], 0.01, 0)
    for seed in range(20):
        picks = select(name, ScoreResult(n=62, **{field: emb}), 2, seed=seed)
        assert sum(p >= 60 for p in picks) == 1, (seed, picks)


def test_alges_picks_one_frame_per_far_apart_group() -> None:
    centres = np.eye(5) * 10.0
    emb = clusters(centres, [30, 5, 12, 3, 20], 0.01, 1)
    group = np.repeat(np.arange(5), [30, 5, 12, 3, 20])
    for seed in range(20):
        picks = select("alges-seg", ScoreResult(n=len(emb), emb_seg=emb), 5, seed=seed)
        assert sorted(group[picks].tolist()) == [0, 1, 2, 3, 4]


def test_kmeans_rank_scores_are_d2_at_pick_time() -> None:
    emb = np.random.default_rng(2).random((40, 4))
    strategy = get_strategy("alges-img")
    scores = ScoreResult(n=40, emb_img=emb)
    idx, values = strategy.rank(scores, 6, seed=9)
    np.testing.assert_array_equal(idx, strategy.select(scores, 6, seed=9))
    # The random first centre had no centre before it: its D^2 is to the pool's mean.
    assert values[idx[0]] == pytest.approx(((emb[idx[0]] - emb.mean(axis=0)) ** 2).sum(), rel=1e-9)
    for j in range(1, 6):
        expect = min(((emb[idx[j]] - emb[idx[i]]) ** 2).sum() for i in range(j))
        assert values[idx[j]] == pytest.approx(expect, rel=1e-9)
    assert np.isnan(np.delete(values, idx)).all()


@pytest.mark.parametrize("fill", [0.0, 3.5])
def test_kmeans_all_equal_embeddings_give_distinct_frames(fill: float) -> None:
    emb = np.full((10, 3), fill)
    a = kmeans_pp_centres(emb, 6, seed=0)
    assert len(set(a.tolist())) == 6
    np.testing.assert_array_equal(a, kmeans_pp_centres(emb, 6, seed=0))
    assert not np.array_equal(a, kmeans_pp_centres(emb, 6, seed=1))


def test_kmeans_duplicated_rows_cover_every_distinct_value_first() -> None:
    values = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    emb = np.repeat(values, 5, axis=0)  # 15 frames, 3 distinct embeddings
    for seed in range(10):
        picks = kmeans_pp_centres(emb, 8, seed)
        assert len(set(picks.tolist())) == 8
        assert sorted((picks[:3] // 5).tolist()) == [0, 1, 2]


def test_k_larger_than_pool_returns_all_ranked_with_warning() -> None:
    emb = np.random.default_rng(3).random((4, 2))
    with pytest.warns(SelectionWarning, match="asked for 9 frames but the pool holds 4"):
        picks = kmeans_pp_centres(emb, 9, 0)
    assert sorted(picks.tolist()) == [0, 1, 2, 3]
    for name in ALL:
        with pytest.warns(SelectionWarning):
            assert sorted(select(name, full_scores(4), 9).tolist()) == [0, 1, 2, 3]


def test_empty_pool_and_zero_k() -> None:
    empty = ScoreResult(
        n=0,
        **{f: np.zeros((0, 3)) for f in ("emb_img", "emb_seg", "badge", "features")},
        entropy=np.zeros(0),
        margin=np.zeros(0),
        least_confidence=np.zeros(0),
    )
    for name in ALL:
        assert select(name, empty, 0).shape == (0,)
        with pytest.warns(SelectionWarning):
            assert select(name, empty, 3).shape == (0,)
    assert kmeans_pp_centres(np.zeros((5, 2)), 0).shape == (0,)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_embeddings_or_scores_raise(bad: float) -> None:
    emb = np.random.default_rng(4).random((8, 3))
    emb[5, 1] = bad
    with pytest.raises(AlgesError, match="emb_seg: NaN or infinite values .first at frame 5"):
        select("alges-seg", ScoreResult(n=8, emb_seg=emb), 2)
    with pytest.raises(AlgesError, match="entropy: NaN"):
        select("entropy", ScoreResult(n=8, entropy=emb[:, 1]), 2)
    with pytest.raises(AlgesError, match="features: NaN"):
        k_center_greedy(emb, None, 2)


@pytest.mark.parametrize("k", [-1, 2.5, "3", True])
def test_bad_k_seed_and_shapes_raise(k: object) -> None:
    scores = full_scores(5)
    with pytest.raises(AlgesError, match="k must be"):
        select("alges-seg", scores, k)  # type: ignore[arg-type]
    with pytest.raises(AlgesError, match="seed must be"):
        select("random", scores, 2, seed=-1)
    with pytest.raises(AlgesError, match="6 rows but the pool holds 5"):
        select("alges-img", ScoreResult(n=5, emb_img=np.ones((6, 2))), 2)


def test_overflowing_distances_raise() -> None:
    emb = np.array([[0.0], [1e200], [2e200]])
    with pytest.raises(AlgesError, match="overflow"):
        kmeans_pp_centres(emb, 2, 0)


# ------------------------------------------------------------------------------ core-set


def naive_k_center(x: np.ndarray, labelled: np.ndarray | None, k: int, first: int) -> list[int]:
    """Textbook farthest-first with Python loops (the first pick given when nothing is labelled)."""
    chosen: list[int] = []
    centres = [] if labelled is None else list(labelled)
    for _ in range(k):
        if not centres:
            best = first
        else:
            dist = [
                min(np.linalg.norm(p - c) for c in centres) if i not in chosen else -1.0
                for i, p in enumerate(x)
            ]
            best = int(np.argmax(dist))
        chosen.append(best)
        centres.append(x[best])
    return chosen


def test_coreset_picks_the_far_away_frame_first() -> None:
    feats = clusters(np.array([[0.0, 0.0]]), [20], 0.1, 5)
    feats = np.vstack([feats, [[30.0, 30.0]]])  # frame 20 is far from everything
    labelled = np.zeros((3, 2))
    idx = select("coreset", ScoreResult(n=21, features=feats), 3, labelled_features=labelled)
    assert idx[0] == 20


def test_coreset_respects_labelled_features() -> None:
    feats = np.array([[0.0, 0.0], [0.1, 0.0], [10.0, 0.0], [0.0, 5.0]])
    scores = ScoreResult(n=4, features=feats)
    # Without labels frame 2 is farthest from the rest; a labelled frame next to it leaves 3.
    assert select("coreset", scores, 1, labelled_features=np.array([[0.0, 0.0]]))[0] == 2
    assert select("coreset", scores, 1, labelled_features=np.array([[10.0, 0.1]]))[0] == 3
    with pytest.raises(AlgesError, match="3 columns, the pool's features 2"):
        select("coreset", scores, 1, labelled_features=np.zeros((2, 3)))


def test_k_center_greedy_matches_naive_loop() -> None:
    rng = np.random.default_rng(6)
    x, lab = rng.normal(size=(50, 4)), rng.normal(size=(7, 4))
    np.testing.assert_array_equal(k_center_greedy(x, lab, 12), naive_k_center(x, lab, 12, -1))
    got = k_center_greedy(x, None, 12, seed=8)
    assert got[0] == np.random.default_rng(8).integers(50)
    np.testing.assert_array_equal(got, naive_k_center(x, None, 12, int(got[0])))
    # An empty labelled set counts as none.
    np.testing.assert_array_equal(k_center_greedy(x, np.zeros((0, 4)), 12, seed=8), got)


def test_coreset_rank_scores_are_distances_at_pick_time() -> None:
    x, lab = np.random.default_rng(7).normal(size=(30, 3)), np.zeros((1, 3))
    idx, values = get_strategy("coreset").rank(
        ScoreResult(n=30, features=x), 4, labelled_features=lab
    )
    assert values[idx[0]] == pytest.approx(np.linalg.norm(x[idx[0]]))
    assert np.all(np.diff(values[idx]) <= 1e-12)  # farthest-first distances never grow


def test_k_center_all_equal_and_blockwise_match(monkeypatch: pytest.MonkeyPatch) -> None:
    assert sorted(k_center_greedy(np.ones((6, 3)), np.ones((2, 3)), 6).tolist()) == list(range(6))
    rng = np.random.default_rng(9)
    x, lab = rng.normal(size=(300, 8)), rng.normal(size=(1500, 8))
    whole = k_center_greedy(x, lab, 10)
    monkeypatch.setattr(
        centres, "_BLOCK_ELEMS", 64
    )  # 8-row blocks, labelled set in 1024-row blocks
    np.testing.assert_array_equal(k_center_greedy(x, lab, 10), whole)


def test_k_center_memory_stays_bounded() -> None:
    x = np.random.default_rng(10).random((20_000, 512), dtype=np.float32)  # 41 MB
    lab = x[:100] + 0.01
    tracemalloc.start()
    try:
        k_center_greedy(x, lab, 5)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # A float64 copy of the pool alone would be 82 MB; blocks keep it near 17 MB (measured).
    assert peak < 24e6, peak


def test_spread_takes_evenly_spaced_frames_in_source_order() -> None:
    assert get_strategy("spread").select(ScoreResult(n=10), 2).tolist() == [2, 7]
    assert get_strategy("spread").select(ScoreResult(n=9), 3).tolist() == [1, 4, 7]
    assert get_strategy("spread").select(ScoreResult(n=3), 3).tolist() == [0, 1, 2]
    assert get_strategy("spread").select(ScoreResult(n=5), 0).tolist() == []


def test_frame_windows_group_near_frames_of_one_clip() -> None:
    from alges_napari.core.acquire.windows import frame_windows

    keys = [
        "video01/video01_00080/frame_80_endo",
        "video01/video01_00080/frame_159_endo",  # same 80-frame clip
        "video01/video01_00160/frame_160_endo",  # next clip folder
        "video02/video02_00080/frame_80_endo",  # another video
        "movie/f000010",
        "movie/f000089",  # 79 frames after the first: same window
        "movie/f000090",  # 80 after: the next window
        "notes",
        "other",  # no frame number: a window each
    ]
    w = frame_windows(keys).tolist()
    assert w[0] == w[1] and len({w[0], w[2], w[3]}) == 3
    assert w[4] == w[5] != w[6] and w[7] != w[8]
    assert frame_windows(keys, window=1)[0] != frame_windows(keys, window=1)[1]


def test_video_aware_alges_never_picks_two_frames_of_one_window() -> None:
    rng = np.random.default_rng(0)
    keys, emb = [], []
    for clip in range(4):
        for f in range(10):
            keys.append(f"video01/clip{clip}/frame_{f}_endo")
            # clip 0 holds two far-apart clusters: plain k-means++ takes both from it
            centre = (40.0 if f < 5 else -40.0) if clip == 0 else float(clip)
            emb.append(centre + rng.normal(0, 0.1, 3))
    scores = ScoreResult(n=len(keys), emb_seg=np.array(emb), keys=keys)
    plain = get_strategy("alges-seg").select(scores, 3, seed=1)
    video = get_strategy("alges-seg-video").select(scores, 3, seed=1)
    clip_of = [k.split("/")[1] for k in keys]
    assert len({clip_of[i] for i in plain}) < 3  # the defect the variant removes
    assert len({clip_of[i] for i in video}) == 3
    more = get_strategy("alges-seg-video").select(scores, 6, seed=1)
    assert len(set(more.tolist())) == 6 and len({clip_of[i] for i in more[:4]}) == 4
    with pytest.raises(AlgesError, match="keys"):
        get_strategy("alges-seg-video").select(ScoreResult(n=3, emb_seg=np.ones((3, 2))), 1)


def test_coreset_first_pick_without_labels_is_scored_against_the_pool_mean() -> None:
    feats = np.random.default_rng(4).random((25, 3))
    idx, values = get_strategy("coreset").rank(ScoreResult(n=25, features=feats), 4, seed=1)
    expect = np.sqrt(((feats[idx[0]] - feats.mean(axis=0)) ** 2).sum())
    assert values[idx[0]] == pytest.approx(expect, rel=1e-9)
    assert np.isfinite(values[idx]).all()


# ---------------------------------------------------------------- class-balanced ALGES-seg


def test_class_balanced_columns_sum_to_one_and_empty_columns_stay_zero() -> None:
    from alges_napari.core.acquire.strategies import class_balanced

    emb = np.array([[8.0, 0.0, 1.0], [2.0, 0.0, 3.0]])
    np.testing.assert_allclose(class_balanced(emb), [[0.8, 0.0, 0.25], [0.2, 0.0, 0.75]])


def test_balanced_picks_are_kmeans_pp_on_the_scaled_columns() -> None:
    from alges_napari.core.acquire.centres import kmeans_pp_ranked

    scores = full_scores(12, seed=3)
    picks = get_strategy("alges-seg-balanced").select(scores, 4, seed=5)
    scaled = scores.emb_seg / scores.emb_seg.sum(axis=0)
    expected, _ = kmeans_pp_ranked(scaled, 4, 5, None, None)
    assert list(picks) == list(expected)


def test_balanced_finds_the_frame_with_rare_class_mass_that_plain_alges_seg_misses() -> None:
    """Background mass varies a lot between frames; one frame alone has mass in a rare class,
    too little to move the raw distance. Balanced, that frame is the farthest from the rest."""
    rng = np.random.default_rng(0)
    n = 40
    emb = np.zeros((n, 3))
    emb[:, 0] = rng.uniform(100.0, 1000.0, n)  # background: most of the gradient mass
    emb[:, 1] = rng.uniform(10.0, 20.0, n)  # a large organ
    emb[7, 2] = 0.5  # the only mass in the rare class
    scores = ScoreResult(n=n, emb_seg=emb)
    hits = {"alges-seg": 0, "alges-seg-balanced": 0}
    for seed in range(20):
        for name in hits:
            hits[name] += 7 in get_strategy(name).select(scores, 3, seed=seed)
    assert hits["alges-seg-balanced"] >= 19 and hits["alges-seg"] <= 5
