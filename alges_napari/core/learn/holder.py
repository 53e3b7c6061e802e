"""The model of a labelling session or of a simulated round: how it starts, trains, loads, saves.

:class:`ModelHolder` is the one place where a model is started -- seeded and built from a
:class:`~alges_napari.core.learn.config.TrainConfig`, optionally with encoder weights, or
continued from a checkpoint when the settings say to warm start -- and fine-tuned. The widget's
:class:`~alges_napari.core.session.ActiveLearningSession` and the simulator's
:class:`~alges_napari.core.experiment.pool.Runner` both hold their models in one, so a simulated
round trains exactly what a session round on the same frames, settings and seed trains (the
test ``tests/core/test_simulator_equals_session.py`` checks that the weights are identical).
"""

from __future__ import annotations

from collections.abc import Generator, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from alges_napari.core.learn.config import TrainConfig
from alges_napari.core.learn.model import (
    ModelSpec,
    build_model,
    load_checkpoint,
    pick_device,
    save_checkpoint,
)
from alges_napari.core.learn.samples import TrainSamples
from alges_napari.core.learn.train import TrainResult, iter_train
from alges_napari.core.progress import Progress, SupportsIsSet


class ModelHolder:
    """A segmentation model, the :class:`ModelSpec` that rebuilds and feeds it, and its device.

    Parameters
    ----------
    schema : object
        The class schema the model segments (``num_classes`` and ``names``); a started model
        has one output channel per class.
    device : torch.device or str, optional
        Where the model lives, trains and predicts; default ``model.pick_device()``.

    Attributes
    ----------
    model : torch.nn.Module or None
        The model, None until :meth:`start` or :meth:`load`.
    spec : ModelSpec or None
        Its spec (the loaded checkpoint's after :meth:`load` or a warm :meth:`start`).
    device : torch.device
    """

    def __init__(self, schema: Any, device: torch.device | str | None = None):
        self.schema = schema
        self.device = device if isinstance(device, torch.device) else pick_device(device)
        self.model: nn.Module | None = None
        self.spec: ModelSpec | None = None

    def spec_for(self, config: TrainConfig) -> ModelSpec:
        """The spec of a model of ``config``'s architecture, encoder and input size that
        segments the schema's classes (ImageNet normalisation)."""
        return ModelSpec.for_schema(self.schema, config.arch, config.encoder, config.input_size)

    def start(
        self,
        config: TrainConfig,
        *,
        encoder_init: str | Path | None = None,
        warm_from: str | Path | None = None,
    ) -> nn.Module:
        """Start the model a round trains: continue ``warm_from`` or build a new one.

        The global torch generator is seeded with ``config.seed`` first, so the new model's
        random weights (and anything else drawing from that generator while it trains) are
        the seed's, in a session as in a simulation.

        Parameters
        ----------
        config : TrainConfig
            Architecture, encoder, input size, seed, and ``warm_start``: whether a round
            continues ``warm_from``.
        encoder_init : path or "imagenet", optional
            Encoder weights every new model starts from (see :func:`.model.build_model`);
            ignored when the model continues a checkpoint, which holds its own.
        warm_from : path, optional
            The checkpoint a warm-start round continues (the previous round's). None, or
            ``config.warm_start`` False: a new model.

        Returns
        -------
        torch.nn.Module
            The started model (also :attr:`model`), on :attr:`device`.
        """
        torch.manual_seed(config.seed)
        if config.warm_start and warm_from is not None:
            self.load(warm_from)
        else:
            spec = self.spec_for(config)
            model = build_model(
                config.arch,
                config.encoder,
                num_classes=spec.num_classes,
                encoder_init=encoder_init,
            )
            self.model, self.spec = model.to(self.device), spec
        assert self.model is not None
        return self.model

    def load(self, path: str | Path) -> dict[str, Any]:
        """Hold the model of checkpoint ``path`` (eval mode, on :attr:`device`).

        Returns
        -------
        dict
            The checkpoint's extra metadata (see :func:`.model.save_checkpoint`).
        """
        self.model, self.spec, extra = load_checkpoint(path, device=str(self.device))
        return extra

    def save(self, path: str | Path, extra: dict[str, Any] | None = None) -> Path:
        """Write the held model with its spec and ``extra`` as one checkpoint at ``path``.

        Returns
        -------
        Path
            The safetensors file written.
        """
        model, spec = self._held()
        return save_checkpoint(model, path, spec, extra=extra)

    def train(
        self,
        samples: TrainSamples | Iterable[tuple[np.ndarray, np.ndarray]],
        config: TrainConfig,
        *,
        held_out: TrainSamples | Iterable[tuple[np.ndarray, np.ndarray]] | None = None,
        stop: SupportsIsSet | None = None,
    ) -> Generator[Progress, None, TrainResult]:
        """Fine-tune the held model in place with :func:`.train.iter_train`.

        Parameters
        ----------
        samples : TrainSamples or iterable of (frame, mask)
            The labelled training frames.
        config : TrainConfig
            The schedule, loss and seed of the shuffling and augmentation generator.
        held_out : TrainSamples or iterable of (frame, mask), optional
            Labelled frames kept out of training whose loss decides early stopping.
        stop : object with ``is_set()``, optional
            Ends training within one batch; the result says ``stopped`` then.

        Yields
        ------
        Progress
            :func:`~.train.iter_train`'s "train" progress.

        Returns
        -------
        TrainResult
        """
        model, spec = self._held()
        return (
            yield from iter_train(
                model,
                samples,
                config,
                stop=stop,
                device=self.device,
                mean=spec.mean,
                std=spec.std,
                held_out=held_out,
            )
        )

    def _held(self) -> tuple[nn.Module, ModelSpec]:
        if self.model is None or self.spec is None:
            raise RuntimeError("no model held: start or load one first")
        return self.model, self.spec
