"""``--encoder-weights`` of ``alges init`` and ``alges simulate``."""

from __future__ import annotations

import hashlib
import json
import socket
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from alges_napari import cli

TINY = ["--epochs", "1", "--batch-size", "4", "--input-size", "64", "64", "--threads", "1"]


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torchvision

    path = tmp_path_factory.mktemp("w") / "resnet18.pth"
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), path)
    return path


@pytest.fixture
def frames(tmp_path: Path) -> Path:
    root = tmp_path / "frames"
    root.mkdir()
    for i in range(3):
        Image.fromarray(np.full((48, 64, 3), 30 * i, np.uint8)).save(root / f"f{i}.png")
    return root


def test_init_records_the_weights_and_refuses_what_does_not_fit(
    weights: Path, frames: Path, tmp_path: Path, capsys, monkeypatch
) -> None:
    args = ["init", "--project", str(tmp_path / "p"), "--data", str(frames)]
    assert cli.main([*args, "--encoder-weights", str(weights)]) == 0
    assert "encoder from resnet18.pth" in capsys.readouterr().err
    config = json.loads((tmp_path / "p" / "alges_project.json").read_text())
    assert config["encoder_weights"]["sha256"] == hashlib.sha256(weights.read_bytes()).hexdigest()

    args = ["init", "--project", str(tmp_path / "q"), "--data", str(frames)]
    assert cli.main([*args, "--encoder", "resnet34", "--encoder-weights", str(weights)]) == 2
    assert f"encoder weights {weights} do not fit the ResNetEncoder" in capsys.readouterr().err
    assert not (tmp_path / "q").exists()

    def unreachable(*a, **k):
        raise OSError("Network is unreachable")

    monkeypatch.setattr(socket, "create_connection", unreachable)
    assert cli.main([*args, "--encoder-weights", "imagenet"]) == 2
    err = capsys.readouterr().err
    assert "cannot download the ImageNet weights of resnet18" in err and "offline" in err


def test_simulate_takes_the_option(tree: Path, weights: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "exp"
    args = ["simulate", "--data", str(tree), "--strategy", "random", "--init", "3"]
    args += ["--query-size", "2", "--rounds", "0", "--repeats", "1", "--test-size", "0.25"]
    args += ["--no-full-pool", *TINY, "--quiet"]
    assert cli.main([*args, "--out", str(out), "--encoder-weights", str(weights)]) == 0
    stored = json.loads((out / "config.json").read_text())
    assert stored["encoder_weights"] == str(weights.resolve())
    bad = tmp_path / "bad.pth"
    torch.save({"conv1.weight": torch.zeros(1)}, bad)
    assert cli.main([*args, "--out", str(tmp_path / "exp2"), "--encoder-weights", str(bad)]) == 2
    assert f"encoder weights {bad} do not fit" in capsys.readouterr().err
