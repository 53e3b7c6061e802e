"""Model factory, the ALGES layer handle, and pickle-free checkpoints."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from alges_napari.core.errors import AlgesError, CheckpointError
from alges_napari.core.learn.model import (
    ModelSpec,
    build_model,
    head_parts,
    last_layer,
    load_checkpoint,
    pick_device,
    preprocess,
    save_checkpoint,
)

SPEC = ModelSpec(
    arch="Unet",
    encoder="resnet18",
    num_classes=3,
    input_size=(32, 64),
    class_names=["a", "b", "c"],
    kwargs={"decoder_channels": (16, 8, 8, 8, 8)},
)


@pytest.mark.parametrize(
    ("arch", "kernel", "upsamples"),
    [
        ("Unet", 3, False),
        ("Linknet", 1, False),
        ("FPN", 1, True),
        ("DeepLabV3Plus", 1, True),
        ("PSPNet", 3, True),
        ("PAN", 3, True),
    ],
)
def test_head_parts_for_every_head_kind(arch: str, kernel: int, upsamples: bool) -> None:
    model = build_model(arch, "resnet18", num_classes=5)
    conv, post = head_parts(model)
    assert conv is last_layer(model) and conv.out_channels == 5
    assert conv.kernel_size == (kernel, kernel)
    x = torch.randn(1, 3, 128, 128)  # PSPNet/PAN pool deeply: 64 px would vanish
    store = {}
    conv.register_forward_hook(lambda m, i, o: store.update(o=o))
    with torch.no_grad():
        out = model(x)
        assert torch.allclose(post(store["o"]), out, atol=1e-6)  # the head's tail is all there is
    assert (store["o"].shape[-1] < out.shape[-1]) == upsamples
    assert not any(p.requires_grad for p in post.parameters())


def test_build_model_never_downloads_and_reports_bad_names() -> None:
    model = build_model("unet", "resnet18", num_classes=2, encoder_weights="imagenet")
    assert isinstance(model, nn.Module) and not model.training
    with pytest.raises(AlgesError, match="nonexistent"):
        build_model("Unet", "nonexistent-encoder")


def test_checkpoint_round_trip(tmp_path) -> None:
    model = SPEC.build()
    with torch.no_grad():
        last_layer(model).weight.normal_()
    path = save_checkpoint(model, tmp_path / "m.safetensors", SPEC, extra={"round": 3})
    assert (tmp_path / "m.json").is_file()
    loaded, spec, extra = load_checkpoint(path)
    assert spec == SPEC and extra == {"round": 3}
    for (k, a), (_, b) in zip(model.state_dict().items(), loaded.state_dict().items(), strict=True):
        assert torch.equal(a, b), k
    assert list(tmp_path.iterdir()) and not [p for p in tmp_path.iterdir() if p.suffix == ".tmp"]


def test_checkpoint_on_a_full_disk_is_a_clear_error_and_leaves_nothing(
    tmp_path, monkeypatch
) -> None:
    import safetensors.torch

    model = SPEC.build()
    path = save_checkpoint(model, tmp_path / "m.safetensors", SPEC)
    before = path.read_bytes()

    def full_disk(state, filename, metadata=None):
        Path(filename).write_bytes(b"half a checkp")  # what a real ENOSPC leaves behind
        raise RuntimeError("Error while serializing: I/O error: No space left on device")

    monkeypatch.setattr(safetensors.torch, "save_file", full_disk)
    with pytest.raises(AlgesError, match=r"cannot write .*m\.safetensors.*No space left"):
        save_checkpoint(model, path, SPEC)
    assert path.read_bytes() == before  # the previous checkpoint is untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json", "m.safetensors"]


def test_pickle_checkpoints_are_refused(tmp_path) -> None:
    model = SPEC.build()
    pt = tmp_path / "model.pt"
    torch.save(model.state_dict(), pt)
    with pytest.raises(CheckpointError, match="pickle"):
        load_checkpoint(pt)
    raw = tmp_path / "model.safetensors"
    raw.write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(CheckpointError, match="pickle"):
        load_checkpoint(raw)
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "missing.safetensors")


def test_user_weights_file_initialises_and_mismatch_is_clear(tmp_path) -> None:
    src = SPEC.build()
    f = tmp_path / "w.safetensors"
    save_file({k: v.contiguous() for k, v in src.state_dict().items()}, str(f))
    model = build_model("Unet", "resnet18", 3, weights=f, decoder_channels=(16, 8, 8, 8, 8))
    assert torch.equal(last_layer(model).weight, last_layer(src).weight)
    with pytest.raises(CheckpointError, match="do not fit"):
        build_model("Unet", "resnet18", 5, weights=f, decoder_channels=(16, 8, 8, 8, 8))


def test_preprocess_resizes_and_normalises() -> None:
    frames = torch.full((2, 48, 80, 3), 255, dtype=torch.uint8).numpy()
    x = preprocess(frames, SPEC)
    assert x.shape == (2, 3, 32, 64) and x.dtype == torch.float32
    want = (1.0 - torch.tensor(SPEC.mean)) / torch.tensor(SPEC.std)
    assert torch.allclose(x[0, :, 5, 5], want, atol=1e-5)
    assert pick_device("cpu").type == "cpu"
