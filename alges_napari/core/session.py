"""One active-learning round: train on the accepted labels -> score the pool -> select -> persist.

:class:`ActiveLearningSession` owns the current model of one :class:`~.project.Project` (no global
state) and runs rounds as generators, so the widget can show progress and stop them. The model is
started, trained and saved by a :class:`~.learn.holder.ModelHolder` and measured by
:func:`~.acquire.evaluate.iter_evaluate`, the simulator's own (``experiment/pool.py``), so a
simulated round trains and scores what a round here does.

The scoring pass is the only pass over the pool. Its ``on_frame`` callback writes each frame's
predicted mask and heat map into the project's ``cache/``. Core-set needs encoder features of the
*labelled* frames as well: they are computed in the same pass, by appending the training frames to
the frames scored (their predictions land in the cache too, which the widget can show).
"""

from __future__ import annotations

import math
import time
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch

from alges_napari.core.acquire.evaluate import iter_evaluate
from alges_napari.core.acquire.queue import QueueEntry
from alges_napari.core.acquire.scoring import ScoreOptions, iter_score
from alges_napari.core.acquire.step import Selection, iter_acquire, local_scorer
from alges_napari.core.acquire.strategies import DEFAULT_STRATEGY, Strategy, get_strategy
from alges_napari.core.data.classes import IGNORE_INDEX
from alges_napari.core.data.frames.stream import KeyedFrames, KeyReader
from alges_napari.core.errors import AlgesError
from alges_napari.core.learn.config import TrainConfig
from alges_napari.core.learn.holder import ModelHolder
from alges_napari.core.learn.metrics import SegmentationMeter
from alges_napari.core.learn.model import ModelSpec, pick_device
from alges_napari.core.learn.train import TrainResult, make_samples
from alges_napari.core.progress import (
    Cancelled,
    Progress,
    SupportsIsSet,
    restage,
    run_to_end,
)
from alges_napari.core.project.pool_cache import PoolCache, PoolFrames
from alges_napari.core.project.project import Project
from alges_napari.core.project.records import RoundRecord


@dataclass
class RoundConfig:
    """Settings of one round; None falls back to the project's training settings.

    Attributes
    ----------
    strategy : Strategy
        The selection strategy, resolved where it was chosen (the widget's form, ``--strategy``)
        with :func:`~alges_napari.core.acquire.strategies.get_strategy`; default
        :data:`~alges_napari.core.acquire.strategies.DEFAULT_STRATEGY`'s.
    query_size : int
        Frames to put in the queue.
    epochs, batch_size : int or None
        Override the project's training schedule for this round.
    warm_start : bool or None
        Continue from the last checkpoint (True) or train from scratch (False).
    candidates : int or None
        Score only a random subset of this many pool frames (very large pools).
    seed : int
        Base seed; round ``r`` uses ``seed + r`` so rounds differ but are reproducible.

    Raises
    ------
    AlgesError
        ``strategy`` is not a Strategy (a name, resolved nowhere but at the edge, is refused
        here with that advice rather than looked up deep in the round).
    """

    strategy: Strategy = field(default_factory=lambda: get_strategy(DEFAULT_STRATEGY))
    query_size: int = 10
    epochs: int | None = None
    batch_size: int | None = None
    warm_start: bool | None = None
    candidates: int | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.strategy, Strategy):
            raise AlgesError(
                f"RoundConfig.strategy must be a Strategy, got {self.strategy!r}: resolve the "
                "chosen name once with strategies.get_strategy"
            )


@dataclass
class RoundResult:
    """What :meth:`ActiveLearningSession.run_round` returns.

    Attributes
    ----------
    round : int
        Round number (1-based); the round is recorded only when not stopped.
    queue : list of QueueEntry
        The frames selected for labelling, best first.
    val_dice : ndarray (C,)
        Per-class Dice on the labelled validation frames; all NaN when there are none.
    mean_dice : float
        Mean of ``val_dice`` over the schema's scored classes (NaN when undefined).
    train_dice : float
        Mean Dice over the scored classes on (up to 32 of) the training labels, measured only
        when there are no labelled validation frames (NaN otherwise): the round's quality
        figure then (see ``project.autofill``).
    timings : dict
        Seconds spent in "train", "validate", "score", "select", "save".
    stopped : bool
        True when a stop request ended the round; nothing of it was persisted then.
    """

    round: int
    queue: list[QueueEntry] = field(default_factory=list)
    val_dice: np.ndarray = field(default_factory=lambda: np.zeros(0))
    mean_dice: float = math.nan
    train_dice: float = math.nan
    timings: dict[str, float] = field(default_factory=dict)
    stopped: bool = False
    train: TrainResult | None = None
    message: str = ""


