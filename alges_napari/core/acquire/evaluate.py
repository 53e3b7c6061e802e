"""Evaluating a model on labelled frames: ONE function for the session and the simulator.

:func:`iter_evaluate` predicts the frames with the scoring pass
(:func:`~alges_napari.core.acquire.scoring.iter_score`, nothing but predictions asked of it) and
fills a :class:`~alges_napari.core.learn.metrics.SegmentationMeter` with each prediction against
its truth. The session's validation Dice (and its training-label Dice) and the simulator's test
Dice columns (:func:`~alges_napari.core.experiment.pool.evaluation_columns`) are read from that
meter, so both measure a model the same way: data-set level Dice per class, pixels labelled 255
ignored, at the resolution the frames and truths are handed over at.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from typing import Any

import numpy as np
from torch import nn

from alges_napari.core.acquire.scoring import ScoreOptions, iter_score
from alges_napari.core.data.frames.stream import KeyedFrames
from alges_napari.core.learn.metrics import SegmentationMeter
from alges_napari.core.learn.model import ModelSpec
from alges_napari.core.progress import Cancelled, Progress, SupportsIsSet, is_stopped, restage


def iter_evaluate(
    model: nn.Module,
    spec: ModelSpec,
    frame_of: Callable[[str], np.ndarray],
    keys: Sequence[str],
    truth_of: Callable[[str], np.ndarray],
    *,
    options: ScoreOptions | None = None,
    stop: SupportsIsSet | None = None,
) -> Generator[Progress, None, SegmentationMeter]:
    """Predict the frames of ``keys`` and measure them against their truth.

    Parameters
    ----------
    model : torch.nn.Module
        The segmentation model (put in eval mode by the scoring pass).
    spec : ModelSpec
        Its input size, normalisation and number of classes (the meter's).
    frame_of : callable ``key -> uint8 (H, W, 3)``
        The frames; a reader with ``iter_keys`` (``KeyReader``, the pool cache's) is read in
        the order cheapest for its source, and its ``frame_size`` is the size predictions are
        made at (see :class:`~alges_napari.core.data.frames.stream.KeyedFrames`).
    keys : sequence of str
        The frames to evaluate.
    truth_of : callable ``key -> uint8 (H, W)``
        The label of a frame, at the size of its prediction; 255 marks ignored pixels.
    options : ScoreOptions, optional
        How the forward pass runs (batch size, device, engine), chosen at the edge; default
        :class:`~alges_napari.core.acquire.scoring.ScoreOptions`'s.
    stop : object with ``is_set()``, optional
        A stop request raises :class:`~alges_napari.core.progress.Cancelled` (within one
        batch): no Dice of part of the frames escapes.

    Yields
    ------
    Progress
        stage "evaluate", ``done``/``total`` frames, after each batch.

    Returns
    -------
    SegmentationMeter
        Filled with every frame of ``keys``.
    """
    keys = list(keys)
    meter = SegmentationMeter(spec.num_classes)

    def on_frame(i: int, pred: np.ndarray, heat: Any) -> None:
        meter.update(pred, truth_of(keys[i]))

    gen = iter_score(
        model,
        KeyedFrames(frame_of, keys),
        spec,
        want=set(),
        on_frame=on_frame,
        stop=stop,
        options=options,
    )
    yield from restage(gen, "evaluate")
    if is_stopped(stop):
        raise Cancelled()
    return meter
