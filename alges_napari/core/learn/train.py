"""Fine-tuning as a generator: yields progress, honours a stop flag, survives CUDA out-of-memory.

Loss is cross-entropy plus soft Dice, both ignoring pixels labelled 255; batches are augmented
on the training device by :func:`alges_napari.core.learn.augment.augment_batch` (flips, small rotations
and scale, colour jitter); AdamW; float16 mixed precision on CUDA.
"""

from __future__ import annotations

import contextlib
import math
import time
import warnings
from collections.abc import Generator, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from alges_napari.core.data.classes import IGNORE_INDEX
from alges_napari.core.errors import AlgesError
from alges_napari.core.learn.augment import augment_batch
from alges_napari.core.learn.model import IMAGENET_MEAN, IMAGENET_STD
from alges_napari.core.progress import Progress, SupportsIsSet, is_stopped


@dataclass
class TrainConfig:
    """Model and fine-tuning settings of a project (stored in its config file).

    Attributes
    ----------
    arch, encoder : str
        segmentation-models-pytorch architecture and encoder.
    input_size : (int, int)
        (H, W) the frames are resized to for training and scoring.
    epochs, batch_size, lr, weight_decay : training schedule (AdamW).
    min_steps : int
        Train at least this many optimiser steps, adding epochs when the labelled set is small
        (0: exactly ``epochs``). A fixed epoch count gives 10 labels a tenth of the updates 100
        labels get; a step floor trains every round's model about as far (see
        :meth:`epochs_for`).
    dice_weight : float
        Weight of the soft-Dice term added to cross-entropy.
    warm_start : bool
        Start each round from the last round's checkpoint (fast) instead of from scratch
        (the paper's protocol).
    augment : bool
        Apply the batch augmentations.
    amp : bool
        Use float16 mixed precision on CUDA (ignored on other devices).
    seed : int
        Seed of the shuffling and augmentation generator.
    """

    arch: str = "Unet"
    encoder: str = "resnet18"
    input_size: tuple[int, int] = (128, 224)
    epochs: int = 4
    min_steps: int = 0
    batch_size: int = 8
    lr: float = 1e-3
    weight_decay: float = 1e-4
    dice_weight: float = 1.0
    warm_start: bool = True
    augment: bool = True
    amp: bool = True
    seed: int = 0

    def __post_init__(self) -> None:
        self.input_size = tuple(int(v) for v in self.input_size)  # type: ignore[assignment]
        if (
            len(self.input_size) != 2
            or min(self.input_size) < 32
            or any(v % 32 for v in self.input_size)
        ):
            raise AlgesError(f"input_size {self.input_size} must be two multiples of 32 (>= 32)")
        if self.epochs < 1 or self.batch_size < 1 or not self.lr > 0 or self.min_steps < 0:
            raise AlgesError(
                f"epochs, batch_size and lr must be positive and min_steps >= 0, got {self}"
            )

    def epochs_for(self, n: int) -> int:
        """Epochs over ``n`` labelled frames: ``epochs``, or more to reach ``min_steps``."""
        steps_per_epoch = max(1, math.ceil(n / self.batch_size))
        return max(self.epochs, math.ceil(self.min_steps / steps_per_epoch))

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict of the settings."""
        out = asdict(self)
        out["input_size"] = list(self.input_size)
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TrainConfig:
        """Inverse of :meth:`to_json`; unknown keys are ignored (newer files)."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


#: "cpu": interactive on a laptop without a GPU (a 20-label round in well under a minute).
#: "gpu": close to the paper (ResNet-18 U-Net, 224x224, lr 5e-5, batch 32, 25 epochs).
PRESETS: dict[str, TrainConfig] = {
    "cpu": TrainConfig(input_size=(128, 224), epochs=3, batch_size=8, lr=1e-3),
    "gpu": TrainConfig(input_size=(224, 224), epochs=25, batch_size=32, lr=5e-5),
}


def preset_config(name: str, **overrides: Any) -> TrainConfig:
    """Return a copy of preset ``name`` ("cpu" or "gpu") with ``overrides`` applied."""
    if name not in PRESETS:
        raise AlgesError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}")
    unknown = set(overrides) - {f.name for f in fields(TrainConfig)}
    if unknown:
        raise AlgesError(f"unknown training settings {sorted(unknown)}")
    return replace(PRESETS[name], **overrides)


@dataclass
class TrainSamples:
    """Training pairs resized once to the input size: uint8 images (N,3,h,w), masks (N,h,w)."""

    images: torch.Tensor
    masks: torch.Tensor

    def __len__(self) -> int:
        return int(self.images.shape[0])


@dataclass
class TrainResult:
    """What :func:`iter_train` returns.

    Attributes
    ----------
    history : list of dict
        One entry per finished epoch: epoch, loss (mean), images_per_s.
    stopped : bool
        True when a stop request ended training early.
    batch_size : int
        The batch size in use at the end (smaller than asked after a CUDA out-of-memory).
    seconds : float
        Wall time of the training loop.
    warnings : list of str
        Messages about fall-backs (out-of-memory retries).
    """

    history: list[dict[str, float]] = field(default_factory=list)
    stopped: bool = False
    batch_size: int = 0
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)


