"""The pieces of a simulated experiment: the frame pool, the held-out split, and the model-side
work of one step (train, evaluate, score and select). The loop is in :mod:`.loop`.

**The metric** (fixed before any strategy comparison on real frames, issue 21): every class
``c`` of the schema gets its data-set-level Dice ``2 I_c / (P_c + T_c)`` over the test frames,
written as column ``dice_<c>`` (empty where the class is absent from both truth and prediction).
The primary figure ``mean_dice`` averages it, with equal weight, over every *foreground* class
(every id but 0, the background of every built-in schema) present in the test truth; a present
class the model never predicts scores 0, so a missed rare structure costs as much as a missed
large one. Secondary columns keep older figures comparable: ``mean_dice_scored`` (the same
data-set Dice averaged over the schema's scored classes, CholecSeg8k's 0,1,2,3,4,5,9,10: the
``mean_dice`` of results written before this change) and ``mean_dice_per_image`` (the ALGES
paper's smoothed per-image Dice over the scored classes).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from alges_napari.core.acquire.evaluate import iter_evaluate
from alges_napari.core.acquire.scoring import ScoreOptions
from alges_napari.core.acquire.step import Selection, iter_acquire, local_scorer
from alges_napari.core.acquire.strategies import Strategy, get_strategy
from alges_napari.core.data.classes import CHOLECSEG8K
from alges_napari.core.data.frames import open_frames
from alges_napari.core.errors import AlgesError
from alges_napari.core.experiment.config import SimulationConfig
from alges_napari.core.experiment.effort import correction_effort
from alges_napari.core.learn.holder import ModelHolder
from alges_napari.core.learn.metrics import SegmentationMeter
from alges_napari.core.learn.model import ModelSpec
from alges_napari.core.learn.train import TrainSamples, make_samples
from alges_napari.core.progress import Cancelled, Progress, SupportsIsSet, is_stopped


@dataclass
class Pool:
    """All frames of an experiment, resized once: what the oracle and the model see."""

    keys: list[str]
    groups: list[str]
    samples: TrainSamples  # images uint8 (N,3,h,w), masks uint8 (N,h,w)
    schema: Any


#: The class id that is not averaged into the primary ``mean_dice`` (background).
BACKGROUND = 0


def class_column(class_id: int) -> str:
    """The results column of a class: ``dice_<id>``."""
    return f"dice_{int(class_id)}"


def result_columns(schema: Any) -> list[str]:
    """Header of results.csv for a class schema."""
    per_class = [class_column(c) for c in range(schema.num_classes)]
    return [
        "strategy",
        "repeat",
        "round",
        "n_labelled",
        "mean_dice",
        "mean_dice_scored",
        "mean_dice_per_image",
        *per_class,
        "n_test",
        "train_loss",
        "train_s",
        "select_s",
        "corrected_px",
        "corrected_regions",
        "corrected_px_total",
        "corrected_regions_total",
    ]


def evaluation_columns(meter: SegmentationMeter, schema: Any) -> dict[str, float]:
    """The Dice columns of a results row from a meter filled with the test frames.

    ``mean_dice`` averages the data-set Dice over the foreground classes present in the test
    truth (see the module docstring); NaN when the truth holds no foreground class.
    """
    dice = meter.dice()
    truth_px = meter.confusion().sum(axis=1)
    present = [c for c in range(schema.num_classes) if c != BACKGROUND and truth_px[c] > 0]
    scored = list(schema.scored_classes)
    per_image = meter.per_image_dice()[:, scored]
    out = {class_column(c): float(dice[c]) for c in range(schema.num_classes)}
    out["mean_dice"] = float(np.mean(dice[present])) if present else math.nan
    out["mean_dice_scored"] = meter.mean_dice(scored)
    out["mean_dice_per_image"] = float(per_image.mean()) if per_image.size else math.nan
    return out


# ---------------------------------------------------------------- data and splits


def group_of_keys(keys: Sequence[str]) -> list[str]:
    """Group of each frame for held-out testing: the key's first folder, or contiguous blocks
    of 1/20 of the frames when the keys have no folder (see the module docstring)."""
    if all("/" in k for k in keys):
        return [k.split("/", 1)[0] for k in keys]
    block = max(1, math.ceil(len(keys) / 20))
    return [f"block_{i // block:04d}" for i in range(len(keys))]


def load_pool(
    config: SimulationConfig, stop: SupportsIsSet | None = None, test: bool = False
) -> Generator[Progress, None, Pool]:
    """Read every frame and its ground truth, resized to ``config.train.input_size``.

    Yields progress while it reads.

    With ``test``, read ``config.test_data`` (the fixed test set) instead of ``config.data``;
    its frames are never strided.
    """
    path = config.test_data if test else config.data
    option = "--test-data" if test else "--data"
    source = open_frames(path, stride=1 if test else config.stride)
    if not source.has_ground_truth:
        raise AlgesError(f"{option} {path} has no ground-truth masks: the oracle needs them")
    schema = source.schema or CHOLECSEG8K
    n = len(source)
    images, masks = [], []
    for i in range(n):
        if is_stopped(stop):
            raise Cancelled()
        truth = source.ground_truth(i)
        if truth is None:
            raise AlgesError(f"{option} {path}: frame {source.keys[i]!r} has no ground-truth mask")
        s = make_samples([(source[i], truth)], config.train.input_size)
        images.append(s.images[0])
        masks.append(s.masks[0])
        yield Progress("load test" if test else "load", i + 1, n)
    keys = list(source.keys)
    samples = TrainSamples(torch.stack(images), torch.stack(masks))
    return Pool(keys, group_of_keys(keys), samples, schema)


def check_same_schema(pool: Pool, test: Pool, config: SimulationConfig) -> None:
    """Refuse a test set whose classes are not the pool's (their Dice would not compare)."""
    a, b = pool.schema, test.schema
    if a.num_classes != b.num_classes or tuple(a.names) != tuple(b.names):
        raise AlgesError(
            f"--test-data {config.test_data} has the classes {list(b.names)}, --data "
            f"{config.data} has {list(a.names)}: both must use one class schema"
        )


