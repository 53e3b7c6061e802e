"""Fine-tuning: loss maths, augmentation invariants, progress, stop, CUDA out-of-memory fall-back."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from alges_napari.core.errors import AlgesError
from alges_napari.core.learn import train as train_mod
from alges_napari.core.learn.config import PRESETS, TrainConfig, preset_config
from alges_napari.core.learn.losses import dice_loss, segmentation_loss
from alges_napari.core.learn.train import augment_batch, iter_train, make_samples
from alges_napari.core.progress import StopFlag, run_to_end

C = 4


def tiny_model(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, C, 1))


def tiny_pairs(
    n: int = 6, shape: tuple[int, int] = (40, 56), seed: int = 0
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Frames whose colour encodes the class, so a 1x1 model can learn them."""
    rng = np.random.default_rng(seed)
    palette = np.array([[200, 30, 30], [30, 200, 30], [30, 30, 200], [200, 200, 30]], np.uint8)
    out = []
    for _ in range(n):
        mask = np.zeros(shape, np.uint8)
        mask[:, shape[1] // 2 :] = rng.integers(1, C)
        mask[: shape[0] // 3] = rng.integers(0, C)
        frame = palette[mask] + rng.integers(0, 20, (*shape, 3), dtype=np.uint8)
        mask[0, 0] = 255
        out.append((frame, mask))
    return out


def config(**kw: object) -> TrainConfig:
    base = {"input_size": (32, 64), "epochs": 2, "batch_size": 4, "lr": 1e-2, "augment": False}
    base.update(kw)
    return TrainConfig(**base)


def test_dice_loss_matches_numpy() -> None:
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(2, C, 5, 6)).astype(np.float32)
    target = rng.integers(0, C - 1, (2, 5, 6))  # class C-1 absent: left out of the mean
    target[0, 0, :3] = 255
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    valid = target != 255
    dices = []
    for c in range(C):
        y = (target == c) & valid
        if not y.any():
            continue
        pc = p[:, c] * valid
        dices.append((2 * (pc * y).sum() + 1) / (pc.sum() + y.sum() + 1))
    expected = 1 - np.mean(dices)
    got = dice_loss(torch.from_numpy(logits), torch.from_numpy(target))
    assert got.item() == pytest.approx(expected, rel=1e-5)


def test_segmentation_loss_ignores_255() -> None:
    rng = np.random.default_rng(1)
    logits = torch.from_numpy(rng.normal(size=(1, C, 4, 4)).astype(np.float32))
    target = torch.from_numpy(rng.integers(0, C, (1, 4, 4)))
    changed = target.clone()
    target[0, 0] = 255
    changed[0, 0] = 255
    changed[0, 1, 1] = 255
    lp = torch.log_softmax(logits, 1)[0]
    valid = [(i, j) for i in range(4) for j in range(4) if target[0, i, j] != 255]
    ce = -np.mean([lp[target[0, i, j], i, j].item() for i, j in valid])
    assert segmentation_loss(logits, target, dice_weight=0.0).item() == pytest.approx(ce, rel=1e-5)
    assert segmentation_loss(logits, changed).item() != segmentation_loss(logits, target).item()
    all_ignored = torch.full_like(target, 255)
    assert segmentation_loss(logits, all_ignored).item() == 0.0


def test_augment_keeps_labels_and_marks_outside_255() -> None:
    gen = torch.Generator().manual_seed(0)
    images = torch.rand(8, 3, 32, 48)
    masks = torch.randint(0, C, (8, 32, 48))
    masks[:, 10:12] = 255
    out_img, out_mask = augment_batch(images, masks, gen)
    assert out_img.shape == images.shape and out_mask.shape == masks.shape
    assert out_img.min() >= 0 and out_img.max() <= 1
    assert set(out_mask.unique().tolist()) <= set(range(C)) | {255}  # nearest: no new values
    # A rotation by a non-zero angle brings pixels from outside the frame: corners become 255.
    corners = out_mask[:, [0, 0, -1, -1], [0, -1, 0, -1]]
    assert (corners == 255).any()
    again = augment_batch(images, masks, torch.Generator().manual_seed(0))
    assert torch.equal(again[1], out_mask)  # seeded


def test_make_samples_resizes_masks_nearest() -> None:
    pairs = tiny_pairs(3)
    s = make_samples(pairs, (32, 64))
    assert s.images.shape == (3, 3, 32, 64) and s.images.dtype == torch.uint8
    assert s.masks.shape == (3, 32, 64)
    for (_, m), sm in zip(pairs, s.masks, strict=True):
        assert set(sm.unique().tolist()) <= set(np.unique(m).tolist())
    with pytest.raises(AlgesError, match="no labelled frames"):
        make_samples([], (32, 32))


def test_training_reduces_loss_and_reports_progress() -> None:
    model = tiny_model()
    cfg = config(epochs=6)
    progress = []
    result = run_to_end(iter_train(model, tiny_pairs(), cfg), progress.append)
    steps = 2  # 6 samples, batch 4
    assert len(progress) == cfg.epochs * steps
    first, last = progress[0], progress[-1]
    for name in ("epoch", "epochs", "step", "steps", "loss", "images_per_s", "batch_size"):
        assert getattr(first, name) is not None, name
    assert first.stage == "train" and last.done == last.total == cfg.epochs * steps
    assert [h["epoch"] for h in result.history] == list(range(1, 7))
    assert result.history[-1]["loss"] < 0.7 * result.history[0]["loss"]
    assert not result.stopped and not model.training


def test_training_leaves_no_gradients_behind() -> None:
    # The last step's gradients are as large as the model; the scoring pass and the rounds'
    # idle time must not carry them.
    model = tiny_model()
    run_to_end(iter_train(model, tiny_pairs(), config(epochs=1)))
    assert all(p.grad is None for p in model.parameters())
    stop = StopFlag()
    gen = iter_train(model, tiny_pairs(), config(epochs=5, batch_size=2), stop=stop)
    next(gen)
    assert any(p.grad is not None for p in model.parameters())  # a step did run
    stop.request()
    run_to_end(gen)
    assert all(p.grad is None for p in model.parameters())


def test_stop_ends_within_one_batch() -> None:
    stop = StopFlag()
    gen = iter_train(tiny_model(), tiny_pairs(), config(epochs=50, batch_size=2), stop=stop)
    seen = [next(gen)]
    stop.request()
    result = run_to_end(gen, seen.append)
    assert result.stopped and len(seen) == 1 and result.history == []


def test_cuda_out_of_memory_retries_with_smaller_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    real_step = train_mod._train_step
    calls = {"n": 0, "sizes": []}

    def flaky(model, opt, scaler, images, masks, cfg, amp):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        calls["sizes"].append(images.shape[0])
        if calls["n"] == 1:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2 GiB")
        return real_step(model, opt, scaler, images, masks, cfg, amp)

    monkeypatch.setattr(train_mod, "_train_step", flaky)
    progress = []
    with pytest.warns(RuntimeWarning, match="retrying with 2"):
        result = run_to_end(
            iter_train(tiny_model(), tiny_pairs(), config(epochs=1)), progress.append
        )
    assert progress[0].warning and progress[0].batch_size == 2
    assert calls["sizes"] == [4, 2, 2, 2]  # the failed batch is redone, then all of it at 2
    assert result.batch_size == 2 and result.warnings and len(result.history) == 1


def test_presets_and_config_round_trip() -> None:
    assert PRESETS["gpu"].input_size == (224, 224) and PRESETS["gpu"].lr == 5e-5
    assert PRESETS["gpu"].batch_size == 32 and PRESETS["gpu"].epochs >= 25
    cfg = preset_config("cpu", epochs=2, input_size=[64, 96])
    assert TrainConfig.from_json(cfg.to_json()) == cfg
    with pytest.raises(AlgesError, match="unknown preset"):
        preset_config("tpu")
    with pytest.raises(AlgesError, match="unknown training settings"):
        preset_config("cpu", epoch=3)
    with pytest.raises(AlgesError, match="multiples of 32"):
        TrainConfig(input_size=(50, 64))


def test_lone_trailing_image_joins_the_last_batch() -> None:
    """5 images in batches of 2 at 32x32: a last batch of one would break BatchNorm (1x1 maps)."""
    from alges_napari.core.learn.config import TrainConfig
    from alges_napari.core.learn.model import build_model
    from alges_napari.core.learn.train import iter_train, make_samples

    rng = np.random.default_rng(0)
    pairs = [
        (
            rng.integers(0, 256, (32, 32, 3), dtype=np.uint8),
            rng.integers(0, 3, (32, 32)).astype(np.uint8),
        )
        for _ in range(5)
    ]
    model = build_model("Unet", "resnet18", 3)
    progress: list[dict] = []
    cfg = TrainConfig(input_size=(32, 32), epochs=1, batch_size=2)
    result = run_to_end(iter_train(model, make_samples(pairs, (32, 32)), cfg), progress.append)
    steps = [p for p in progress if p.loss is not None and p.step is not None]
    assert len(steps) == 2 and not result.stopped  # batches of 2 and 3, never of 1


def test_min_steps_adds_epochs_for_small_labelled_sets() -> None:
    cfg = TrainConfig(input_size=(32, 32), epochs=2, batch_size=4, min_steps=10)
    assert cfg.epochs_for(6) == 5  # 2 steps an epoch: 5 epochs reach 10 steps
    assert cfg.epochs_for(100) == 2  # 25 steps an epoch: the epoch count already suffices
    assert TrainConfig(epochs=3).epochs_for(1) == 3
    with pytest.raises(AlgesError):
        TrainConfig(min_steps=-1)
    progress: list = []
    model = tiny_model()
    result = run_to_end(
        iter_train(model, tiny_pairs(), config(epochs=1, min_steps=4)), progress.append
    )
    assert len(result.history) == 2 and progress[-1].epochs == 2  # 6 samples, batch 4


def test_a_single_label_trains_at_a_small_input_size() -> None:
    """One labelled frame at 32x32: every batch holds one image, whose deepest maps are 1x1."""
    from alges_napari.core.learn.model import build_model

    rng = np.random.default_rng(0)
    pair = (
        rng.integers(0, 256, (32, 32, 3), dtype=np.uint8),
        rng.integers(0, 3, (32, 32)).astype(np.uint8),
    )
    torch.manual_seed(0)
    model = build_model("Unet", "resnet18", 3)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    cfg = TrainConfig(input_size=(32, 32), epochs=2, batch_size=8)
    result = run_to_end(iter_train(model, make_samples([pair], (32, 32)), cfg))
    assert not result.stopped and len(result.history) == 2
    assert all(np.isfinite(h["loss"]) for h in result.history)
    after = model.state_dict()
    head = "segmentation_head.0.weight"
    assert not torch.equal(after[head], before[head])
    bn = "encoder.bn1"  # running statistics stay as they were: one image estimates nothing
    assert torch.equal(after[f"{bn}.running_mean"], before[f"{bn}.running_mean"])


def test_a_batch_of_one_leaves_every_layer_in_training_mode() -> None:
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.Conv2d(4, C, 1))
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scaler = torch.amp.GradScaler("cuda", enabled=False)
    images, masks = torch.rand(1, 3, 1, 1), torch.zeros(1, 1, 1, dtype=torch.long)
    loss = train_mod._train_step(model, optimizer, scaler, images, masks, config(), False)
    assert np.isfinite(loss) and all(m.training for m in model.modules())