def make_samples(
    pairs: Iterable[tuple[np.ndarray, np.ndarray]], input_size: Sequence[int]
) -> TrainSamples:
    """Resize (frame uint8 HxWx3, mask uint8 HxW) pairs to ``input_size`` and stack them.

    Frames are resized bilinearly with antialiasing, masks with nearest neighbour so no new
    class values appear.
    """
    size = (int(input_size[0]), int(input_size[1]))
    images, masks = [], []
    for frame, mask in pairs:
        img = torch.from_numpy(np.array(frame, dtype=np.uint8)).permute(2, 0, 1)[None].float()
        img = F.interpolate(img, size=size, mode="bilinear", antialias=True, align_corners=False)
        images.append(img.round().clamp(0, 255).to(torch.uint8)[0])
        m = torch.from_numpy(np.array(mask, dtype=np.uint8))[None, None].float()
        masks.append(F.interpolate(m, size=size, mode="nearest")[0, 0].to(torch.uint8))
    if not images:
        raise AlgesError("no labelled frames to train on: accept at least one label first")
    return TrainSamples(torch.stack(images), torch.stack(masks))


# ---------------------------------------------------------------- loss


def dice_loss(
    logits: torch.Tensor, target: torch.Tensor, ignore_index: int = IGNORE_INDEX
) -> torch.Tensor:
    """Soft multi-class Dice loss, 1 - mean Dice over the classes present in ``target``.

    Classes absent from the batch are left out: their Dice is undefined, and cross-entropy
    already pushes their probability down.
    """
    num_classes = logits.shape[1]
    valid = target != ignore_index
    probs = logits.float().softmax(1) * valid[:, None]
    onehot = F.one_hot(torch.where(valid, target, 0), num_classes).permute(0, 3, 1, 2)
    onehot = onehot.float() * valid[:, None]
    inter = (probs * onehot).sum((0, 2, 3))
    denom = probs.sum((0, 2, 3)) + onehot.sum((0, 2, 3))
    present = onehot.sum((0, 2, 3)) > 0
    if not bool(present.any()):
        return logits.sum() * 0.0  # nothing labelled in this batch; keep the graph alive
    dice = (2 * inter + 1.0) / (denom + 1.0)
    return 1.0 - dice[present].mean()


def segmentation_loss(
    logits: torch.Tensor,
    target: torch.Tensor,
    dice_weight: float = 1.0,
    ignore_index: int = IGNORE_INDEX,
) -> torch.Tensor:
    """Cross-entropy (mean over labelled pixels) plus ``dice_weight`` times :func:`dice_loss`."""
    if bool((target != ignore_index).any()):
        ce = F.cross_entropy(logits.float(), target, ignore_index=ignore_index)
    else:
        ce = logits.sum() * 0.0
    return ce + dice_weight * dice_loss(logits, target, ignore_index)


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
    start = time.perf_counter()
    try:
        yield from _epochs(
            model,
            optimizer,
            scaler,
            samples,
            config,
            device,
            mean_t,
            std_t,
            gen,
            stop,
            use_amp,
            result,
        )
    finally:
        result.seconds = time.perf_counter() - start
        model.eval()
        # Free the optimiser state and cached blocks so scoring (or the user) gets the GPU back.
        del optimizer, scaler
        if device.type == "cuda":
            torch.cuda.empty_cache()
    return result


def _epochs(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scaler: Any,
    samples: TrainSamples,
    config: TrainConfig,
    device: torch.device,
    mean: torch.Tensor,
    std: torch.Tensor,
    gen: torch.Generator,
    stop: SupportsIsSet | None,
    use_amp: bool,
    result: TrainResult,
) -> Generator[Progress, None, None]:
    n = len(samples)
    done = 0
    epochs = config.epochs_for(n)
    for epoch in range(1, epochs + 1):
        order, pos, losses, seen, t0 = (
            torch.randperm(n, generator=gen),
            0,
            [],
            0,
            time.perf_counter(),
        )
        while pos < n:
            if is_stopped(stop):
                result.stopped = True
                return
            bs = result.batch_size
            # A lone trailing image joins this batch: BatchNorm cannot normalise a batch of one
            # whose deepest feature map is 1x1 (small frames), and one image is a noisy step anyway.
            end = pos + bs + 1 if n - (pos + bs) == 1 else pos + bs
            idx = order[pos:end]
            images, masks = _batch(samples, idx, config, device, mean, std, gen)
            try:
                loss = _train_step(model, optimizer, scaler, images, masks, config, use_amp)
            except torch.cuda.OutOfMemoryError:
                yield _shrink_batch(result, device).replace(epoch=epoch, done=done, total=done + 1)
                continue
            pos, seen, done = pos + len(idx), seen + len(idx), done + 1
            losses.append(loss)
            steps = math.ceil(n / bs)
            rate = seen / max(time.perf_counter() - t0, 1e-9)
            yield Progress(
                "train",
                done=done,
                total=done + (epochs - epoch) * steps + math.ceil((n - pos) / bs),
                epoch=epoch,
                epochs=epochs,
                step=math.ceil(pos / bs),
                steps=steps,
                loss=loss,
                images_per_s=rate,
                batch_size=bs,
            )
        result.history.append(
            {
                "epoch": epoch,
                "loss": float(np.mean(losses)),
                "images_per_s": seen / max(time.perf_counter() - t0, 1e-9),
            }
        )


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
