"""The engine choice: an argument from the edge, the measured pick, the export cache, training's
format."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from alges_napari.core.acquire.scoring import ScoreOptions
from alges_napari.core.errors import AlgesError
from alges_napari.core.learn import engine, engines
from alges_napari.core.learn.config import TrainConfig
from alges_napari.core.learn.model import build_model
from alges_napari.core.learn.train import train
from tests.engine_spy import engine_environ

FRAMES = 2000  # 2000 x 64 x 64 pixels: enough work for auto to measure


def tiny() -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model("Unet", "resnet18", num_classes=3, decoder_channels=(8, 8, 8, 8, 8))


@pytest.fixture(autouse=True)
def fresh(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """No measurement of an earlier test counts; ``$ALGES_ENGINE`` unset (the edges read it)."""
    monkeypatch.delenv(engine.ENV_VAR, raising=False)
    engine.forget_measurements()
    yield
    engine.forget_measurements()


class FakeOnnx:
    """Stands for an export: costs ``export_s``, returns the eager logits (+ ``shift``)."""

    name = "onnx"
    export_s = 30.0
    made = 0
    shift = 0.0

    def __init__(self, model: torch.nn.Module, size: tuple[int, int] | None = None):
        FakeOnnx.made += 1
        self.torch = engines.TorchEngine(model)

    def prepare(self) -> None:
        pass

    def run(self, x: torch.Tensor, features: bool) -> dict[str, torch.Tensor]:
        out = self.torch.run(x, features)
        return {**out, "logits": out["logits"] + FakeOnnx.shift}


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> dict:
    """Per-frame seconds the fake measurement reports, and how often it was asked."""
    seen: dict = {"calls": 0, "per_frame": {}}
    real = engine.measure

    def measure(todo, x, rounds=3):  # type: ignore[no-untyped-def]
        seen["calls"] += 1
        _, logits = real(todo, x, rounds=1)  # the engines really run once: their logits
        return {e.name: seen["per_frame"][e.name] for e in todo}, logits

    FakeOnnx.made, FakeOnnx.shift = 0, 0.0
    monkeypatch.setattr(engine, "measure", measure)
    monkeypatch.setattr(engine, "OnnxEngine", FakeOnnx)
    monkeypatch.setattr(engine, "onnx_available", lambda: True)
    return seen


def test_choices_are_arguments_and_none_is_auto(monkeypatch: pytest.MonkeyPatch) -> None:
    for gone in ("get_engine", "set_engine", "use_engine"):
        assert not hasattr(engine, gone)  # no process-wide choice
    with pytest.raises(AlgesError, match="unknown engine 'fast'.*auto, torch, onnx"):
        engine.check_choice("fast")
    with pytest.raises(AlgesError, match="unknown engine 'fast'"):
        ScoreOptions(engine="fast")  # refused where the options are made, at the edge
    x = torch.zeros((1, 3, 64, 64))
    # $ALGES_ENGINE is the edges' default, never read below them: a pass given no choice is auto.
    monkeypatch.setenv(engine.ENV_VAR, "onnx")
    before = engine_environ()
    picked = engine.pick_engine(tiny().eval(), x, 1)  # too little work to measure: eager torch
    assert picked.name == "torch-contiguous"
    assert engine.pick_engine(tiny().eval(), x, 1, "torch-channels-last").name == (
        "torch-channels-last"
    )
    assert engine_environ() == before == {engine.ENV_VAR: "onnx"}


def test_auto_runs_torch_without_onnxruntime_and_says_nothing(
    monkeypatch: pytest.MonkeyPatch, fake: dict
) -> None:
    fake["per_frame"] = {"torch-contiguous": 0.10, "torch-channels-last": 0.08}
    monkeypatch.setattr(engine, "onnx_available", lambda: False)
    model, x = tiny(), torch.randn(2, 3, 64, 64)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        picked = engine.pick_engine(model, x, FRAMES, "auto")
    assert isinstance(picked, engines.TorchEngine)
    assert set(engine.measured_timings().popitem()[1].per_frame) == {
        "torch-contiguous",
        "torch-channels-last",
    }
    with pytest.raises(AlgesError, match="pip install onnxruntime onnx"):
        engine.pick_engine(model, x, FRAMES, "onnx")


def test_auto_keeps_the_fastest_and_weighs_each_export(fake: dict) -> None:
    fake["per_frame"] = {"torch-contiguous": 0.10, "torch-channels-last": 0.08, "onnx": 0.05}
    model, x = tiny(), torch.randn(2, 3, 64, 64)
    assert engine.pick_engine(model, x, FRAMES).name == "onnx"  # 100 s against 160 s
    assert engine.pick_engine(model, x, FRAMES).name == "onnx"
    assert fake["calls"] == 1 and FakeOnnx.made == 1  # measured and exported once
    with torch.no_grad():
        next(model.parameters()).add_(1.0)  # a new round's weights: the export is stale
    # 600 frames: 30 s + a 30 s export against 48 s on channels-last torch.
    assert engine.pick_engine(model, x, 600).name == "torch-channels-last"
    assert engine.pick_engine(model, x, FRAMES).name == "onnx"  # 100 + 30 s against 160 s
    assert fake["calls"] == 1 and FakeOnnx.made == 2
    # Too little work to measure anything: eager torch, as before any engine existed.
    assert engine.pick_engine(model, x, 10).name == "torch-contiguous"


def test_an_export_that_disagrees_with_torch_is_never_used(fake: dict) -> None:
    fake["per_frame"] = {"torch-contiguous": 0.10, "torch-channels-last": 0.12, "onnx": 0.01}
    FakeOnnx.shift = 1.0
    model, x = tiny(), torch.randn(2, 3, 64, 64)
    with pytest.warns(RuntimeWarning, match="disagrees with PyTorch"):
        assert engine.pick_engine(model, x, FRAMES).name == "torch-contiguous"


def test_the_export_follows_the_weights() -> None:
    pytest.importorskip("onnxruntime")
    model, x = tiny().eval(), torch.randn(2, 3, 64, 96)
    first = engine.pick_engine(model, x, 1, "onnx")
    assert engine.pick_engine(model, x, 1, "onnx") is first
    model.train()(torch.randn(4, 3, 64, 64))  # BatchNorm's running statistics move
    model.eval()
    second = engine.pick_engine(model, x, 1, "onnx")
    assert second is not first
    want = engines.TorchEngine(model).run(x, True)
    got = second.run(x, True)
    for name in ("logits", "z", "o", "features"):
        np.testing.assert_allclose(got[name], want[name], rtol=1e-4, atol=1e-4, err_msg=name)


def test_a_new_rounds_export_fills_the_traced_graph_with_its_weights(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pytest.importorskip("onnxruntime")
    traces = []
    real = engines._trace

    def trace(model: torch.nn.Module, size: tuple[int, int] | None, fold: bool) -> bytes:
        traces.append((size, fold))
        return real(model, size, fold)

    monkeypatch.setattr(engines, "_trace", trace)
    model, x = tiny().eval(), torch.randn(2, 3, 64, 96)
    for step in range(3):  # a new model's BatchNorm weights are all equal; trained ones are not
        with torch.no_grad():
            for p in model.parameters():
                p.add_(0.05 * torch.randn(p.shape))
        onnx = engines.OnnxEngine(model, (64, 96))
        want = engines.TorchEngine(model).run(x, True)
        got = onnx.run(x, True)
        for name in ("logits", "z", "o", "features"):  # float32 rounding, reordered: 1e-4 of scale
            scale = float(want[name].abs().max())
            assert float((got[name] - want[name]).abs().max()) <= 1e-4 * scale, (step, name)
    assert traces == [((64, 96), False)]  # traced once, at the frames' size; filled since
    engines.OnnxEngine(model, None)  # another input shape is another graph
    assert traces == [((64, 96), False), (None, False)]


def test_training_tries_both_formats_then_keeps_the_faster() -> None:
    model = tiny()
    trial = engines.FormatTrial(model, (128, 224), 8, torch.device("cpu"))
    order = []
    for _ in range(8):
        cl = trial.next_format()
        order.append(cl)
        trial.record(cl, 4.0 if cl else 8.0, 8)
    # Warm-ups, then two timed steps each, alternating; then the faster (channels-last).
    assert order == [False, True, False, True, False, True, True, True]
    assert trial.decided() is True
    # A later round of the same model and size starts decided.
    assert engines.FormatTrial(model, (128, 224), 8, torch.device("cpu")).next_format() is True
    # Small batches are not worth trying: contiguous.
    assert engines.FormatTrial(model, (32, 32), 2, torch.device("cpu")).decided() is False


def test_a_channels_last_training_step_matches_a_contiguous_one() -> None:
    rng = np.random.default_rng(0)
    pairs = [
        (rng.integers(0, 256, (64, 64, 3), dtype=np.uint8), rng.integers(0, 3, (64, 64), np.uint8))
        for _ in range(4)
    ]
    cfg = TrainConfig(input_size=(64, 64), epochs=1, batch_size=4, augment=False)
    results, models = [], []
    for cl in (False, True):
        model = tiny()
        results.append(train(model, pairs, cfg, channels_last=cl))
        models.append(model)
    assert models[1].encoder.conv1.weight.is_contiguous(memory_format=torch.channels_last)
    assert results[0].history[0]["loss"] == pytest.approx(results[1].history[0]["loss"], rel=1e-5)
    for a, b in zip(models[0].parameters(), models[1].parameters(), strict=True):
        # Adam's step on a near-zero gradient follows its rounding: a fraction of one step.
        torch.testing.assert_close(a, b, rtol=1e-3, atol=1e-4)


def test_the_commands_engine_option_is_the_choice_for_their_work(
    monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    from alges_napari.cli import build_parser
    from alges_napari.cli.checks import check_args
    from alges_napari.cli.common import ENGINE_CHOICES

    assert ENGINE_CHOICES == engine.ENGINES
    parser = build_parser()
    data = tmp_path / "d"
    data.mkdir()
    command = ["simulate", "--data", str(data)]
    for env, option, chosen in (
        (None, ["--engine", "torch"], "torch"),
        (None, [], None),  # nothing chosen: auto
        ("torch-channels-last", [], "torch-channels-last"),  # $ALGES_ENGINE, read here
        ("torch-channels-last", ["--engine", "torch"], "torch"),  # the option wins
    ):
        if env is None:
            monkeypatch.delenv(engine.ENV_VAR, raising=False)
        else:
            monkeypatch.setenv(engine.ENV_VAR, env)
        before = engine_environ()
        args = parser.parse_args([*command, *option])
        check_args(args)
        assert args.engine == chosen
        assert engine_environ() == before  # chosen, not written anywhere
    for command in (["rank", "--project", "p"], ["train", "--project", "p"]):
        assert parser.parse_args(command).engine is None  # no option: $ALGES_ENGINE, else auto
    with pytest.raises(SystemExit):
        parser.parse_args(["rank", "--project", "p", "--engine", "fast"])
