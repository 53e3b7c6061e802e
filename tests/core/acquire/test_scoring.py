"""ALGES embeddings and the scoring pass against independent brute-force computations."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from alges_napari.core.acquire.scores import HEAT
from alges_napari.core.acquire.scoring import (
    ScoreOptions,
    alges_embeddings,
    iter_score,
    predict_masks,
    score_frames,
)
from alges_napari.core.errors import AlgesError
from alges_napari.core.learn.model import ModelSpec, build_model, head_parts, last_layer
from alges_napari.core.progress import Cancelled, Progress, run_to_end

C = 4
#: (arch, smp kwargs): a 3x3 head (Unet), a 1x1 head without upsampling (Unet with kernel 1 via
#: Linknet's head), and heads that upsample after their 1x1 convolution (FPN, DeepLabV3+).
ARCHS = [
    ("Unet", {"decoder_channels": (16, 8, 8, 8, 8)}),
    ("Linknet", {}),
    ("FPN", {"decoder_pyramid_channels": 32, "decoder_segmentation_channels": 32}),
    ("DeepLabV3Plus", {"decoder_channels": 16}),
]


def tiny_model(arch: str, kw: dict, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    model = build_model(arch, "resnet18", num_classes=C, **kw).double().eval()
    with torch.no_grad():  # a freshly initialised head is near zero; make the test non-trivial
        last_layer(model).weight.mul_(30.0)
        last_layer(model).bias.normal_()
    return model


def brute_img(model: torch.nn.Module, x: torch.Tensor) -> np.ndarray:
    """Per image: a fresh full backward of the mean CE vs argmax, norms of weight.grad rows."""
    conv = last_layer(model)
    rows = []
    for i in range(len(x)):
        model.zero_grad()
        out = model(x[i : i + 1])
        F.cross_entropy(out, out.argmax(1)).backward()
        rows.append(conv.weight.grad.flatten(1).norm(dim=1).numpy().copy())
    return np.array(rows)


def brute_seg(model: torch.nn.Module, x: torch.Tensor) -> np.ndarray:
    """Per pixel (at the conv's resolution): autograd of that pixel's own CE loss w.r.t. W."""
    conv = last_layer(model)
    store = {}
    hook = conv.register_forward_hook(lambda m, i, o: store.update(z=i[0].detach()))
    with torch.no_grad():
        model(x)
    hook.remove()
    weight = conv.weight.detach().clone().requires_grad_(True)
    out = np.zeros((len(x), C))
    for b in range(len(x)):
        o = F.conv2d(store["z"][b : b + 1], weight, conv.bias, conv.stride, conv.padding)
        yhat = o.argmax(1)[0]
        h, w = yhat.shape
        for r in range(h):
            for c in range(w):
                loss = F.cross_entropy(o[:, :, r, c], yhat[r : r + 1, c])
                (g,) = torch.autograd.grad(loss, weight, retain_graph=True)
                out[b, int(yhat[r, c])] += float((g**2).sum())
    return out


@pytest.mark.parametrize(("arch", "kw"), ARCHS, ids=[a for a, _ in ARCHS])
def test_alges_img_matches_full_backward(arch: str, kw: dict) -> None:
    model = tiny_model(arch, kw)
    x = torch.randn(3, 3, 64, 64, dtype=torch.float64)
    got = alges_embeddings(model, x, "img", batch_size=2)
    want = brute_img(model, x)
    assert got.shape == (3, C)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-12 * np.abs(want).max())
    assert np.abs(want).max() > 0


@pytest.mark.parametrize(("arch", "kw"), ARCHS, ids=[a for a, _ in ARCHS])
def test_alges_seg_matches_per_pixel_autograd(arch: str, kw: dict) -> None:
    model = tiny_model(arch, kw, seed=1)
    x = torch.randn(2, 3, 32, 32, dtype=torch.float64)
    got = alges_embeddings(model, x, "seg", batch_size=2)
    want = brute_seg(model, x)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-10 * np.abs(want).max())
    assert (want > 0).sum() >= 2


def test_one_by_one_head_delta_closed_form() -> None:
    """With a 1x1 head and no upsampling, dL/do = (p - onehot(yhat)) / (H*W): dW by hand."""
    model = tiny_model("Linknet", {})
    conv, post = head_parts(model)
    assert conv.kernel_size == (1, 1)
    x = torch.randn(2, 3, 32, 32, dtype=torch.float64)
    store = {}
    hook = conv.register_forward_hook(lambda m, i, o: store.update(z=i[0], o=o))
    with torch.no_grad():
        model(x)
    hook.remove()
    z, o = store["z"], store["o"]
    p = o.softmax(1)
    onehot = F.one_hot(o.argmax(1), C).permute(0, 3, 1, 2).double()
    delta = (p - onehot) / (o.shape[-2] * o.shape[-1])
    dw = torch.einsum("bchw,bdhw->bcd", delta, z)
    np.testing.assert_allclose(
        alges_embeddings(model, x, "img"), dw.norm(dim=2).numpy(), rtol=1e-10
    )


def test_embeddings_independent_of_batch_composition() -> None:
    model = tiny_model("Unet", ARCHS[0][1])
    x = torch.randn(4, 3, 32, 32, dtype=torch.float64)
    together = alges_embeddings(model, x, "img", batch_size=4)
    alone = np.concatenate([alges_embeddings(model, x[i : i + 1], "img") for i in range(4)])
    np.testing.assert_allclose(together, alone, rtol=1e-10)


def test_bad_variant_and_shape() -> None:
    model = tiny_model("Linknet", {})
    with pytest.raises(AlgesError, match="variant"):
        alges_embeddings(model, torch.zeros(1, 3, 32, 32), "pixel")
    with pytest.raises(AlgesError, match="shape"):
        alges_embeddings(model, torch.zeros(3, 32, 32), "img")


# ---------------------------------------------------------------- the scoring pass


def _frames(n: int, h: int = 40, w: int = 56, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for _ in range(n)]


def _float_model(arch: str = "Unet") -> tuple[torch.nn.Module, ModelSpec]:
    kw = dict(ARCHS)[arch]
    model = tiny_model(arch, kw).float()
    spec = ModelSpec(arch=arch, encoder="resnet18", num_classes=C, input_size=(32, 64), kwargs=kw)
    return model, spec


def test_iter_score_predictions_equal_plain_inference() -> None:
    model, spec = _float_model()
    frames = _frames(5)
    seen: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    result = score_frames(
        model,
        frames,
        spec,
        want={"emb_seg", HEAT},
        options=ScoreOptions(batch_size=2),
        on_frame=lambda i, pred, heat: seen.__setitem__(i, (pred, heat)),
    )
    plain = predict_masks(model, frames, spec, batch_size=3)
    assert sorted(seen) == list(range(5))
    for i in range(5):
        pred, heat = seen[i]
        assert pred.dtype == np.uint8 and pred.shape == (40, 56)
        np.testing.assert_array_equal(pred, plain[i])
        # The heat map comes at the model's resolution (32x64); the cache resizes it on read.
        assert heat.shape == (32, 64) and np.all(heat >= 0) and heat.max() > 0
    assert result.emb_seg.shape == (5, C) and result.emb_img is None


@pytest.mark.parametrize("want", [set(), {"entropy"}, {"emb_seg"}])
def test_heat_maps_only_when_asked_and_no_pixel_gradient_without_them(want, monkeypatch) -> None:
    # An evaluation (want empty) or a sink that keeps no heat map gets None for the heat and
    # the pass computes no per-pixel gradient unless emb_seg needs it; with HEAT the same
    # pass hands over the same heat maps as emb_seg's gradient gives. Predictions are equal.
    from alges_napari.core.acquire import scoring

    model, spec = _float_model()
    frames = _frames(3)
    calls: list[int] = []
    real = scoring._seg_pixel_norms

    def spy(*args):
        calls.append(1)
        return real(*args)

    monkeypatch.setattr(scoring, "_seg_pixel_norms", spy)
    runs = {}
    for asked in (frozenset(want), frozenset(want | {HEAT})):
        seen: dict[int, tuple[np.ndarray, object]] = {}
        calls.clear()
        score_frames(model, frames, spec, want=asked, options=ScoreOptions(batch_size=2),
                     on_frame=lambda i, pred, heat, seen=seen: seen.__setitem__(i, (pred, heat)))  # fmt: skip
        runs[HEAT in asked] = (seen, len(calls))
    (without, n_without), (with_heat, n_with) = runs[False], runs[True]
    assert all(heat is None for _, heat in without.values())
    assert n_without == (2 if "emb_seg" in want else 0) and n_with == 2  # 2 batches
    for i in range(3):
        np.testing.assert_array_equal(without[i][0], with_heat[i][0])
        assert with_heat[i][1].shape == (32, 64) and with_heat[i][1].max() > 0


def test_iter_score_fields_match_direct_computations() -> None:
    model, spec = _float_model("FPN")
    frames = _frames(3, 64, 64)
    want = {"emb_img", "emb_seg", "badge", "entropy", "margin", "least_confidence", "features"}
    res = score_frames(model, frames, spec, want=want, options=ScoreOptions(batch_size=2))
    from alges_napari.core.learn.model import preprocess

    x = preprocess(np.stack(frames), spec)
    np.testing.assert_allclose(res.emb_img, alges_embeddings(model, x, "img", batch_size=2), rtol=1e-4)
    np.testing.assert_allclose(res.emb_seg, alges_embeddings(model, x, "seg", batch_size=2), rtol=1e-4)
    # badge is the flattened per-image gradient: its class-row norms are ALGES-img.
    conv = last_layer(model)
    badge = res.badge.reshape(3, C, -1)
    assert res.badge.shape == (3, conv.weight[0].numel() * C)
    np.testing.assert_allclose(np.linalg.norm(badge, axis=2), res.emb_img, rtol=1e-5)
    with torch.no_grad():
        # Same batches as the pass (oneDNN may pick another convolution algorithm for another
        # batch size: logits then differ by ~1e-3), probabilities in float64.
        logits = torch.cat([model(x[:2]), model(x[2:])])
        p = logits.double().softmax(1).numpy()
        feats = model.encoder(x)[-1].mean(dim=(2, 3)).numpy()
    ps = np.sort(p, axis=1)
    plogp = np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0)
    np.testing.assert_allclose(res.entropy, -plogp.sum(1).mean((1, 2)), rtol=1e-4)
    np.testing.assert_allclose(res.margin, (ps[:, -1] - ps[:, -2]).mean((1, 2)), rtol=1e-4)
    np.testing.assert_allclose(res.least_confidence, (1 - ps[:, -1]).mean((1, 2)), rtol=1e-4)
    np.testing.assert_allclose(res.features, feats, rtol=1e-4, atol=1e-6)


def test_iter_score_progress_and_stop_within_one_batch() -> None:
    model, spec = _float_model()
    frames = _frames(7)
    stop = threading.Event()
    calls: list[int] = []
    gen = iter_score(
        model,
        frames,
        spec,
        on_frame=lambda i, p, h: calls.append(i),
        stop=stop,
        options=ScoreOptions(batch_size=2),
    )
    assert next(gen) == Progress("score", 0, 7)
    assert next(gen).done == 2
    stop.set()
    with pytest.raises(Cancelled):
        next(gen)
    assert calls == [0, 1]  # nothing past the batch in flight
    progress: list[Progress] = []
    run_to_end(iter_score(model, frames, spec, options=ScoreOptions(batch_size=3)), progress.append)
    assert [p.done for p in progress] == [0, 3, 6, 7]


def test_iter_score_rejects_unknown_field() -> None:
    model, spec = _float_model()
    with pytest.raises(AlgesError, match="unknown score fields"):
        run_to_end(iter_score(model, _frames(1), spec, want={"emb_pixel"}))


def test_the_step_and_the_pass_take_few_parameters() -> None:
    """Issue 24: the step gets a ready scorer and strategy, the pass its options in one value."""
    import inspect

    from alges_napari.core.acquire.step import iter_acquire

    step = inspect.signature(iter_acquire).parameters
    assert list(step) == ["scorer", "strategy", "pool", "selection", "labelled", "sink", "stop"]
    assert len(inspect.signature(iter_score).parameters) == 8
    assert ScoreOptions() == ScoreOptions(batch_size=8, device=None, engine=None)
    with pytest.raises(AlgesError, match="batch size must be >= 1, got 0"):
        ScoreOptions(batch_size=0)
