"""Settings of a simulated experiment (``alges simulate``); defaults follow the paper."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alges_napari.core.errors import AlgesError

if TYPE_CHECKING:
    from alges_napari.core.learn.config import TrainConfig

#: The pseudo-strategy of the rows whose model trained on every pool frame of a repeat.
FULL_POOL = "full-pool"

#: The strategies of the bundled experiment (and the default of ``alges simulate``).
DEFAULT_STRATEGIES = ("alges-seg", "alges-img", "entropy", "coreset", "random")


@dataclass
class SimulationConfig:
    """Settings of a simulated experiment; defaults follow the paper's protocol (docs/method.md).

    Attributes
    ----------
    data : str
        A frame source with ground truth (a CholecSeg8k tree).
    strategies : tuple of str
        Selection strategies to compare.
    init, query, rounds, repeats : int
        Initial labelled frames, frames added per round, acquisition rounds, repeats.
    epochs, batch_size, lr : training schedule (Adam: AdamW with no weight decay).
    size : (int, int)
        (H, W) frames are resized to; multiples of 32.
    arch, encoder : str
        segmentation-models-pytorch model, trained from random weights.
    encoder_weights : str or None
        Start every model trained from scratch with this encoder instead: a torchvision or
        timm state dict file, or ``"imagenet"`` (smp downloads it; see
        :func:`~alges_napari.core.learn.encoder_weights.read_encoder_weights`). None: random weights.
    warm_start : bool
        Continue from the previous round's model instead of training from scratch.
    test_size : float
        Held-out frames: a fraction of all frames if < 1, else a frame count (whole groups).
        Ignored with ``test_data``.
    test_data : str or None
        A frame source with ground truth (an official test or validation split) that every
        model is evaluated on instead of videos held out of ``data``; every frame of ``data``
        is then pool. Its class schema must be ``data``'s.
    seed : int
        Base seed; repeat ``r`` uses ``seed + r``.
    augment : bool
        Flip/rotate/colour augmentation during training (off in the paper's protocol).
    dice_weight : float
        Weight of a soft-Dice term added to cross-entropy (0: plain cross-entropy).
    candidates : int or None
        Score at most this many random pool frames per round (None: the whole pool).
    min_steps : int
        Train every model at least this many optimiser steps (adds epochs to small labelled
        sets, so early rounds are trained about as far as late ones; 0: exactly ``epochs``).
    full_pool : bool
        Per repeat, also train a model on every pool frame (rows with strategy "full-pool"):
        the Dice a strategy's curve is measured against.
    stride : int
        Use every ``stride``-th frame of the source.
    warm_steps : int
        With ``warm_start``: the optimiser steps of a round that continues from the previous
        model (a step floor, as ``min_steps``), so rounds after the first cost a fraction of a
        model trained from scratch (0: as many as ``epochs``/``min_steps`` give).
    weight_decay : float
        AdamW weight decay (0: Adam, as the paper).
    """

    data: str
    strategies: tuple[str, ...] = DEFAULT_STRATEGIES
    init: int = 50
    query: int = 10
    rounds: int = 30
    repeats: int = 3
    epochs: int = 25
    batch_size: int = 32
    lr: float = 5e-5
    size: tuple[int, int] = (224, 224)
    arch: str = "Unet"
    encoder: str = "resnet18"
    encoder_weights: str | None = None
    warm_start: bool = False
    test_size: float = 0.2
    seed: int = 0
    augment: bool = False
    dice_weight: float = 0.0
    candidates: int | None = None
    min_steps: int = 0
    full_pool: bool = True
    stride: int = 1
    test_data: str | None = None
    warm_steps: int = 0
    weight_decay: float = 0.0

    def __post_init__(self) -> None:
        from alges_napari.core.acquire.strategies import get_strategy

        self.strategies = tuple(get_strategy(s).name for s in self.strategies)
        self.size = tuple(int(v) for v in self.size)  # type: ignore[assignment]
        if not self.strategies or len(set(self.strategies)) != len(self.strategies):
            raise AlgesError(f"strategies must be distinct and non-empty, got {self.strategies}")
        for name in ("init", "query", "repeats", "epochs", "batch_size", "stride"):
            if int(getattr(self, name)) < 1:
                raise AlgesError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.rounds < 0 or self.seed < 0 or not self.lr > 0 or not self.test_size > 0:
            raise AlgesError(
                f"rounds and seed must be >= 0, lr and test_size > 0 (got rounds={self.rounds}, "
                f"seed={self.seed}, lr={self.lr}, test_size={self.test_size})"
            )
        if self.warm_steps < 0 or self.weight_decay < 0:
            raise AlgesError(
                f"warm_steps and weight_decay must be >= 0, got {self.warm_steps}, "
                f"{self.weight_decay}"
            )
        if self.candidates is not None and self.candidates < self.query:
            raise AlgesError(f"candidates ({self.candidates}) must be >= query ({self.query})")
        self.train_config(0)  # validates size, epochs, batch size and lr

    def train_config(self, seed: int, warm: bool = False) -> TrainConfig:
        """The training settings of one round; ``warm``: a round continuing from the previous
        model, which trains ``warm_steps`` steps when that is set."""
        from alges_napari.core.learn.config import TrainConfig

        short = warm and self.warm_start and self.warm_steps > 0
        return TrainConfig(
            arch=self.arch,
            encoder=self.encoder,
            input_size=self.size,
            epochs=1 if short else self.epochs,
            min_steps=self.warm_steps if short else self.min_steps,
            batch_size=self.batch_size,
            lr=self.lr,
            weight_decay=self.weight_decay,
            dice_weight=self.dice_weight,
            warm_start=self.warm_start,
            augment=self.augment,
            seed=seed,
        )

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (``data`` as an absolute path)."""
        out = asdict(self)
        out["data"] = str(Path(self.data).resolve())
        if self.encoder_weights is None:
            del out["encoder_weights"]  # so that runs made before the option still resume
        elif self.encoder_weights != "imagenet":
            out["encoder_weights"] = str(Path(self.encoder_weights).resolve())
        if self.test_data is not None:
            out["test_data"] = str(Path(self.test_data).resolve())
        else:
            del out["test_data"]  # so that runs made before the option still resume
        for name, default in (("warm_steps", 0), ("weight_decay", 0.0)):
            if out[name] == default:
                del out[name]  # so that runs made before the option still resume
        out["strategies"], out["size"] = list(self.strategies), list(self.size)
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SimulationConfig:
        """Inverse of :meth:`to_json`."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})
