"""Model and training settings of a project (:class:`TrainConfig`) and their presets."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from alges_napari.core.errors import AlgesError


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
    max_steps : int
        With held-out frames to watch (:func:`~alges_napari.core.learn.train.iter_train`'s
        ``held_out``) and ``patience`` > 0, training goes on past the floor, up to this many
        steps, while the held-out loss improves (0 or below the floor: the floor is the cap).
    patience : int
        Early stopping: after the floor, stop once this many held-out evaluations in a row
        have not improved on the best held-out loss (0: no early stopping). The weights of
        the best evaluation are kept.
    eval_every : int
        Optimiser steps between two held-out evaluations (rounded up to whole epochs).
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
    max_steps: int = 0
    patience: int = 0
    eval_every: int = 10
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
        if self.epochs < 1 or self.batch_size < 1 or not self.lr > 0 or self.eval_every < 1:
            raise AlgesError(f"epochs, batch_size, lr and eval_every must be positive, got {self}")
        if min(self.min_steps, self.max_steps, self.patience) < 0:
            raise AlgesError(f"min_steps, max_steps and patience must be >= 0, got {self}")

    def epochs_for(self, n: int) -> int:
        """Epochs over ``n`` labelled frames: ``epochs``, or more to reach ``min_steps``."""
        steps_per_epoch = max(1, math.ceil(n / self.batch_size))
        return max(self.epochs, math.ceil(self.min_steps / steps_per_epoch))

    def steps_for(self, n: int) -> tuple[int, int]:
        """(floor, cap) of the optimiser steps over ``n`` labelled frames.

        The floor is :meth:`epochs_for` whole epochs; the cap is ``max_steps`` when early
        stopping can extend training (``patience`` > 0 and held-out frames), else the floor.
        """
        steps_per_epoch = max(1, math.ceil(n / self.batch_size))
        floor = self.epochs_for(n) * steps_per_epoch
        return floor, max(floor, self.max_steps if self.patience > 0 else 0)

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


#: "cpu": interactive on a laptop without a GPU. Every round trains at least ``min_steps``
#: optimiser steps (3 epochs of 10 labels are 6 steps: round 1 learnt nothing, Dice 0.03 on
#: the sample data); with labelled validation frames it goes on while their loss improves, up
#: to ``max_steps``. Measured by ``benchmarks/bench_round.py`` (README, "A labelling session").
#: "gpu": close to the paper (ResNet-18 U-Net, 224x224, lr 5e-5, batch 32, 25 epochs).
PRESETS: dict[str, TrainConfig] = {
    "cpu": TrainConfig(
        input_size=(128, 224),
        epochs=3,
        batch_size=4,
        lr=1e-3,
        min_steps=60,
        max_steps=120,
        patience=3,
        eval_every=10,
    ),
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
