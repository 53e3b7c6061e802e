"""Fine-tuning as a generator: yields progress, honours a stop flag, survives CUDA out-of-memory.

Its data come from :mod:`alges_napari.core.learn.samples` (pairs resized once) and its held-out
monitoring from :mod:`alges_napari.core.learn.held_out`.

Loss is cross-entropy plus soft Dice, both ignoring pixels labelled 255; batches are augmented
on the training device by :func:`alges_napari.core.learn.augment.augment_batch` (flips, small rotations
and scale, colour jitter); AdamW; float16 mixed precision on CUDA; channels-last memory format
where its steps measure faster (:class:`~alges_napari.core.learn.engines.FormatTrial`).
"""

from __future__ import annotations

import contextlib
import math
import time
import warnings
from collections.abc import Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from alges_napari.core.errors import AlgesError
from alges_napari.core.learn.augment import augment_batch
from alges_napari.core.learn.config import TrainConfig
from alges_napari.core.learn.engines import FormatTrial, optimizer_to_format, set_memory_format
from alges_napari.core.learn.held_out import EarlyStopping, held_out_loss
from alges_napari.core.learn.losses import segmentation_loss
from alges_napari.core.learn.model import IMAGENET_MEAN, IMAGENET_STD
from alges_napari.core.learn.samples import TrainSamples, make_samples
from alges_napari.core.progress import Progress, SupportsIsSet, is_stopped


@dataclass
class TrainResult:
    """What :func:`iter_train` returns.

    Attributes
    ----------
    history : list of dict
        One entry per finished epoch: epoch, loss (mean), images_per_s, step (steps done by
        its end) and, where the held-out frames were evaluated after it, held_out_loss.
    stopped : bool
        True when a stop request ended training early.
    steps : int
        Optimiser steps taken.
    best_step : int or None
        With held-out frames: the step whose weights were kept (lowest held-out loss).
    early_stopped : bool
        True when the held-out loss stopped improving before ``max_steps``.
    batch_size : int
        The batch size in use at the end (smaller than asked after a CUDA out-of-memory).
    seconds : float
        Wall time of the training loop.
    warnings : list of str
        Messages about fall-backs (out-of-memory retries).
    """

    history: list[dict[str, float]] = field(default_factory=list)
    stopped: bool = False
    steps: int = 0
    best_step: int | None = None
    early_stopped: bool = False
    batch_size: int = 0
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- the loop


def _train_step(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scaler: Any,
    images: torch.Tensor,
    masks: torch.Tensor,
    config: TrainConfig,
    use_amp: bool,
) -> float:
    """One optimisation step on one batch; returns the loss (tests monkeypatch this)."""
    optimizer.zero_grad(set_to_none=True)
    alone = _running_batchnorm(model) if len(images) == 1 else contextlib.nullcontext()
    with alone, torch.autocast(device_type="cuda", dtype=torch.float16, enabled=use_amp):
        logits = model(images)
    loss = segmentation_loss(logits, masks, dice_weight=config.dice_weight)
    scaler.scale(loss).backward()
    scaler.step(optimizer)
    scaler.update()
    return float(loss.detach())


_BATCHNORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm)


@contextlib.contextmanager
def _running_batchnorm(model: nn.Module) -> Iterator[None]:
    """BatchNorm layers normalise with their running statistics (eval mode) for this batch.

    A batch of one image (a project with a single label, or a batch shrunk to 1 after CUDA ran
    out of memory) gives BatchNorm one value per channel on a small frame's 1x1 deepest maps,
    which it cannot normalise in training mode; the other layers still train.
    """
    layers = [m for m in model.modules() if isinstance(m, _BATCHNORMS) and m.training]
    for layer in layers:
        layer.eval()
    try:
        yield
    finally:
        for layer in layers:
            layer.train()


def _batch(
    samples: TrainSamples,
    idx: torch.Tensor,
    config: TrainConfig,
    device: torch.device,
    mean: torch.Tensor,
    std: torch.Tensor,
    gen: torch.Generator,
) -> tuple[torch.Tensor, torch.Tensor]:
    images = samples.images[idx].to(device).float() / 255.0
    masks = samples.masks[idx].to(device).long()
    if config.augment:
        images, masks = augment_batch(images, masks, gen)
    return (images - mean) / std, masks


