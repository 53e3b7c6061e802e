"""Settings of a simulated experiment (``alges simulate``); defaults follow the paper."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from alges_napari.core.errors import AlgesError
from alges_napari.core.experiment.spelling import respell_settings
from alges_napari.core.learn.config import TrainConfig

#: The pseudo-strategy of the rows whose model trained on every pool frame of a repeat.
FULL_POOL = "full-pool"

#: The strategies of the bundled experiment (and the default of ``alges simulate``).
DEFAULT_STRATEGIES = ("alges-seg", "alges-img", "entropy", "coreset", "random")

#: The paper's training protocol (docs/method.md): a ResNet-18 U-Net trained from random weights
#: at 224 x 224, Adam (AdamW without weight decay) at lr 5e-5, batch 32, 25 epochs, plain
#: cross-entropy, no augmentation, every round from scratch. The fields it does not set keep
#: :class:`~alges_napari.core.learn.config.TrainConfig`'s defaults (no step floor or cap, no
#: early stopping, mixed precision on CUDA); ``seed`` is replaced in every round.
PAPER_TRAINING = TrainConfig(
    arch="Unet",
    encoder="resnet18",
    input_size=(224, 224),
    epochs=25,
    batch_size=32,
    lr=5e-5,
    weight_decay=0.0,
    dice_weight=0.0,
    warm_start=False,
    augment=False,
    min_steps=0,
)


def paper_training(**overrides: Any) -> TrainConfig:
    """A copy of :data:`PAPER_TRAINING` with ``overrides`` (TrainConfig fields) applied.

    Parameters
    ----------
    **overrides
        TrainConfig fields to change, e.g. ``epochs=1, input_size=(64, 64)``.

    Returns
    -------
    TrainConfig
        A new object: changing it leaves :data:`PAPER_TRAINING` as it is.
    """
    return replace(PAPER_TRAINING, **overrides)


@dataclass
class SimulationConfig:
    """Settings of a simulated experiment; defaults follow the paper's protocol (docs/method.md).

    Attributes
    ----------
    data : str
        A frame source with ground truth (a CholecSeg8k tree).
    strategies : tuple of str
        Selection strategies to compare.
    init, query_size, rounds, repeats : int
        Initial labelled frames, frames added per round, acquisition rounds, repeats.
    train : TrainConfig
        How every model of the experiment is trained (default :func:`paper_training`, the
        paper's protocol): model (``arch``, ``encoder``, ``input_size``, (H, W) multiples of
        32), schedule (``epochs``, ``batch_size``, ``lr``, ``weight_decay``, ``min_steps``),
        loss (``dice_weight``), ``augment`` and ``warm_start`` (continue from the previous
        round's model instead of training from scratch). Its ``seed`` is not used: each round
        trains with a seed derived from ``seed`` (see :meth:`train_config`).
    encoder_weights : str or None
        Start every model trained from scratch with this encoder instead: a torchvision or
        timm state dict file, or ``"imagenet"`` (smp downloads it; see
        :func:`~alges_napari.core.learn.encoder_weights.read_encoder_weights`). None: random weights.
    test_size : float
        Held-out frames: a fraction of all frames if < 1, else a frame count (whole groups).
        Ignored with ``test_data``.
    test_data : str or None
        A frame source with ground truth (an official test or validation split) that every
        model is evaluated on instead of videos held out of ``data``; every frame of ``data``
        is then pool. Its class schema must be ``data``'s.
    seed : int
        Base seed; repeat ``r`` uses ``seed + r``.
    candidates : int or None
        Score at most this many random pool frames per round (None: the whole pool).
    full_pool : bool
        Per repeat, also train a model on every pool frame (rows with strategy "full-pool"):
        the Dice a strategy's curve is measured against.
    stride : int
        Use every ``stride``-th frame of the source.
    warm_steps : int
        With ``train.warm_start``: the optimiser steps of a round that continues from the
        previous model (a step floor, as ``min_steps``), so rounds after the first cost a
        fraction of a model trained from scratch (0: as many as ``epochs``/``min_steps`` give).
    """

    data: str
    strategies: tuple[str, ...] = DEFAULT_STRATEGIES
    init: int = 50
    query_size: int = 10
    rounds: int = 30
    repeats: int = 3
    train: TrainConfig = field(default_factory=paper_training)
    encoder_weights: str | None = None
    test_size: float = 0.2
    seed: int = 0
    candidates: int | None = None
    full_pool: bool = True
    stride: int = 1
    test_data: str | None = None
    warm_steps: int = 0

    def __post_init__(self) -> None:
        from alges_napari.core.acquire.strategies import get_strategy

        self.strategies = tuple(get_strategy(s).name for s in self.strategies)
        if not self.strategies or len(set(self.strategies)) != len(self.strategies):
            raise AlgesError(f"strategies must be distinct and non-empty, got {self.strategies}")
        if not isinstance(self.train, TrainConfig):
            raise AlgesError(f"train must be a TrainConfig, got {self.train!r}")
        for name in ("init", "query_size", "repeats", "stride"):
            if int(getattr(self, name)) < 1:
                raise AlgesError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.rounds < 0 or self.seed < 0 or not self.test_size > 0:
            raise AlgesError(
                f"rounds and seed must be >= 0, test_size > 0 (got rounds={self.rounds}, "
                f"seed={self.seed}, test_size={self.test_size})"
            )
        if self.warm_steps < 0 or self.train.weight_decay < 0:
            raise AlgesError(
                f"warm_steps and weight_decay must be >= 0, got {self.warm_steps}, "
                f"{self.train.weight_decay}"
            )
        if self.candidates is not None and self.candidates < self.query_size:
            raise AlgesError(
                f"candidates ({self.candidates}) must be >= query_size ({self.query_size})"
            )

    def train_config(self, seed: int, warm: bool = False) -> TrainConfig:
        """The training settings of one round.

        Parameters
        ----------
        seed : int
            The round's training seed.
        warm : bool
            A round continuing from the previous model: with ``train.warm_start`` and
            ``warm_steps`` set it trains one epoch with a floor of ``warm_steps`` steps.

        Returns
        -------
        TrainConfig
            :attr:`train` with ``seed`` (and, for a short warm round, ``epochs`` and
            ``min_steps``) replaced; a new object.
        """
        if warm and self.train.warm_start and self.warm_steps > 0:
            return replace(self.train, seed=seed, epochs=1, min_steps=self.warm_steps)
        return replace(self.train, seed=seed)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (``data`` as an absolute path, ``train`` as a nested dict)."""
        out = asdict(self)
        out["data"] = str(Path(self.data).resolve())
        out["train"] = {k: v for k, v in self.train.to_json().items() if k != "seed"}
        if self.encoder_weights is None:
            del out["encoder_weights"]  # so that runs made before the option still resume
        elif self.encoder_weights != "imagenet":
            out["encoder_weights"] = str(Path(self.encoder_weights).resolve())
        if self.test_data is not None:
            out["test_data"] = str(Path(self.test_data).resolve())
        else:
            del out["test_data"]  # so that runs made before the option still resume
        if out["warm_steps"] == 0:
            del out["warm_steps"]  # so that runs made before the option still resume
        out["strategies"] = list(self.strategies)
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SimulationConfig:
        """Inverse of :meth:`to_json`; also reads the flat settings of earlier versions.

        Parameters
        ----------
        data : dict
            What :meth:`to_json` wrote, or an older ``config.json`` (flat ``query``,
            ``size``, ``epochs``, ...: see
            :func:`~alges_napari.core.experiment.spelling.respell_settings`). Keys this
            version does not know are ignored; training settings that are missing take
            :data:`PAPER_TRAINING`'s values.

        Returns
        -------
        SimulationConfig
        """
        data = respell_settings(data)
        names = {f.name for f in fields(cls)} - {"train"}
        kw = {k: v for k, v in data.items() if k in names}
        return cls(train=_training(data.get("train", {})), **kw)


def _training(settings: dict[str, Any]) -> TrainConfig:
    """:data:`PAPER_TRAINING` with the known fields of ``settings`` applied (``seed`` is not
    one: each round sets its own)."""
    names = {f.name for f in fields(TrainConfig)} - {"seed"}
    return paper_training(**{k: v for k, v in settings.items() if k in names})


def comparable_settings(data: dict[str, Any]) -> dict[str, Any]:
    """Settings read from a ``config.json``, of any version, in one flat form to compare.

    A resumed experiment and folders combined for a plot must have the same settings; a
    folder written by an earlier version (flat ``query``, ``size``, ``epochs``, ...) holds the
    same settings as this version's nested ``train`` when the values are equal.

    Parameters
    ----------
    data : dict
        A ``config.json`` as read (:meth:`SimulationConfig.to_json`, or an older flat one).

    Returns
    -------
    dict
        The experiment's settings, the training ones under ``"train.<field>"`` keys, every
        TrainConfig field present (missing ones take :data:`PAPER_TRAINING`'s values; ``seed``
        left out). Equal for two files exactly when they hold the same settings.
    """
    data = respell_settings(data)
    out = {k: v for k, v in data.items() if k != "train"}
    defaults = {k: v for k, v in PAPER_TRAINING.to_json().items() if k != "seed"}
    train = data.get("train") if isinstance(data.get("train"), dict) else {}
    for name, default in defaults.items():
        value = train.get(name, default)
        out[f"train.{name}"] = list(value) if isinstance(value, tuple) else value
    return out