def load_runner(
    config: SimulationConfig,
    device: torch.device,
    stop: SupportsIsSet | None = None,
    engine: str | None = None,
) -> Generator[Progress, None, Runner]:
    """Read the pool (and the fixed test set, when given) and return their :class:`Runner`
    (``engine``: what runs its scoring passes' forward, see :class:`Runner`)."""
    pool = yield from load_pool(config, stop)
    test_pool = None
    if config.test_data is not None:
        test_pool = yield from load_pool(config, stop, test=True)
        check_same_schema(pool, test_pool, config)
    return Runner(pool, config, device, test_pool, engine=engine)


def split_repeat(
    pool: Pool, config: SimulationConfig, repeat: int, test_keys: Sequence[str] | None = None
) -> dict[str, list[str]]:
    """Draw a repeat's held-out test groups and initial labelled frames from its seed.

    With ``config.test_data`` nothing is held out: the test frames are ``test_keys`` (every
    frame of the fixed test set) and the initial frames are drawn from the whole pool.

    Returns
    -------
    dict
        {"test": keys, "init": keys}.
    """
    n = len(pool.keys)
    rng = np.random.default_rng([config.seed + repeat, 0])
    need = config.init + config.rounds * config.query_size
    if test_keys is not None:
        if n < need:
            raise AlgesError(
                f"{config.data}: {n} pool frames; the pool needs init + rounds * query_size = "
                f"{need}: lower --init/--rounds/--query-size"
            )
        init = rng.choice(n, size=config.init, replace=False)
        return {"test": list(test_keys), "init": [pool.keys[i] for i in sorted(init)]}
    target = config.test_size * n if config.test_size < 1 else config.test_size
    names = sorted(set(pool.groups))
    test_groups: set[str] = set()
    count = 0
    sizes = {g: pool.groups.count(g) for g in names}
    for g in rng.permutation(names):
        if count >= target or len(test_groups) == len(names) - 1:
            break
        test_groups.add(str(g))
        count += sizes[str(g)]
    test = [k for k, g in zip(pool.keys, pool.groups, strict=True) if g in test_groups]
    train = [k for k, g in zip(pool.keys, pool.groups, strict=True) if g not in test_groups]
    if len(names) == 1 and all("/" in k for k in pool.keys):
        lower = Path(config.data) / names[0]
        raise AlgesError(
            f"{config.data}: all {n} frames lie in one folder, {names[0]!r}, so no whole video "
            "is left to hold out as test frames (each first folder of a frame is one video): "
            f"the videos are probably one folder lower, try --data {lower}"
        )
    if not test or len(train) < need:
        raise AlgesError(
            f"{config.data}: {n} frames in {len(names)} groups leave {len(test)} test and "
            f"{len(train)} pool frames; the pool needs init + rounds * query_size = {need} and "
            "the test set at least one group: lower --init/--rounds/--query-size/--test-size"
        )
    init = rng.choice(len(train), size=config.init, replace=False)
    return {"test": test, "init": [train[i] for i in sorted(init)]}