def iter_train(
    model: nn.Module,
    dataset: TrainSamples | Iterable[tuple[np.ndarray, np.ndarray]],
    config: TrainConfig,
    stop: SupportsIsSet | None = None,
    device: torch.device | str | None = None,
    mean: Sequence[float] = IMAGENET_MEAN,
    std: Sequence[float] = IMAGENET_STD,
    channels_last: bool | None = None,
    held_out: TrainSamples | Iterable[tuple[np.ndarray, np.ndarray]] | None = None,
) -> Generator[Progress, None, TrainResult]:
    """Fine-tune ``model`` on labelled frames, yielding a progress dict after every batch.

    Parameters
    ----------
    model : nn.Module
        Segmentation model returning logits (B, C, H, W); trained in place.
    dataset : TrainSamples or iterable of (frame, mask)
        Labelled data; pairs are resized with :func:`make_samples`.
    config : TrainConfig
        Schedule and loss settings.
    stop : object with ``is_set()``, optional
        Checked before every batch: training ends within one batch of a request.
    device : torch.device or str, optional
        Defaults to the model's device.
    mean, std : sequence of 3 floats
        Input normalisation (the model's, ImageNet by default).
    channels_last : bool, optional
        Train in channels-last (True) or contiguous (False) memory format; default: whichever
        measures faster here (the first steps of a process try both; small batches stay
        contiguous). The model is left in the format it trained in.
    held_out : TrainSamples or iterable of (frame, mask), optional
        Labelled frames kept out of training whose loss decides early stopping (see
        ``TrainConfig.patience``, ``max_steps``, ``eval_every``); the weights with the lowest
        held-out loss are kept. None or empty: train exactly to the step floor.

    Yields
    ------
    Progress
        stage "train" with epoch, epochs, step, steps, done, total, loss, images_per_s and
        batch_size; ``warning`` set after an out-of-memory retry.

    Returns
    -------
    TrainResult
    """
    samples = (
        dataset if isinstance(dataset, TrainSamples) else make_samples(dataset, config.input_size)
    )
    if len(samples) == 0:
        raise AlgesError("no labelled frames to train on: accept at least one label first")
    held = (
        held_out
        if held_out is None or isinstance(held_out, TrainSamples)
        else _samples_or_none(held_out, config.input_size)
    )
    device = torch.device(device) if device is not None else next(model.parameters()).device
    model.to(device).train()
    use_amp = bool(config.amp and device.type == "cuda")
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config.lr, weight_decay=config.weight_decay
    )
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    mean_t = torch.tensor(mean, device=device).view(1, 3, 1, 1)
    std_t = torch.tensor(std, device=device).view(1, 3, 1, 1)
    gen = torch.Generator().manual_seed(config.seed)
    result = TrainResult(batch_size=min(config.batch_size, len(samples)))
    size = (int(samples.images.shape[-2]), int(samples.images.shape[-1]))
    trial = FormatTrial(model, size, result.batch_size, device, channels_last)
    start = time.perf_counter()
    try:
        loop = _Loop(
            model,
            optimizer,
            scaler,
            samples,
            config,
            device,
            (mean_t, std_t),
            gen,
            use_amp,
            result,
            trial,
        )
        yield from _epochs(loop, stop, held)
    finally:
        result.seconds = time.perf_counter() - start
        model.eval()
        # Free the optimiser state, the last step's gradients (as large as the weights; nothing
        # after training reads them: scoring takes its gradients analytically) and cached blocks,
        # so scoring, the frames and the user get the memory back.
        del optimizer, scaler
        model.zero_grad(set_to_none=True)
        if device.type == "cuda":
            torch.cuda.empty_cache()
    return result


class _Loop:
    """What the epochs of one training run share: the model, its optimiser and its data."""

    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        scaler: Any,
        samples: TrainSamples,
        config: TrainConfig,
        device: torch.device,
        norm: tuple[torch.Tensor, torch.Tensor],
        gen: torch.Generator,
        use_amp: bool,
        result: TrainResult,
        trial: FormatTrial,
    ):
        self.model, self.optimizer, self.scaler = model, optimizer, scaler
        self.samples, self.config, self.device = samples, config, device
        self.mean, self.std = norm
        self.gen, self.use_amp, self.result, self.trial = gen, use_amp, result, trial


