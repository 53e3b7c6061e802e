"""The training schedule: the step floor, early stopping on held-out loss, the kept weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from alges_napari.core.learn import train as train_mod
from alges_napari.core.learn.config import PRESETS, TrainConfig
from alges_napari.core.learn.train import EarlyStopping, iter_train, make_samples
from alges_napari.core.progress import run_to_end


def pairs(n: int) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(0)
    return [
        (
            rng.integers(0, 256, (32, 32, 3), dtype=np.uint8),
            rng.integers(0, 3, (32, 32)).astype(np.uint8),
        )
        for _ in range(n)
    ]


def tiny() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 3, 1))


def run(monkeypatch, cfg: TrainConfig, n: int, held: int, losses: list[float]):
    """Train with a constructed held-out loss sequence; the weights at evaluation ``i`` are
    tagged by writing ``i`` into the bias, so the kept evaluation can be read back."""
    evals: list[int] = []

    def fake_held_out_loss(model, samples, config, device, mean, std):
        evals.append(len(evals))
        with torch.no_grad():
            model[0].bias.fill_(float(len(evals)))
        return losses[len(evals) - 1]

    monkeypatch.setattr(train_mod, "_train_step", lambda *a, **k: 1.0)
    monkeypatch.setattr(train_mod, "held_out_loss", fake_held_out_loss)
    model = tiny()
    held_out = make_samples(pairs(held), (32, 32)) if held else None
    result = run_to_end(iter_train(model, make_samples(pairs(n), (32, 32)), cfg, held_out=held_out))
    kept = int(model[0].bias[0]) if evals else None
    return result, evals, kept


def test_without_held_out_frames_training_stops_at_the_step_floor(monkeypatch) -> None:
    cfg = TrainConfig(
        input_size=(32, 32),
        epochs=1,
        batch_size=4,
        min_steps=9,
        patience=3,
        max_steps=50,
        augment=False,
    )
    result, evals, _ = run(monkeypatch, cfg, n=8, held=0, losses=[])
    # 2 steps an epoch: 5 whole epochs reach the 9-step floor; nothing held out, no evaluation.
    assert (result.steps, len(result.history), evals) == (10, 5, [])
    assert not result.early_stopped and result.best_step is None


def test_early_stopping_after_the_floor_keeps_the_best_weights(monkeypatch) -> None:
    # 10 labels, batch 4: 3 steps an epoch (4, 4, 2); evaluations every >= 4 steps, i.e.
    # every 2 epochs, at steps 6, 12, 18, ...
    cfg = TrainConfig(
        input_size=(32, 32),
        epochs=1,
        batch_size=4,
        min_steps=12,
        patience=2,
        max_steps=60,
        eval_every=4,
        augment=False,
    )
    losses = [3.0, 2.0, 1.5, 1.6, 1.7, 0.1, 0.1]
    result, evals, kept = run(monkeypatch, cfg, n=10, held=2, losses=losses)
    # Best at the 3rd evaluation (step 18); the 4th and 5th do not improve: stop at step 30.
    assert len(evals) == 5 and result.steps == 30 and result.early_stopped
    assert result.best_step == 18 and kept == 3  # the 3rd evaluation's weights are back
    assert [h.get("held_out_loss") for h in result.history if "held_out_loss" in h] == losses[:5]


def test_the_floor_holds_even_when_held_out_loss_rises_early(monkeypatch) -> None:
    cfg = TrainConfig(
        input_size=(32, 32),
        epochs=1,
        batch_size=4,
        min_steps=24,
        patience=1,
        max_steps=60,
        eval_every=3,
        augment=False,
    )
    losses = [1.0] + [2.0] * 20  # never improves after the first evaluation
    result, evals, kept = run(monkeypatch, cfg, n=8, held=2, losses=losses)
    # 2 steps an epoch, evaluated every 2 epochs (>= 3 steps): steps 4, 8, ..., 24 = the floor.
    assert result.steps == 24 and len(evals) == 6 and result.early_stopped
    assert result.best_step == 4 and kept == 1


def test_training_stops_at_max_steps_while_held_out_loss_still_improves(monkeypatch) -> None:
    cfg = TrainConfig(
        input_size=(32, 32),
        epochs=1,
        batch_size=4,
        min_steps=4,
        patience=2,
        max_steps=10,
        eval_every=2,
        augment=False,
    )
    losses = [5.0, 4.0, 3.0, 2.0, 1.0, 0.5]
    result, evals, kept = run(monkeypatch, cfg, n=8, held=2, losses=losses)
    assert result.steps == 10 and len(evals) == 5 and not result.early_stopped
    assert result.best_step == 10 and kept == 5


def test_early_stopping_bookkeeping() -> None:
    stop = EarlyStopping(patience=2)
    assert stop.update(1.0, 10) and not stop.exhausted()
    assert not stop.update(1.0, 20) and not stop.exhausted()  # equal is no improvement
    assert stop.update(0.5, 30) and stop.since_best == 0
    assert not stop.update(0.7, 40) and not stop.update(0.6, 50) and stop.exhausted()
    assert stop.best_step == 30 and stop.best == 0.5
    assert not EarlyStopping(patience=0).exhausted()


def test_steps_for_and_the_cpu_preset_schedule() -> None:
    cfg = TrainConfig(epochs=2, batch_size=8, min_steps=30, max_steps=100, patience=3)
    assert cfg.steps_for(10) == (30, 100)  # 2 steps an epoch: 15 epochs
    assert cfg.steps_for(400) == (100, 100)  # 50 steps an epoch: 2 epochs exceed the floor
    assert TrainConfig(epochs=2, batch_size=8, min_steps=30, max_steps=100).steps_for(10) == (
        30,
        30,
    )
    with pytest.raises(Exception, match="patience"):
        TrainConfig(patience=-1)
    cpu = PRESETS["cpu"]
    assert cpu.min_steps > 0 and cpu.patience > 0 and cpu.max_steps >= cpu.min_steps
