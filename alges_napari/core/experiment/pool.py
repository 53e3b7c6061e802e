"""The pieces of a simulated experiment: the frame pool, the held-out split, and the model-side
work of one step (train, evaluate, score and select). The loop is in :mod:`.simulate`."""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from alges_napari.core.acquire.scoring import iter_score
from alges_napari.core.acquire.step import KeyedFrames, iter_acquire
from alges_napari.core.data.classes import CHOLECSEG8K
from alges_napari.core.data.frames import open_frames
from alges_napari.core.errors import AlgesError
from alges_napari.core.experiment.config import SimulationConfig
from alges_napari.core.experiment.effort import correction_effort
from alges_napari.core.learn.metrics import SegmentationMeter
from alges_napari.core.learn.model import ModelSpec, build_model, load_checkpoint
from alges_napari.core.learn.train import TrainSamples, iter_train, make_samples
from alges_napari.core.progress import Cancelled, Progress, SupportsIsSet, is_stopped, restage


@dataclass
class Pool:
    """All frames of an experiment, resized once: what the oracle and the model see."""

    keys: list[str]
    groups: list[str]
    samples: TrainSamples  # images uint8 (N,3,h,w), masks uint8 (N,h,w)
    schema: Any


def class_column(name: str) -> str:
    """The results column of a class: ``dice_`` + its name in lower snake case."""
    return "dice_" + re.sub(r"[^0-9a-z]+", "_", name.lower()).strip("_")


def result_columns(schema: Any) -> list[str]:
    """Header of results.csv for a class schema."""
    per_class = [class_column(schema.names[c]) for c in schema.scored_classes]
    return [
        "strategy",
        "repeat",
        "round",
        "n_labeled",
        "mean_dice",
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


# ---------------------------------------------------------------- data and splits


def group_of_keys(keys: Sequence[str]) -> list[str]:
    """Group of each frame for held-out testing: the key's first folder, or contiguous blocks
    of 1/20 of the frames when the keys have no folder (see the module docstring)."""
    if all("/" in k for k in keys):
        return [k.split("/", 1)[0] for k in keys]
    block = max(1, math.ceil(len(keys) / 20))
    return [f"block_{i // block:04d}" for i in range(len(keys))]


def load_pool(
    config: SimulationConfig, stop: SupportsIsSet | None = None
) -> Generator[Progress, None, Pool]:
    """Read every frame and its ground truth, resized to ``config.size`` (yields progress)."""
    source = open_frames(config.data, stride=config.stride)
    if not source.has_ground_truth:
        raise AlgesError(f"{config.data} has no ground-truth masks: the oracle needs them")
    schema = source.schema or CHOLECSEG8K
    n = len(source)
    images, masks = [], []
    for i in range(n):
        if is_stopped(stop):
            raise Cancelled()
        truth = source.ground_truth(i)
        if truth is None:
            raise AlgesError(f"{config.data}: frame {source.keys[i]!r} has no ground-truth mask")
        s = make_samples([(source[i], truth)], config.size)
        images.append(s.images[0])
        masks.append(s.masks[0])
        yield Progress("load", i + 1, n)
    keys = list(source.keys)
    samples = TrainSamples(torch.stack(images), torch.stack(masks))
    return Pool(keys, group_of_keys(keys), samples, schema)


def split_repeat(pool: Pool, config: SimulationConfig, repeat: int) -> dict[str, list[str]]:
    """Draw a repeat's held-out test groups and initial labelled frames from its seed.

    Returns
    -------
    dict
        {"test": keys, "init": keys}.
    """
    n = len(pool.keys)
    target = config.test_size * n if config.test_size < 1 else config.test_size
    names = sorted(set(pool.groups))
    rng = np.random.default_rng([config.seed + repeat, 0])
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
    need = config.init + config.rounds * config.query
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
            f"{len(train)} pool frames; the pool needs init + rounds * query = {need} and the "
            "test set at least one group: lower --init/--rounds/--query/--test-size"
        )
    init = rng.choice(len(train), size=config.init, replace=False)
    return {"test": test, "init": [train[i] for i in sorted(init)]}


# ---------------------------------------------------------------- one step