def _epochs(
    loop: _Loop, stop: SupportsIsSet | None, held_out: TrainSamples | None
) -> Generator[Progress, None, None]:
    """Whole epochs until the step floor, then on while the held-out loss improves.

    The floor is ``epochs_for(n)`` epochs and at least ``min_steps`` steps; with ``held_out``
    frames and ``patience`` > 0 training continues up to ``max_steps`` and ends once
    ``patience`` evaluations (every ``eval_every`` steps, at epoch ends) have not improved;
    the best evaluation's weights are kept. Without held-out frames the floor is the cap.
    """
    config, result = loop.config, loop.result
    n = len(loop.samples)
    floor, cap = config.steps_for(n)
    watch = held_out is not None and len(held_out) > 0
    cap = cap if watch else floor
    early = EarlyStopping(config.patience if watch else 0)
    planned = (
        config.epochs_for(n)
        if cap == floor
        else math.ceil(cap / max(1, math.ceil(n / config.batch_size)))
    )
    last_eval, epoch = 0, 0
    while True:
        epoch += 1
        record = yield from _one_epoch(loop, epoch, max(planned, epoch), stop)
        if record is None:
            return
        if watch and (result.steps - last_eval >= config.eval_every or result.steps >= cap):
            last_eval = result.steps
            record["held_out_loss"] = held_out_loss(
                loop.model,
                held_out,
                config,
                loop.device,
                loop.mean,
                loop.std,  # type: ignore[arg-type]
            )
            early.update(record["held_out_loss"], result.steps, loop.model)
        result.history.append(record)
        at_floor = epoch >= config.epochs and result.steps >= config.min_steps
        if at_floor and (not watch or config.patience == 0 or result.steps >= cap):
            break
        if at_floor and early.exhausted():
            result.early_stopped = True
            break
    if watch:
        early.restore(loop.model)
        result.best_step = early.best_step


def _one_epoch(
    loop: _Loop, epoch: int, epochs: int, stop: SupportsIsSet | None
) -> Generator[Progress, None, dict[str, float] | None]:
    """One pass over the labelled frames in a fresh order; None when a stop request came."""
    samples, result, config = loop.samples, loop.result, loop.config
    n = len(samples)
    order, pos, losses, seen, t0 = (
        torch.randperm(n, generator=loop.gen),
        0,
        [],
        0,
        time.perf_counter(),
    )
    while pos < n:
        if is_stopped(stop):
            result.stopped = True
            return None
        bs = result.batch_size
        # A lone trailing image joins this batch: BatchNorm cannot normalise a batch of one
        # whose deepest feature map is 1x1 (small frames), and one image is a noisy step anyway.
        end = pos + bs + 1 if n - (pos + bs) == 1 else pos + bs
        idx = order[pos:end]
        images, masks = _batch(samples, idx, config, loop.device, loop.mean, loop.std, loop.gen)
        cl = loop.trial.next_format()
        if set_memory_format(loop.model, cl):
            optimizer_to_format(loop.optimizer, cl)
        if cl:
            images = images.contiguous(memory_format=torch.channels_last)
        t0_step = time.perf_counter()
        try:
            loss = _train_step(
                loop.model, loop.optimizer, loop.scaler, images, masks, config, loop.use_amp
            )
        except torch.cuda.OutOfMemoryError:
            done = result.steps
            yield _shrink_batch(result, loop.device).replace(epoch=epoch, done=done, total=done + 1)
            continue
        loop.trial.record(cl, time.perf_counter() - t0_step, len(idx))  # the loss synchronised
        pos, seen, result.steps = pos + len(idx), seen + len(idx), result.steps + 1
        losses.append(loss)
        steps = math.ceil(n / bs)
        yield Progress(
            "train",
            done=result.steps,
            total=result.steps + (epochs - epoch) * steps + math.ceil((n - pos) / bs),
            epoch=epoch,
            epochs=epochs,
            step=math.ceil(pos / bs),
            steps=steps,
            loss=loss,
            images_per_s=seen / max(time.perf_counter() - t0, 1e-9),
            batch_size=bs,
        )
    rate = seen / max(time.perf_counter() - t0, 1e-9)
    return {
        "epoch": epoch,
        "loss": float(np.mean(losses)),
        "images_per_s": rate,
        "step": result.steps,
    }


def _samples_or_none(
    pairs: Iterable[tuple[np.ndarray, np.ndarray]], input_size: Sequence[int]
) -> TrainSamples | None:
    pairs = list(pairs)
    return make_samples(pairs, input_size) if pairs else None


def _shrink_batch(result: TrainResult, device: torch.device) -> Progress:
    old = result.batch_size
    if old <= 1:
        raise AlgesError(
            f"CUDA out of memory on {device} even with batch size 1: reduce input_size"
        )
    result.batch_size = max(1, old // 2)
    msg = f"CUDA out of memory at batch size {old}; retrying with {result.batch_size}"
    result.warnings.append(msg)
    warnings.warn(msg, RuntimeWarning, stacklevel=3)
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return Progress("train", warning=msg, batch_size=result.batch_size)


def train(model: nn.Module, dataset: Any, config: TrainConfig, **kw: Any) -> TrainResult:
    """Run :func:`iter_train` to the end and return its result."""
    from alges_napari.core.progress import run_to_end

    return run_to_end(iter_train(model, dataset, config, **kw))