# ---------------------------------------------------------------- one step


class _EffortSink:
    """An acquisition sink that keeps, per scored frame, the effort of correcting its prediction
    (the simulated surgeon corrects the prediction at pick time; see :mod:`.effort`).
    It keeps no heat map, so the pass computes none."""

    keeps_heat = False

    def __init__(self, truth_of: Callable[[str], np.ndarray]):
        self.truth_of = truth_of
        self.effort: dict[str, tuple[int, int]] = {}

    def clear_cache(self) -> None:
        self.effort.clear()

    def write_cache(self, key: str, prediction: np.ndarray, heat: Any) -> None:
        self.effort[key] = correction_effort(self.truth_of(key), prediction)

    def set_queue(self, entries: Any) -> None:
        pass  # the loop takes the picks from the step's result


@dataclass
class Query:
    """What one strategy asked for in one round, and what correcting it costs."""

    picked: list[str]
    corrected_px: int
    corrected_regions: int
    select_s: float


class Runner:
    """The model-side work of the experiment: train, evaluate, and THE acquisition step.

    Parameters
    ----------
    pool : Pool
        The frames strategies pick from (and the held-out test frames, without ``test_pool``).
    config : SimulationConfig
        The experiment; its strategies are resolved here, once (:attr:`strategies`).
    device : torch.device
        Where models train and score.
    test_pool : Pool, optional
        The fixed test set (``config.test_data``).
    engine : str, optional
        What runs the scoring passes' forward (``--engine``, else ``$ALGES_ENGINE``, read at
        the edge); None: auto. It reaches dask workers with their tasks.
    """

    def __init__(
        self,
        pool: Pool,
        config: SimulationConfig,
        device: torch.device,
        test_pool: Pool | None = None,
        engine: str | None = None,
    ):
        self.pool, self.config, self.device = pool, config, device
        self.test_pool, self.engine = test_pool, engine
        self.index = {k: i for i, k in enumerate(pool.keys)}
        self.test_index = {k: i for i, k in enumerate(test_pool.keys)} if test_pool else None
        self.spec = ModelSpec.for_schema(
            pool.schema, config.train.arch, config.train.encoder, config.train.input_size
        )
        # Inference only: larger batches are cheaper per frame.
        self.score_options = ScoreOptions(batch_size=32, device=device, engine=engine)
        #: The experiment's strategies by name, resolved once (the store names steps by name).
        self.strategies: dict[str, Strategy] = {s: get_strategy(s) for s in config.strategies}

    def frame_of(self, key: str) -> np.ndarray:
        """The resized frame of ``key`` as uint8 (h, w, 3)."""
        return self.pool.samples.images[self.index[key]].permute(1, 2, 0).numpy()

    def truth_of(self, key: str) -> np.ndarray:
        """The resized ground truth of ``key`` as uint8 (h, w)."""
        return self.pool.samples.masks[self.index[key]].numpy()

    def test_frame_of(self, key: str) -> np.ndarray:
        """A test frame: from the fixed test set when there is one, else from the pool."""
        if self.test_index is None:
            return self.frame_of(key)
        return self.test_pool.samples.images[self.test_index[key]].permute(1, 2, 0).numpy()

    def test_truth_of(self, key: str) -> np.ndarray:
        """A test frame's ground truth (see :meth:`test_frame_of`)."""
        if self.test_index is None:
            return self.truth_of(key)
        return self.test_pool.samples.masks[self.test_index[key]].numpy()

    def has_frames(self, split: dict[str, list[str]]) -> list[str]:
        """The keys of ``split`` this runner has no frame for (empty when all are there)."""
        tests = self.index if self.test_index is None else self.test_index
        return [k for k in split["init"] if k not in self.index] + [
            k for k in split["test"] if k not in tests
        ]

    def pool_keys(self, split: dict[str, list[str]]) -> list[str]:
        """Every pool frame a strategy may pick from in a repeat (not held out for testing)."""
        if self.test_index is not None:
            return list(self.pool.keys)
        test = set(split["test"])
        return [k for k in self.pool.keys if k not in test]

    def train(
        self, labelled: list[str], seed: int, start: Path | None, stop: SupportsIsSet | None
    ) -> Generator[Progress, None, tuple[Any, Any] | None]:
        """Train a model on ``labelled``; from ``start`` when warm starting. None if stopped.

        The model is started and trained by a :class:`~alges_napari.core.learn.holder.ModelHolder`,
        as a session's round is.
        """
        warm = start is not None and self.config.train.warm_start
        config = self.config.train_config(seed, warm)
        holder = ModelHolder(self.pool.schema, self.device)
        model = holder.start(config, encoder_init=self.config.encoder_weights, warm_from=start)
        idx = torch.tensor([self.index[k] for k in labelled])
        data = TrainSamples(self.pool.samples.images[idx], self.pool.samples.masks[idx])
        result = yield from holder.train(data, config, stop=stop)
        return None if result.stopped else (model, result)

    def evaluate(
        self, model: Any, test: list[str], stop: SupportsIsSet | None
    ) -> Generator[Progress, None, dict[str, float]]:
        """Dice of ``model`` on the test frames, as results columns (the session's
        validation measure: :func:`~alges_napari.core.acquire.evaluate.iter_evaluate`)."""
        meter = yield from iter_evaluate(
            model,
            self.spec,
            self.test_frame_of,
            test,
            self.test_truth_of,
            stop=stop,
            options=self.score_options,
        )
        return {**evaluation_columns(meter, self.pool.schema), "n_test": len(test)}

    def query(
        self,
        strategy: str,
        model: Any,
        labelled: list[str],
        split: dict[str, list[str]],
        seed: int,
        stop: SupportsIsSet | None,
    ) -> Generator[Progress, None, Query]:
        """The frames ``strategy`` (one of :attr:`strategies`) picks with the previous round's
        model, through THE acquisition step the widget runs, and the effort of correcting their
        predictions."""
        taken = set(labelled)
        pool = [k for k in self.pool_keys(split) if k not in taken]
        sink = _EffortSink(self.truth_of)
        t0 = time.perf_counter()
        step = yield from iter_acquire(
            local_scorer(model, self.spec, self.frame_of, self.score_options),
            self.strategies[strategy],
            pool,
            Selection(self.config.query_size, seed, self.config.candidates),
            labelled=labelled,
            sink=sink,
            stop=stop,
        )
        if step is None:
            raise Cancelled()
        picked = [e.key for e in step.queue]
        px = sum(sink.effort[k][0] for k in picked)
        regions = sum(sink.effort[k][1] for k in picked)
        return Query(picked, px, regions, time.perf_counter() - t0)