class _EffortSink:
    """An acquisition sink that keeps, per scored frame, the effort of correcting its prediction
    (the simulated surgeon corrects the prediction at pick time; see :mod:`.effort`)."""

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
    """The model-side work of the experiment: train, evaluate, and THE acquisition step."""

    def __init__(self, pool: Pool, config: SimulationConfig, device: torch.device):
        self.pool, self.config, self.device = pool, config, device
        self.index = {k: i for i, k in enumerate(pool.keys)}
        self.spec = ModelSpec.for_schema(pool.schema, config.arch, config.encoder, config.size)
        self.score_batch = 32  # inference only: larger batches are cheaper per frame

    def frame_of(self, key: str) -> np.ndarray:
        """The resized frame of ``key`` as uint8 (h, w, 3)."""
        return self.pool.samples.images[self.index[key]].permute(1, 2, 0).numpy()

    def truth_of(self, key: str) -> np.ndarray:
        """The resized ground truth of ``key`` as uint8 (h, w)."""
        return self.pool.samples.masks[self.index[key]].numpy()

    def train(
        self, labeled: list[str], seed: int, start: Path | None, stop: SupportsIsSet | None
    ) -> Generator[Progress, None, tuple[Any, Any] | None]:
        """Train a model on ``labeled``; from ``start`` when warm starting. None if stopped."""
        torch.manual_seed(seed)
        if start is not None and self.config.warm_start:
            model, _, _ = load_checkpoint(start, device=str(self.device))
        else:
            model = build_model(
                self.config.arch,
                self.config.encoder,
                num_classes=self.pool.schema.num_classes,
                encoder_init=self.config.encoder_weights,
            )
        idx = torch.tensor([self.index[k] for k in labeled])
        data = TrainSamples(self.pool.samples.images[idx], self.pool.samples.masks[idx])
        result = yield from iter_train(
            model.to(self.device), data, self.config.train_config(seed), stop, self.device
        )
        return None if result.stopped else (model, result)

    def evaluate(
        self, model: Any, test: list[str], stop: SupportsIsSet | None
    ) -> Generator[Progress, None, dict[str, float]]:
        """Dice of ``model`` on the test frames, as results columns."""
        schema = self.pool.schema
        meter = SegmentationMeter(schema.num_classes)

        def on_frame(i: int, pred: np.ndarray, heat: Any) -> None:
            meter.update(pred, self.truth_of(test[i]))

        gen = iter_score(
            model,
            KeyedFrames(self.frame_of, test),
            self.spec,
            batch_size=self.score_batch,
            device=self.device,
            want=set(),
            on_frame=on_frame,
            stop=stop,
        )
        yield from restage(gen, "evaluate")
        if is_stopped(stop):
            raise Cancelled()
        scored = list(schema.scored_classes)
        dice = meter.dice()
        per_image = meter.per_image_dice()[:, scored]
        out = {class_column(schema.names[c]): float(dice[c]) for c in scored}
        out["mean_dice"] = meter.mean_dice(scored)
        out["mean_dice_per_image"] = float(per_image.mean()) if per_image.size else math.nan
        out["n_test"] = len(test)
        return out

    def query(
        self,
        strategy: str,
        model: Any,
        labeled: list[str],
        split: dict[str, list[str]],
        seed: int,
        stop: SupportsIsSet | None,
    ) -> Generator[Progress, None, Query]:
        """The frames ``strategy`` picks with the previous round's model, through THE
        acquisition step the widget runs, and the effort of correcting their predictions."""
        taken = set(labeled) | set(split["test"])
        pool = [k for k in self.pool.keys if k not in taken]
        sink = _EffortSink(self.truth_of)
        t0 = time.perf_counter()
        step = yield from iter_acquire(
            model,
            self.spec,
            self.frame_of,
            pool,
            strategy,
            self.config.query,
            seed,
            labelled=labeled,
            candidates=self.config.candidates,
            sink=sink,
            device=self.device,
            batch_size=self.score_batch,
            stop=stop,
        )
        if step is None:
            raise Cancelled()
        picked = [e.key for e in step.queue]
        px = sum(sink.effort[k][0] for k in picked)
        regions = sum(sink.effort[k][1] for k in picked)
        return Query(picked, px, regions, time.perf_counter() - t0)
