"""Encoder weights from a file (torchvision / timm ResNet-18) or ImageNet, in a project."""

from __future__ import annotations

import hashlib
import json
import socket
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from alges_napari.core.errors import CheckpointError
from alges_napari.core.learn.encoder_weights import read_encoder_weights
from alges_napari.core.learn.model import build_model
from alges_napari.core.project.project import ENCODER_WEIGHTS_FILE, Project


@pytest.fixture(scope="module")
def frames(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("frames")
    rng = np.random.default_rng(1)
    for i in range(3):
        Image.fromarray(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)).save(root / f"f{i}.png")
    return root


@pytest.fixture(scope="module")
def resnet18_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """A torchvision ResNet-18 with random weights (no download), saved as torchvision does."""
    import torchvision

    torch.manual_seed(7)
    state = torchvision.models.resnet18(weights=None).state_dict()
    path = tmp_path_factory.mktemp("w") / "resnet18-random.pth"
    torch.save(state, path)
    return path, state


def assert_encoder_is(model: torch.nn.Module, state: dict) -> None:
    own = model.encoder.state_dict()
    assert set(own) == set(state) - {"fc.weight", "fc.bias"}
    for key, tensor in own.items():
        assert torch.equal(tensor, state[key]), key


def test_a_torchvision_state_dict_initialises_the_encoder_exactly(
    frames: Path, resnet18_file: tuple[Path, dict], tmp_path: Path
) -> None:
    from alges_napari.core.session import ActiveLearningSession, RoundConfig

    path, state = resnet18_file
    with Project.create(tmp_path / "p", frames, encoder_weights=path, input_size=(64, 64)) as proj:
        record = json.loads((proj.root / "alges_project.json").read_text())["encoder_weights"]
        assert record == {
            "file": "resnet18-random.pth",
            "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
            "stored": ENCODER_WEIGHTS_FILE,
        }
        session = ActiveLearningSession(proj, device="cpu")
        model = session._start(session._train_config(RoundConfig(warm_start=False))).model
        assert_encoder_is(model, state)
    with Project.create(tmp_path / "plain", frames, input_size=(64, 64)) as plain:
        assert "encoder_weights" not in plain.config
        session = ActiveLearningSession(plain, device="cpu")
        model = session._start(session._train_config(RoundConfig(warm_start=False))).model
        assert not torch.equal(model.encoder.conv1.weight, state["conv1.weight"])


def test_timm_and_safetensors_files_load_too(tmp_path: Path) -> None:
    import timm
    from safetensors.torch import save_file

    state = timm.create_model("resnet18", pretrained=False).state_dict()
    path = tmp_path / "timm_resnet18.safetensors"
    save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    model = build_model("Unet", "resnet18", num_classes=3, encoder_init=path)
    assert_encoder_is(model, state)
    wrapped = tmp_path / "lightning.ckpt"
    torch.save({"state_dict": {f"module.{k}": v for k, v in state.items()}}, wrapped)
    loaded, record = read_encoder_weights(wrapped)
    assert set(loaded) == set(state) - {"fc.weight", "fc.bias"} and record["file"] == wrapped.name


def test_a_mismatch_is_one_error_naming_it_and_no_project_is_made(
    frames: Path, resnet18_file: tuple[Path, dict], tmp_path: Path
) -> None:
    _, state = resnet18_file
    bad = dict(state)
    del bad["layer4.1.bn2.running_var"]
    bad["conv1.weight"] = torch.zeros(64, 3, 5, 5)
    bad["head.extra"] = torch.zeros(1)
    path = tmp_path / "bad.pth"
    torch.save(bad, path)
    with pytest.raises(CheckpointError) as err:
        Project.create(tmp_path / "p", frames, encoder_weights=path)
    text = str(err.value)
    assert str(path) in text
    assert "missing: layer4.1.bn2.running_var" in text
    assert "unexpected: head.extra" in text
    assert "conv1.weight (64, 3, 5, 5) vs (64, 3, 7, 7)" in text
    assert not (tmp_path / "p").exists()
    with pytest.raises(CheckpointError, match=r"do not fit the ResNetEncoder \(missing: layer1.2"):
        build_model("Unet", "resnet34", num_classes=3, encoder_init=resnet18_file[0])


def test_files_that_are_no_state_dict_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "code.pth"
    torch.save({"net": Path("x")}, path)  # an object: weights_only refuses to rebuild it
    with pytest.raises(CheckpointError, match="only tensors are read, no code"):
        read_encoder_weights(path)
    with pytest.raises(CheckpointError, match="do not exist"):
        read_encoder_weights(tmp_path / "none.pth")


def test_imagenet_offline_fails_at_once_with_a_clear_message(
    monkeypatch: pytest.MonkeyPatch, frames: Path, tmp_path: Path
) -> None:
    import segmentation_models_pytorch as smp

    def unreachable(*args, **kwargs):
        raise OSError(101, "Network is unreachable")

    def no_download(*args, **kwargs):
        raise AssertionError("nothing may be downloaded when the host cannot be reached")

    monkeypatch.setattr(socket, "create_connection", unreachable)
    monkeypatch.setattr(smp.encoders, "get_encoder", no_download)
    with pytest.raises(CheckpointError) as err:
        Project.create(tmp_path / "p", frames, encoder_weights="imagenet")
    text = str(err.value)
    assert "cannot download the ImageNet weights of resnet18" in text
    assert "huggingface.co" in text and "Network is unreachable" in text
    assert "offline" in text and "--encoder-weights PATH" in text
    assert not (tmp_path / "p").exists()
