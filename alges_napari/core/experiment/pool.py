"""The pieces of a simulated experiment: the frame pool, the held-out split, and the model-side
work of one step (train, evaluate, score and select). The loop is in :mod:`.simulate`."""

from __future__ import annotations

import math
import re
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from alges_napari.core.errors import AlgesError
from alges_napari.core.learn.train import IMAGENET_MEAN, IMAGENET_STD, TrainSamples, iter_train
from alges_napari.core.progress import Cancelled, Progress, SupportsIsSet, is_stopped, restage

if TYPE_CHECKING:
    from alges_napari.core.experiment.config import SimulationConfig

_UNCERTAINTY = {"entropy", "margin", "least_confidence"}


@dataclass
class Pool:
    """All frames of an experiment, resized once: what the oracle and the model see."""

    keys: list[str]
    groups: list[str]
    samples: TrainSamples  # images uint8 (N,3,h,w), masks uint8 (N,h,w)
    schema: Any

    def frames(self, indices: Sequence[int]) -> _Frames:
        """Frames at ``indices`` as uint8 (h, w, 3) arrays, for the scoring pass."""
        return _Frames(self.samples.images, indices)


class _Frames(Sequence):
    def __init__(self, images: torch.Tensor, indices: Sequence[int]):
        self._images, self._indices = images, [int(i) for i in indices]

    def __len__(self) -> int:
        return len(self._indices)

    def __getitem__(self, i: int) -> np.ndarray:  # type: ignore[override]
        return self._images[self._indices[i]].permute(1, 2, 0).numpy()


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
    from alges_napari.core.data.frames import open_frames
    from alges_napari.core.learn.train import make_samples

    source = open_frames(config.data, stride=config.stride)
    if not source.has_ground_truth:
        raise AlgesError(f"{config.data} has no ground-truth masks: the oracle needs them")
    schema = source.schema
    if schema is None:
        from alges_napari.core.data.classes import CHOLECSEG8K

        schema = CHOLECSEG8K
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
    if not test or len(train) < need:
        raise AlgesError(
            f"{config.data}: {n} frames in {len(names)} groups leave {len(test)} test and "
            f"{len(train)} pool frames; the pool needs init + rounds * query = {need} and the "
            "test set at least one group: lower --init/--rounds/--query/--test-size"
        )
    init = rng.choice(len(train), size=config.init, replace=False)
    return {"test": test, "init": [train[i] for i in sorted(init)]}


# ---------------------------------------------------------------- one step


class Runner:
    """The model-side work of the experiment: train, evaluate, score and select."""

    def __init__(self, pool: Pool, config: SimulationConfig, device: torch.device, store: Any):
        self.pool, self.config, self.device, self.store = pool, config, device, store
        self.index = {k: i for i, k in enumerate(pool.keys)}
        self.score_batch = 32  # inference only: larger batches are cheaper per frame

    def spec(self) -> Any:
        from alges_napari.core.learn.model import ModelSpec

        schema = self.pool.schema
        return ModelSpec(
            arch=self.config.arch,
            encoder=self.config.encoder,
            num_classes=schema.num_classes,
            input_size=tuple(self.config.size),
            mean=tuple(IMAGENET_MEAN),
            std=tuple(IMAGENET_STD),
            class_names=tuple(schema.names),
        )

    def train(
        self, labeled: list[str], seed: int, start: Path | None, stop: SupportsIsSet | None
    ) -> Generator[Progress, None, tuple[Any, Any] | None]:
        """Train a model on ``labeled``; from ``start`` when warm starting. None if stopped."""
        from alges_napari.core.learn.model import build_model, load_checkpoint

        torch.manual_seed(seed)
        if start is not None and self.config.warm_start:
            model, _, _ = load_checkpoint(start, device=str(self.device))
        else:
            model = build_model(
                self.config.arch, self.config.encoder, num_classes=self.pool.schema.num_classes
            )
        idx = torch.tensor([self.index[k] for k in labeled])
        data = TrainSamples(self.pool.samples.images[idx], self.pool.samples.masks[idx])
        result = yield from iter_train(
            model.to(self.device), data, self.config.train_config(seed), stop, self.device
        )
        return None if result.stopped else (model, result)

    def _score(
        self, model: Any, indices: Sequence[int], want: set[str], on_frame: Any, stage: str, stop
    ) -> Generator[Progress, None, Any]:
        from alges_napari.core.acquire.scoring import iter_score

        gen = iter_score(
            model,
            self.pool.frames(indices),
            self.spec(),
            batch_size=self.score_batch,
            device=self.device,
            want=want,
            on_frame=on_frame,
            stop=stop,
        )
        return (yield from restage(gen, stage))

    def evaluate(
        self, model: Any, test: list[str], stop: SupportsIsSet | None
    ) -> Generator[Progress, None, dict[str, float]]:
        """Dice of ``model`` on the test frames, as results columns."""
        from alges_napari.core.learn.metrics import SegmentationMeter

        schema = self.pool.schema
        idx = [self.index[k] for k in test]
        meter = SegmentationMeter(schema.num_classes)
        masks = self.pool.samples.masks

        def on_frame(i: int, pred: np.ndarray, heat: Any) -> None:
            meter.update(pred, masks[idx[i]].numpy())

        yield from self._score(model, idx, set(), on_frame, "evaluate", stop)
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
    ) -> Generator[Progress, None, list[str]]:
        """Frames the strategy picks from the unlabelled pool with the previous round's model."""
        from alges_napari.core.acquire.scores import ScoreResult
        from alges_napari.core.acquire.strategies import get_strategy, select

        taken = set(labeled) | set(split["test"])
        pool = [k for k in self.pool.keys if k not in taken]
        rng = np.random.default_rng([seed, 1])
        if self.config.candidates and len(pool) > self.config.candidates:
            pool = [pool[i] for i in np.sort(rng.choice(len(pool), self.config.candidates, False))]
        want = set(get_strategy(strategy).needs)
        if want & _UNCERTAINTY:
            # the scoring pass computes the three uncertainty scores together; asking for all
            # three costs nothing and keeps older scoring modules from dropping one
            want |= _UNCERTAINTY
        # Core-set measures distances to the labelled frames: score them in the same pass.
        extra = labeled if "features" in want else []
        if want:
            indices = [self.index[k] for k in pool + extra]
            scores = yield from self._score(model, indices, want, None, "score", stop)
            if scores is None or is_stopped(stop):
                raise Cancelled()
        else:
            scores = ScoreResult(n=len(pool) + len(extra))
        labeled_feats = None
        if extra:
            labeled_feats = scores.features[len(pool) :]
            scores = scores.subset(np.arange(len(pool)))
        yield Progress("select", 0, 1)
        picked = select(
            strategy, scores, self.config.query, seed=seed, labeled_features=labeled_feats
        )
        return [pool[int(i)] for i in picked]
