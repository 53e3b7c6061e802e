"""Pretrained encoder weights: a torchvision or timm state dict from a file, or smp's ImageNet
weights downloaded when a user asks for them by name, checked against the encoder before use.

A project or an experiment starts its models' encoders from these weights (``alges init
--encoder-weights``, ``alges simulate --encoder-weights``); the model factory
(:func:`~alges_napari.core.learn.model.build_model`) applies them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from alges_napari.core.atomic import atomic_write_with
from alges_napari.core.errors import CheckpointError

#: Where smp keeps the ImageNet weights it downloads (segmentation_models_pytorch 0.5+).
IMAGENET_HOST = "huggingface.co"
#: A classifier's last layer, in torchvision's and timm's ResNets: a segmentation encoder has none.
_CLASSIFIER_KEYS = ("fc.weight", "fc.bias")


def read_encoder_weights(
    source: str | Path, encoder: str = "resnet18"
) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Read encoder weights: a state dict file, or smp's ImageNet weights (downloaded).

    Parameters
    ----------
    source : path or "imagenet"
        A torchvision or timm state dict of the encoder's network (ResNet-18 for
        ``resnet18``): safetensors, or a ``torch.save`` file (``.pth``), read with torch's
        ``weights_only`` loader, which rebuilds tensors and plain containers and runs no
        code. A ``{"state_dict": ...}`` or ``{"model": ...}`` wrapper and a ``module.``
        prefix are undone; the classifier (``fc.*``) is dropped. ``"imagenet"``: ask
        segmentation-models-pytorch to download its ImageNet weights (Hugging Face Hub);
        refused at once when that host cannot be reached.
    encoder : str
        The smp encoder name (for ``"imagenet"``).

    Returns
    -------
    state : dict of str to Tensor
        The encoder's tensors (check them with :func:`load_encoder_state`).
    record : dict
        ``{"file": name, "sha256": hex}`` of the file read (``"imagenet"`` and the smp
        source instead of a file for downloaded weights).

    Raises
    ------
    CheckpointError
        The file is missing, unreadable or holds no state dict; the download is impossible.
    """
    if str(source) == "imagenet":
        return _imagenet_encoder_state(encoder)
    path = Path(source)
    if not path.is_file():
        raise CheckpointError(f"encoder weights {path} do not exist")
    import hashlib

    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    state = _read_state_file(path)
    state = {k.removeprefix("module."): v for k, v in state.items()}
    state = {k: v for k, v in state.items() if k not in _CLASSIFIER_KEYS}
    return state, {"file": path.name, "sha256": digest}


def _read_state_file(path: Path) -> dict[str, torch.Tensor]:
    with open(path, "rb") as fh:
        head = fh.read(9)
    try:
        if head[8:9] == b"{":  # safetensors: an 8-byte header length, then JSON
            from safetensors.torch import load_file

            state: Any = load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # safetensors, pickle and zip raise their own error types
        raise CheckpointError(
            f"cannot read encoder weights {path} as safetensors or a torch state dict (only "
            f"tensors are read, no code): {type(exc).__name__}: {exc}"
        ) from None
    for wrapper in ("state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(wrapper), dict):
            state = state[wrapper]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"encoder weights {path} do not hold a state dict of tensors")
    return dict(state)


def _imagenet_encoder_state(encoder: str) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """smp's ImageNet weights of ``encoder``: a reachability check, then smp's own download."""
    import socket

    import segmentation_models_pytorch as smp

    settings = smp.encoders.encoders.get(encoder, {}).get("pretrained_settings", {})
    if "imagenet" not in settings:
        raise CheckpointError(
            f"segmentation-models-pytorch has no ImageNet weights for {encoder!r}"
        )
    try:  # fail at once offline, instead of after the hub's retries
        socket.create_connection((IMAGENET_HOST, 443), timeout=5).close()
    except OSError as exc:
        raise CheckpointError(
            f"cannot download the ImageNet weights of {encoder}: {IMAGENET_HOST} (where "
            f"segmentation-models-pytorch keeps them) cannot be reached ({exc}). This machine "
            "looks offline: download them on an online machine, or give a weights file "
            "(--encoder-weights PATH, e.g. a torchvision resnet18 state dict)"
        ) from None
    try:
        net = smp.encoders.get_encoder(encoder, weights="imagenet")
    except Exception as exc:  # the hub's HTTP and file errors are its own types
        raise CheckpointError(
            f"downloading the ImageNet weights of {encoder} failed: {type(exc).__name__}: {exc}"
        ) from None
    source = settings["imagenet"].get("repo_id", "smp")
    return dict(net.state_dict()), {"file": "imagenet", "source": str(source)}


def load_encoder_state(model: nn.Module, state: dict[str, torch.Tensor], where: str) -> None:
    """Copy ``state`` into ``model.encoder``, refusing any mismatch of keys or shapes.

    Raises
    ------
    CheckpointError
        One message naming the missing keys, the unexpected keys and the shape mismatches
        (the first few of each) of ``where``.
    """
    encoder = getattr(model, "encoder", None)
    if not isinstance(encoder, nn.Module):
        raise CheckpointError(f"{type(model).__name__} has no encoder to initialise")
    own = encoder.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    wrong = [
        f"{k} {tuple(state[k].shape)} vs {tuple(own[k].shape)}"
        for k in own
        if k in state and own[k].shape != state[k].shape
    ]
    if missing or unexpected or wrong:
        detail = "; ".join(
            f"{label}: {', '.join(names[:3])}{f' (+{len(names) - 3} more)' if len(names) > 3 else ''}"
            for label, names in (
                ("missing", missing),
                ("unexpected", unexpected),
                ("shape (file vs encoder)", wrong),
            )
            if names
        )
        raise CheckpointError(
            f"encoder weights {where} do not fit the {type(encoder).__name__} ({detail})"
        )
    encoder.load_state_dict(state, strict=True)


def save_encoder_weights(state: dict[str, torch.Tensor], path: str | Path) -> Path:
    """Save encoder tensors as one safetensors file, atomically (a project keeps its copy)."""
    from safetensors.torch import save_file

    path = Path(path)
    plain = {k: v.detach().to("cpu").contiguous().clone() for k, v in state.items()}

    def write(tmp: Path) -> None:
        mode = tmp.stat().st_mode & 0o777
        try:
            save_file(plain, str(tmp))
        except Exception as exc:  # SafetensorError (not an OSError) on a full disk
            raise OSError(f"{exc}") from exc
        os.chmod(tmp, mode)

    atomic_write_with(path, write)
    return path
