"""One active-learning round: train on the accepted labels -> score the pool -> select -> persist.

:class:`ActiveLearningSession` owns the current model of one :class:`~.project.Project` (no global
state) and runs rounds as generators, so the widget can show progress and stop them.

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

from alges_napari.core.errors import AlgesError
from alges_napari.core.learn.train import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    TrainConfig,
    TrainResult,
    iter_train,
    make_samples,
)
from alges_napari.core.progress import Cancelled, SupportsIsSet, is_stopped, restage
from alges_napari.core.project.project import Project, QueueEntry


@dataclass
class RoundConfig:
    """Settings of one round; None falls back to the project's training settings.

    Attributes
    ----------
    strategy : str
        Selection strategy name (see ``select.available_strategies()``).
    query_size : int
        Frames to put in the queue.
    epochs, batch_size : int or None
        Override the project's training schedule for this round.
    warm_start : bool or None
        Continue from the last checkpoint (True) or train from scratch (False).
    candidate_subset : int or None
        Score only a random subset of this many pool frames (very large pools).
    seed : int
        Base seed; round ``r`` uses ``seed + r`` so rounds differ but are reproducible.
    """

    strategy: str = "alges-seg"
    query_size: int = 10
    epochs: int | None = None
    batch_size: int | None = None
    warm_start: bool | None = None
    candidate_subset: int | None = None
    seed: int = 0


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
    timings : dict
        Seconds spent in "train", "validate", "score", "select", "save".
    stopped : bool
        True when a stop request ended the round; nothing of it was persisted then.
    """

    round: int
    queue: list[QueueEntry] = field(default_factory=list)
    val_dice: np.ndarray = field(default_factory=lambda: np.zeros(0))
    mean_dice: float = math.nan
    timings: dict[str, float] = field(default_factory=dict)
    stopped: bool = False
    train: TrainResult | None = None
    message: str = ""


class _FrameView(Sequence):
    """Frames of a source at given indices, decoded lazily (what the scoring pass iterates)."""

    def __init__(self, frames: Any, indices: Sequence[int]):
        self._frames, self._indices = frames, list(indices)

    def __len__(self) -> int:
        return len(self._indices)

    def __getitem__(self, i: int) -> np.ndarray:  # type: ignore[override]
        return self._frames[self._indices[i]]