class ActiveLearningSession:
    """Runs active-learning rounds on a project opened for writing.

    Parameters
    ----------
    project : Project
        The project; its labels, queue, rounds and checkpoints are read and written.
    device : torch.device or str, optional
        Where to train and score; default ``model.pick_device()`` (CUDA > MPS > CPU).
    engine : str, optional
        What runs the scoring passes' forward (``auto``, ``torch``, ``onnx``; see
        :mod:`~alges_napari.core.learn.engine`), chosen at the edge as the device is; None:
        auto. The widget sets :attr:`engine` from its setting as each round starts.
    """

    def __init__(
        self,
        project: Project,
        device: torch.device | str | None = None,
        engine: str | None = None,
    ):
        self.project = project
        self.device = pick_device(device) if device is None or isinstance(device, str) else device
        self.engine = engine
        # The current model; a round trains its own holder and replaces this one once trained.
        self._holder = ModelHolder(project.schema, self.device)

    # ------------------------------------------------------------ model

    @property
    def model(self) -> torch.nn.Module | None:
        """The current model (the latest checkpoint's, once loaded), or None before any round."""
        if self._model is None and self.project.latest_checkpoint() is not None:
            self._load_latest()
        return self._model

    @property
    def _model(self) -> torch.nn.Module | None:
        return self._holder.model

    @property
    def _spec(self) -> ModelSpec | None:
        return self._holder.spec

    def _train_config(self, cfg: RoundConfig) -> TrainConfig:
        base = TrainConfig.from_json(self.project.config["train"])
        changes = {
            k: v
            for k in ("epochs", "batch_size", "warm_start")
            if (v := getattr(cfg, k)) is not None
        }
        return replace(base, seed=cfg.seed, **changes)

    def _load_latest(self) -> None:
        self._holder = ModelHolder(self.project.schema, self.device)
        path = self.project.latest_checkpoint()
        if path is not None:
            self._holder.load(path)

    def _start(self, tc: TrainConfig) -> ModelHolder:
        """A new holder with the model a round trains: the latest checkpoint's when warm
        starting, else a new one (from the project's encoder weights, when it has them)."""
        holder = ModelHolder(self.project.schema, self.device)
        # A project made with encoder weights starts every model from them (its own copy).
        stored = (self.project.config.get("encoder_weights") or {}).get("stored")
        init = None if stored is None else self.project.root / stored
        holder.start(tc, encoder_init=init, warm_from=self.project.latest_checkpoint())
        return holder

    # ------------------------------------------------------------ the round

    def run_round(
        self, config: RoundConfig | None = None, stop: SupportsIsSet | None = None
    ) -> Generator[Progress, None, RoundResult]:
        """Train, score the pool, select the next batch and persist everything.

        Yields progress dicts whose "stage" is "train", "save", "validate", "score" or
        "select". A stop request ends the round within one batch. Stopped during training:
        the previous checkpoint, queue and history stay as they were and the model goes back
        to the last checkpoint. Stopped later: the new checkpoint is kept and recorded, the
        previous queue stays.

        Returns
        -------
        RoundResult
        """
        cfg = config or RoundConfig()
        project = self.project
        result = RoundResult(round=project.next_round())
        tc = self._train_config(cfg)
        train_keys = project.labelled_keys()
        if not train_keys:
            raise AlgesError(
                f"project {project.root} has no accepted labels outside validation: label a frame first"
            )
        t0 = time.perf_counter()
        samples = self._training_samples(train_keys, tc)
        # The current model is the latest checkpoint's, on disk: nothing reads it while the
        # next one trains (a warm start loads that file), so only one model is in memory. A
        # stopped or failed round reloads it (_load_latest, or lazily by ``model``).
        self._holder = ModelHolder(project.schema, self.device)
        holder = self._start(tc)
        # Labelled validation frames decide early stopping (TrainConfig.patience), on frames
        # the model never trains on.
        result.train = yield from holder.train(
            samples, tc, held_out=self._validation_pairs(), stop=stop
        )
        result.timings["train"] = time.perf_counter() - t0
        if result.train.stopped:
            result.stopped, result.message = (
                True,
                "training stopped; the previous checkpoint is kept",
            )
            self._load_latest()
            return result
        self._holder = holder
        yield from self._after_training(result, cfg, tc, train_keys, stop)
        return result

    def _training_samples(self, train_keys: list[str], tc: TrainConfig) -> Any:
        """The labels of ``train_keys`` and their frames at the training size; an AlgesError
        when no pixel is labelled (all 255): such a round would learn nothing, with loss 0."""
        project, frame_of = self.project, self._frames_at(tc.input_size, build=False)
        labelled_px = 0

        def pairs() -> Any:
            nonlocal labelled_px
            for key in train_keys:
                label = project.load_label(key)
                labelled_px += int(np.count_nonzero(label != IGNORE_INDEX))
                yield frame_of(key), label

        samples = make_samples(pairs(), tc.input_size)
        if labelled_px == 0 or not bool((samples.masks != IGNORE_INDEX).any()):
            where = "" if labelled_px == 0 else f" at the training size {tuple(tc.input_size)}"
            raise AlgesError(
                f"project {project.root}: the {len(train_keys)} accepted training label(s) hold "
                f"no labelled pixel{where} (all ignore, {IGNORE_INDEX}): paint at least one "
                "class on a frame and accept it before training"
            )
        return samples

    def rank(
        self,
        config: RoundConfig | None = None,
        stop: SupportsIsSet | None = None,
        scorer: Any = None,
    ) -> Generator[Progress, None, RoundResult]:
        """Score the pool with the latest checkpoint and write the queue, without training.

        The scoring and selection steps of :meth:`run_round` (``alges rank`` on a GPU server).
        Yields "score" and "select" progress dicts; a stop request ends it within one batch and
        leaves the previous queue in place. No round is recorded and no checkpoint is written.
        A ``scorer`` (``step.Scorer``, e.g. a ``DaskScorer``) scores in place of the model in
        this process.

        Raises
        ------
        AlgesError
            The project has no trained model yet.
        """
        cfg = config or RoundConfig()
        project = self.project
        if self.model is None:
            raise AlgesError(
                f"project {project.root} has no trained model yet: train a round first"
            )
        result = RoundResult(round=len(project.rounds))
        if not (yield from self._queue_next(result, cfg, project.labelled_keys(), stop, scorer)):
            result.stopped, result.message = True, "stopped while scoring; the previous queue stays"
        return result

    def _queue_next(
        self,
        result: RoundResult,
        cfg: RoundConfig,
        train_keys: list[str],
        stop: SupportsIsSet | None,
        scorer: Any = None,
    ) -> Generator[Progress, None, bool]:
        """Run THE acquisition step with the current model (or ``scorer``); False when stopped."""
        project = self.project
        if scorer is None:
            frame_of = self._frames_at(self._spec.input_size, build=True)
            scorer = local_scorer(self._model, self._spec, frame_of, self._score_options())
        step = yield from iter_acquire(
            scorer,
            cfg.strategy,
            project.unlabelled_keys(),
            Selection(cfg.query_size, cfg.seed + result.round, cfg.candidates),
            labelled=train_keys,
            sink=project,
            stop=stop,
        )
        if step is None:
            return False
        result.queue = step.queue
        result.timings.update(step.timings)
        return True

    def _after_training(
        self,
        result: RoundResult,
        cfg: RoundConfig,
        tc: TrainConfig,
        train_keys: list[str],
        stop: SupportsIsSet | None,
    ) -> Generator[Progress, None, None]:
        yield Progress("save", 0, 1, round=result.round)
        t0 = time.perf_counter()
        ckpt = self._save(tc, result.round, len(train_keys))
        result.timings["save"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        result.val_dice, result.mean_dice, result.message = yield from self._validate(stop)
        if not math.isfinite(result.mean_dice):
            result.train_dice = yield from self._training_dice(train_keys, stop)
        result.timings["validate"] = time.perf_counter() - t0

        if not (yield from self._queue_next(result, cfg, train_keys, stop)):
            result.stopped = True
            result.message = (
                "stopped after training: the new checkpoint is kept, the previous queue stays"
            )
        self.project.record_round(self._summary(result, cfg, tc, ckpt, len(train_keys)))
        yield Progress("save", 1, 1)

    def _frames_at(self, input_size: Any, build: bool) -> Any:
        """``frame_of`` for the project's frames: from the pool cache at ``input_size`` for a
        recording (``build``: a pass over the pool builds it; see :mod:`.project.pool_cache`),
        else the source itself; either streams a pass in the source's order."""
        frames = self.project.frames
        cache = None if input_size is None else PoolCache(self.project.root, frames, input_size)
        if cache is None or not cache.cacheable:
            return KeyReader(frames)
        return PoolFrames(cache, build=build)

    def _score_options(self) -> ScoreOptions:
        """This session's device and engine for a scoring pass (8 frames per batch)."""
        return ScoreOptions(batch_size=8, device=self.device, engine=self.engine)

    def _save(self, tc: TrainConfig, round_no: int, n: int) -> str:
        path = self.project.checkpoint_path(round_no)
        self._holder.save(path, {"round": round_no, "n_labelled": n, "train": tc.to_json()})
        return path.relative_to(self.project.root).as_posix()

    def _predict_frames(
        self,
        keys: Sequence[str],
        on_frame: Any,
        want: set[str],
        stop: SupportsIsSet | None,
        stage: str = "score",
    ) -> Generator[Progress, None, Any]:
        assert self._model is not None
        view = KeyedFrames(self._frames_at(self._spec.input_size, build=False), keys)
        gen = iter_score(
            self._model,
            view,
            self._spec,
            want=want,
            on_frame=on_frame,
            stop=stop,
            options=self._score_options(),
        )
        try:
            return (yield from restage(gen, stage))
        except Cancelled:
            return None

    def _evaluate(
        self, keys: Sequence[str], stop: SupportsIsSet | None
    ) -> Generator[Progress, None, SegmentationMeter | None]:
        """The current model's meter on the labelled frames ``keys`` (the simulator's
        measure, :func:`.acquire.evaluate.iter_evaluate`); None when a stop came first."""
        assert self._model is not None and self._spec is not None
        gen = iter_evaluate(
            self._model,
            self._spec,
            self._frames_at(self._spec.input_size, build=False),
            keys,
            self.project.load_label,
            options=self._score_options(),
            stop=stop,
        )
        try:
            return (yield from restage(gen, "validate"))
        except Cancelled:
            return None

    def _validate(
        self, stop: SupportsIsSet | None
    ) -> Generator[Progress, None, tuple[np.ndarray, float, str]]:
        project, schema = self.project, self.project.schema
        keys = project.validation_keys(labelled_only=True)
        nan = np.full(schema.num_classes, np.nan)
        if not keys:
            return nan, math.nan, "no labelled validation frames: Dice is not defined (NaN)"
        meter = yield from self._evaluate(keys, stop)
        if meter is None:
            return nan, math.nan, "stopped while validating: Dice is not measured (NaN)"
        dice = np.asarray(meter.dice(), dtype=float)
        mean = meter.mean_dice(schema.scored_classes)
        return dice, mean, f"validation Dice on {len(keys)} labelled validation frames"

    def _validation_pairs(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """(frame, label) of the labelled validation frames (the early-stopping frames)."""
        project, frames = self.project, self.project.frames
        keys = project.validation_keys(labelled_only=True)
        return [(frames.frame(k), project.load_label(k)) for k in keys]

    def _training_dice(
        self, train_keys: Sequence[str], stop: SupportsIsSet | None
    ) -> Generator[Progress, None, float]:
        """Mean Dice (scored classes) of the new model on up to 32 evenly spaced training labels.

        Optimistic (the model trained on them), but a model that has not learnt its own labels
        is plainly not worth pasting; 32 frames bound its cost on a large project.
        """
        pick = np.unique(np.linspace(0, len(train_keys) - 1, min(32, len(train_keys))).round())
        meter = yield from self._evaluate([train_keys[int(i)] for i in pick], stop)
        return math.nan if meter is None else meter.mean_dice(self.project.schema.scored_classes)

    def _summary(
        self, r: RoundResult, cfg: RoundConfig, tc: TrainConfig, ckpt: str, n: int
    ) -> RoundRecord:
        def clean(x: float) -> float | None:
            return None if not math.isfinite(x) else round(float(x), 6)

        return RoundRecord(
            round=r.round,
            n_labelled=n,
            n_validation=len(self.project.validation_keys(labelled_only=True)),
            strategy=cfg.strategy.name,
            warm_start=tc.warm_start,
            epochs=len(r.train.history) if r.train else tc.epochs,
            val_dice=[clean(v) for v in r.val_dice],
            mean_dice=clean(r.mean_dice),
            train_dice=clean(r.train_dice),
            steps=r.train.steps if r.train else None,
            best_step=r.train.best_step if r.train else None,
            note=r.message,
            checkpoint=ckpt,
            train_loss=r.train.history[-1]["loss"] if r.train and r.train.history else None,
            warnings=list(r.train.warnings) if r.train else [],
            timings={k: round(v, 3) for k, v in r.timings.items()},
            queue=[e.key for e in r.queue],
        )

    # ------------------------------------------------------------ single frames

    def predict(self, key: str) -> np.ndarray:
        """Predict the mask of one frame with the current model (uint8, frame resolution)."""
        if self.model is None:
            raise AlgesError(
                f"project {self.project.root} has no trained model yet: run a round first"
            )
        out: list[np.ndarray] = []
        run_to_end(self._predict_frames([key], lambda i, pred, heat: out.append(pred), set(), None))
        return out[0]
