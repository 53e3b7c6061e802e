"""The scoring pass on ONNX Runtime and channels-last gives the eager fp32 pass's results."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from alges_napari.core.acquire.scores import HEAT
from alges_napari.core.acquire.scoring import ScoreOptions, score_frames
from alges_napari.core.acquire.step import Selection, iter_acquire, local_scorer
from alges_napari.core.acquire.strategies import get_strategy
from alges_napari.core.data.frames import open_frames
from alges_napari.core.learn.model import ModelSpec, last_layer
from alges_napari.core.progress import run_to_end

pytest.importorskip("onnxruntime")

SAMPLE = Path(__file__).resolve().parents[3] / "sample_data" / "cholecseg8k"
FIELDS = {"emb_seg", "emb_img", "entropy", "margin", "least_confidence", "features"}
ENGINES = ["onnx", "torch-channels-last"]


def float_model(spec: ModelSpec, seed: int = 0) -> torch.nn.Module:
    """A float32 ResNet-18 U-Net whose head is scaled up, so predictions are not all one class."""
    torch.manual_seed(seed)
    model = spec.build().eval()
    with torch.no_grad():
        last_layer(model).weight.mul_(30.0)
        last_layer(model).bias.normal_()
    return model


def scored(model, frames, spec, choice):  # type: ignore[no-untyped-def]
    preds, heats = {}, {}

    def keep(i: int, pred: np.ndarray, heat: np.ndarray) -> None:
        preds[i], heats[i] = pred, heat

    options = ScoreOptions(batch_size=4, engine=choice)
    result = score_frames(model, frames, spec, want={*FIELDS, HEAT}, on_frame=keep,
                          options=options)  # fmt: skip
    order = sorted(preds)
    return result, np.stack([preds[i] for i in order]), np.stack([heats[i] for i in order])


@pytest.fixture(scope="module")
def small() -> tuple:
    spec = ModelSpec(
        arch="Unet", encoder="resnet18", num_classes=13, input_size=(64, 96),
        kwargs={"decoder_channels": (32, 16, 16, 16, 16)},
    )  # fmt: skip
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (80, 120, 3), dtype=np.uint8) for _ in range(6)]
    model = float_model(spec)
    return spec, frames, model, scored(model, frames, spec, "torch-contiguous")


@pytest.mark.parametrize("choice", ENGINES)
def test_predictions_agree_with_the_eager_fp32_pass(small: tuple, choice: str) -> None:
    spec, frames, model, (_, ref_pred, ref_heat) = small
    _, pred, heat = scored(model, frames, spec, choice)
    assert pred.shape == ref_pred.shape == (6, 80, 120)
    assert len(np.unique(ref_pred)) > 3  # a non-trivial prediction
    assert (pred == ref_pred).mean() >= 0.999
    np.testing.assert_allclose(heat, ref_heat, rtol=1e-3, atol=1e-3 * float(ref_heat.max()))


@pytest.mark.parametrize("choice", ENGINES)
def test_embeddings_and_scores_agree_within_1e_3_relative(small: tuple, choice: str) -> None:
    spec, frames, model, (ref, _, _) = small
    got, _, _ = scored(model, frames, spec, choice)
    for name in sorted(FIELDS):
        a, b = getattr(got, name), getattr(ref, name)
        assert a.shape == b.shape and np.abs(b).max() > 0, name
        # Relative to each row's scale: a class no pixel predicts has an exact 0 either way.
        scale = np.abs(b).max(axis=-1, keepdims=True) if b.ndim == 2 else np.abs(b)
        assert np.all(np.abs(a - b) <= 1e-3 * scale), name


def test_the_sample_data_gets_the_same_picks_on_every_engine() -> None:
    with open_frames(SAMPLE) as source:
        keys = source.keys
        frames = {k: source[i] for i, k in enumerate(keys)}
    spec = ModelSpec(arch="Unet", encoder="resnet18", num_classes=13, input_size=(64, 96))
    model = float_model(spec, seed=1)
    for strategy in ["alges-seg", "coreset"]:  # the other fields: the tests above
        picks = {}
        for choice in ["torch-contiguous", *ENGINES]:
            # The engine an edge chose (`--engine`, the widget's setting), as an argument.
            options = ScoreOptions(batch_size=8, engine=choice)
            step = run_to_end(
                iter_acquire(
                    local_scorer(model, spec, frames.__getitem__, options),
                    get_strategy(strategy),
                    keys[8:],
                    Selection(query_size=6, seed=3),
                    labelled=keys[:8],
                )
            )
            picks[choice] = [e.key for e in step.queue]
        assert len(keys) == 48 and len(picks["onnx"]) == 6
        assert picks["onnx"] == picks["torch-contiguous"] == picks["torch-channels-last"], strategy