class ActiveLearningSession:
    """Runs active-learning rounds on a project opened for writing.

    Parameters
    ----------
    project : Project
        The project; its labels, queue, rounds and checkpoints are read and written.
    device : torch.device or str, optional
        Where to train and score; default ``model.pick_device()`` (CUDA > MPS > CPU).
    """

    def __init__(self, project: Project, device: torch.device | str | None = None):
        from alges_napari.core.learn.model import pick_device

        self.project = project
        self.device = pick_device(device) if device is None or isinstance(device, str) else device
        self._model: torch.nn.Module | None = None
        self._spec: Any = None

    # ------------------------------------------------------------ model

    @property
    def model(self) -> torch.nn.Module | None:
        """The current model (the latest checkpoint's, once loaded), or None before any round."""
        if self._model is None and self.project.latest_checkpoint() is not None:
            self._load_latest()
        return self._model

    def _train_config(self, cfg: RoundConfig) -> TrainConfig:
        base = TrainConfig.from_json(self.project.config["train"])
        changes = {
            k: v
            for k in ("epochs", "batch_size", "warm_start")
            if (v := getattr(cfg, k)) is not None
        }
        return replace(base, seed=cfg.seed, **changes)

    def _spec_for(self, tc: TrainConfig) -> Any:
        from alges_napari.core.learn.model import ModelSpec

        schema = self.project.schema
        return ModelSpec(
            arch=tc.arch,
            encoder=tc.encoder,
            num_classes=schema.num_classes,
            input_size=tuple(tc.input_size),
            mean=tuple(IMAGENET_MEAN),
            std=tuple(IMAGENET_STD),
            class_names=tuple(schema.names),
        )

    def _load_latest(self) -> None:
        from alges_napari.core.learn.model import load_checkpoint

        path = self.project.latest_checkpoint()
        if path is None:
            self._model, self._spec = None, None
            return
        self._model, self._spec, _ = load_checkpoint(path, device=str(self.device))
        self._model.eval()

    def _start_model(self, tc: TrainConfig) -> tuple[torch.nn.Module, Any]:
        from alges_napari.core.learn.model import build_model

        if tc.warm_start and self.project.latest_checkpoint() is not None:
            self._load_latest()
            return self._model, self._spec  # type: ignore[return-value]
        torch.manual_seed(tc.seed)
        spec = self._spec_for(tc)
        model = build_model(tc.arch, tc.encoder, num_classes=spec.num_classes)
        return model.to(self.device), spec

    # ------------------------------------------------------------ the round

    def run_round(
        self, config: RoundConfig | None = None, stop: SupportsIsSet | None = None
    ) -> Generator[dict[str, Any], None, RoundResult]:
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
        model, spec = self._start_model(tc)
        frames = project.frames
        pairs = ((frames[frames.index_of(k)], project.load_label(k)) for k in train_keys)
        samples = make_samples(pairs, tc.input_size)
        result.train = yield from iter_train(
            model, samples, tc, stop=stop, device=self.device, mean=spec.mean, std=spec.std
        )
        result.timings["train"] = time.perf_counter() - t0
        if result.train.stopped:
            result.stopped, result.message = (
                True,
                "training stopped; the previous checkpoint is kept",
            )
            self._model = None
            self._load_latest()
            return result
        self._model, self._spec = model, spec
        yield from self._after_training(result, cfg, tc, train_keys, stop)
        return result

    def rank(
        self, config: RoundConfig | None = None, stop: SupportsIsSet | None = None
    ) -> Generator[dict[str, Any], None, RoundResult]:
        """Score the pool with the latest checkpoint and write the queue, without training.

        The scoring and selection steps of :meth:`run_round` (``alges rank`` on a GPU server).
        Yields "score" and "select" progress dicts; a stop request ends it within one batch and
        leaves the previous queue in place. No round is recorded and no checkpoint is written.

        Raises
        ------
        AlgesError
            The project has no trained model yet.
        """
        cfg = config or RoundConfig()
        project = self.project
        if self.model is None:
            raise AlgesError(f"project {project.root} has no trained model yet: train a round first")
        result = RoundResult(round=len(project.rounds))
        if not (yield from self._queue_next(result, cfg, project.labelled_keys(), stop)):
            result.stopped, result.message = True, "stopped while scoring; the previous queue stays"
            return result
        yield {"stage": "select", "done": 1, "total": 1}
        return result

    def _queue_next(
        self,
        result: RoundResult,
        cfg: RoundConfig,
        train_keys: list[str],
        stop: SupportsIsSet | None,
    ) -> Generator[dict[str, Any], None, bool]:
        """Score the pool, select and persist the queue into ``result``; False when stopped."""
        t0 = time.perf_counter()
        pool, scores, labelled = yield from self._score_pool(cfg, result.round, train_keys, stop)
        result.timings["score"] = time.perf_counter() - t0
        if is_stopped(stop) or scores is None:
            return False
        yield {"stage": "select", "done": 0, "total": 1}
        t0 = time.perf_counter()
        result.queue = self._select(cfg, pool, scores, labelled, result.round)
        result.timings["select"] = time.perf_counter() - t0
        self.project.set_queue(result.queue)
        return True

    def _after_training(
        self,
        result: RoundResult,
        cfg: RoundConfig,
        tc: TrainConfig,
        train_keys: list[str],
        stop: SupportsIsSet | None,
    ) -> Generator[dict[str, Any], None, None]:
        yield {"stage": "save", "done": 0, "total": 1, "round": result.round}
        t0 = time.perf_counter()
        ckpt = self._save(tc, result.round, len(train_keys))
        result.timings["save"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        result.val_dice, result.mean_dice, result.message = yield from self._validate(stop)
        result.timings["validate"] = time.perf_counter() - t0

        if not (yield from self._queue_next(result, cfg, train_keys, stop)):
            result.stopped = True
            result.message = (
                "stopped after training: the new checkpoint is kept, the previous queue stays"
            )
        self.project.record_round(self._summary(result, cfg, tc, ckpt, len(train_keys)))
        yield {"stage": "save", "done": 1, "total": 1}

    def _save(self, tc: TrainConfig, round_no: int, n: int) -> str:
        from alges_napari.core.learn.model import save_checkpoint

        path = self.project.checkpoint_path(round_no)
        extra = {"round": round_no, "n_labelled": n, "train": tc.to_json()}
        save_checkpoint(self._model, path, self._spec, extra=extra)
        return path.relative_to(self.project.root).as_posix()

    def _predict_frames(
        self,
        indices: Sequence[int],
        on_frame: Any,
        want: set[str],
        stop: SupportsIsSet | None,
        stage: str = "score",
    ) -> Generator[dict[str, Any], None, Any]:
        from alges_napari.core.acquire.scoring import iter_score

        assert self._model is not None
        view = _FrameView(self.project.frames, indices)
        gen = iter_score(
            self._model,
            view,
            self._spec,
            batch_size=8,
            device=self.device,
            want=want,
            on_frame=on_frame,
            stop=stop,
        )
        try:
            return (yield from restage(gen, stage))
        except Cancelled:
            return None

    def _validate(
        self, stop: SupportsIsSet | None
    ) -> Generator[dict[str, Any], None, tuple[np.ndarray, float, str]]:
        from alges_napari.core.learn.metrics import SegmentationMeter

        project, schema = self.project, self.project.schema
        keys = project.validation_keys(labelled_only=True)
        nan = np.full(schema.num_classes, np.nan)
        if not keys:
            return nan, math.nan, "no labelled validation frames: Dice is not defined (NaN)"
        meter = SegmentationMeter(schema.num_classes)
        frames = project.frames

        def on_frame(i: int, pred: np.ndarray, heat: Any) -> None:
            meter.update(pred, project.load_label(keys[i]))

        yield from self._predict_frames(
            [frames.index_of(k) for k in keys], on_frame, set(), stop, "validate"
        )
        dice = np.asarray(meter.dice(), dtype=float)
        mean = meter.mean_dice(schema.scored_classes)
        return dice, mean, f"validation Dice on {len(keys)} labelled validation frames"

    def _score_pool(
        self, cfg: RoundConfig, round_no: int, train_keys: list[str], stop: SupportsIsSet | None
    ) -> Generator[dict[str, Any], None, tuple[list[str], Any, np.ndarray | None]]:
        from alges_napari.core.acquire.strategies import get_strategy

        project = self.project
        pool = project.unlabelled_keys()
        if cfg.candidate_subset and len(pool) > cfg.candidate_subset:
            rng = np.random.default_rng(cfg.seed + round_no)
            pick = np.sort(rng.choice(len(pool), size=cfg.candidate_subset, replace=False))
            pool = [pool[i] for i in pick]
        want = set(get_strategy(cfg.strategy).needs)
        # Core-set measures distance to the labelled set: score the training frames in the same pass.
        extra = train_keys if "features" in want else []
        keys = pool + extra
        project.clear_cache()

        def on_frame(i: int, pred: np.ndarray, heat: Any) -> None:
            project.write_cache(keys[i], pred, heat)

        frames = project.frames
        scores = yield from self._predict_frames(
            [frames.index_of(k) for k in keys], on_frame, want, stop
        )
        if scores is None or is_stopped(stop):
            return pool, None, None
        scores.keys = list(keys)
        labelled = None
        if extra:
            labelled = scores.features[len(pool) :]
            scores = scores.subset(np.arange(len(pool)))
        return pool, scores, labelled

    def _select(
        self, cfg: RoundConfig, pool: list[str], scores: Any, labelled: Any, round_no: int
    ) -> list[QueueEntry]:
        from alges_napari.core.acquire.strategies import get_strategy

        if not pool:
            return []
        k = min(cfg.query_size, len(pool))
        # The strategy's own rank score goes into the queue (entropy, margin, D^2 or distance at
        # pick time), so the user sees why a frame was asked for; random has none.
        idx, values = get_strategy(cfg.strategy).rank(
            scores, k, seed=cfg.seed + round_no, labeled_features=labelled
        )

        def score(i: int) -> float | None:
            v = None if values is None else float(values[i])
            return v if v is not None and math.isfinite(v) else None

        return [QueueEntry(pool[int(i)], rank, score(int(i))) for rank, i in enumerate(idx)]

    def _summary(
        self, r: RoundResult, cfg: RoundConfig, tc: TrainConfig, ckpt: str, n: int
    ) -> dict[str, Any]:
        def clean(x: float) -> float | None:
            return None if not math.isfinite(x) else round(float(x), 6)

        return {
            "round": r.round,
            "n_labelled": n,
            "n_validation": len(self.project.validation_keys(labelled_only=True)),
            "strategy": cfg.strategy,
            "warm_start": tc.warm_start,
            "epochs": tc.epochs,
            "val_dice": [clean(v) for v in r.val_dice],
            "mean_dice": clean(r.mean_dice),
            "note": r.message,
            "checkpoint": ckpt,
            "train_loss": r.train.history[-1]["loss"] if r.train and r.train.history else None,
            "warnings": list(r.train.warnings) if r.train else [],
            "timings": {k: round(v, 3) for k, v in r.timings.items()},
            "queue": [e.key for e in r.queue],
        }

    # ------------------------------------------------------------ single frames

    def predict(self, key: str) -> np.ndarray:
        """Predict the mask of one frame with the current model (uint8, frame resolution)."""
        from alges_napari.core.progress import run_to_end

        if self.model is None:
            raise AlgesError(
                f"project {self.project.root} has no trained model yet: run a round first"
            )
        out: list[np.ndarray] = []
        index = self.project.frames.index_of(key)
        run_to_end(
            self._predict_frames([index], lambda i, pred, heat: out.append(pred), set(), None)
        )
        return out[0]
