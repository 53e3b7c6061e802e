"""The segmentation model: an smp factory, the layer ALGES differentiates, safe checkpoints.

Models come from segmentation-models-pytorch by architecture and encoder name, built with
``encoder_weights=None``: nothing is downloaded unless a user asks for ImageNet weights by
name. A user may initialise a model from a safetensors file of their own, or its encoder from
a torchvision or timm state dict (:mod:`.encoder_weights`). Checkpoints are safetensors (tensors only, no code) whose header
carries everything needed to rebuild the model, so a checkpoint is ONE file, written atomically;
a JSON copy of that metadata is written beside it for people and older readers. A checkpoint of
an older alges-napari has only the JSON sidecar; one with neither is a round cut short between
its two files and is refused. Pickles are refused, never unpickled.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from alges_napari.core.atomic import atomic_write_text, atomic_write_with
from alges_napari.core.errors import CheckpointError

#: ImageNet statistics: smp encoders expect them, trained from scratch or not.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
_SAFETENSORS_MAGIC_MAX_HEADER = 100_000_000
#: Key of the safetensors header metadata that holds the checkpoint's JSON metadata.
_META_KEY = "alges"


@dataclass
class ModelSpec:
    """Everything needed to rebuild a model and feed it frames.

    Attributes
    ----------
    arch, encoder : str
        smp architecture (``"Unet"``, ``"FPN"``, ``"DeepLabV3Plus"``, ...) and encoder name.
    num_classes : int
        Output channels.
    input_size : (int, int) or None
        (H, W) frames are resized to; both must be divisible by 32 (the encoders downsample 5
        times). None keeps each frame's size, which must then be divisible by 32.
    mean, std : tuple of float
        Per-channel normalisation of RGB values in [0, 1].
    class_names : list of str
        Names of the output classes, for people reading the checkpoint.
    kwargs : dict
        Extra keyword arguments given to ``smp.create_model``.
    """

    arch: str = "Unet"
    encoder: str = "resnet18"
    num_classes: int = 13
    input_size: tuple[int, int] | None = (224, 224)
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    class_names: list[str] = field(default_factory=list)
    kwargs: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelSpec:
        """Inverse of :meth:`to_dict`; unknown keys are ignored."""
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        if known.get("input_size") is not None:
            known["input_size"] = tuple(int(v) for v in known["input_size"])
        for key in ("mean", "std"):
            if key in known:
                known[key] = tuple(float(v) for v in known[key])
        if "class_names" in known:
            known["class_names"] = list(known["class_names"])
        # JSON turns tuples (e.g. decoder_channels) into lists; smp takes either, equality wants one.
        known["kwargs"] = {
            k: tuple(v) if isinstance(v, list) else v for k, v in dict(known.get("kwargs") or {}).items()
        }
        return cls(**known)

    @classmethod
    def for_schema(
        cls, schema: Any, arch: str, encoder: str, input_size: tuple[int, int] | None
    ) -> ModelSpec:
        """The spec of a model that segments ``schema``'s classes (ImageNet normalisation)."""
        return cls(
            arch=arch,
            encoder=encoder,
            num_classes=schema.num_classes,
            input_size=None if input_size is None else (int(input_size[0]), int(input_size[1])),
            class_names=list(schema.names),
        )

    def build(self, weights: str | Path | None = None) -> nn.Module:
        """Build the model this spec describes; see :func:`build_model`."""
        return build_model(
            self.arch, self.encoder, self.num_classes, weights=weights, **self.kwargs
        )


def build_model(
    arch: str = "Unet",
    encoder: str = "resnet18",
    num_classes: int = 13,
    in_channels: int = 3,
    weights: str | Path | None = None,
    encoder_init: str | Path | None = None,
    **kw: Any,
) -> nn.Module:
    """Build an smp segmentation model by name, never downloading weights.

    Parameters
    ----------
    arch : str
        Any ``segmentation_models_pytorch`` architecture name (case-insensitive).
    encoder : str
        Encoder name, e.g. ``"resnet18"``.
    num_classes : int
        Number of output classes.
    in_channels : int
        Input channels (3 for RGB frames).
    weights : path, optional
        A safetensors file whose tensors initialise the whole model (a checkpoint saved by
        :func:`save_checkpoint` or the user's own file with matching names and shapes).
    encoder_init : path or "imagenet", optional
        Initialise the encoder from a state dict file, or (``"imagenet"``, downloading) from
        smp's ImageNet weights: see
        :func:`~alges_napari.core.learn.encoder_weights.read_encoder_weights`. (An ``encoder_weights``
        in ``kw``, smp's own name, is dropped: a checkpoint's settings never download.)
    **kw
        Passed to ``smp.create_model`` (e.g. ``decoder_channels``).

    Returns
    -------
    torch.nn.Module
        The model, in eval mode.
    """
    import segmentation_models_pytorch as smp

    kw.pop("encoder_weights", None)  # never download: weights come only from a user file
    try:
        model = smp.create_model(
            arch,
            encoder_name=encoder,
            encoder_weights=None,
            in_channels=in_channels,
            classes=num_classes,
            **kw,
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise CheckpointError(
            f"cannot build model arch={arch!r} encoder={encoder!r}: {exc}"
        ) from exc
    if encoder_init is not None:
        from alges_napari.core.learn.encoder_weights import load_encoder_state, read_encoder_weights

        state, _ = read_encoder_weights(encoder_init, encoder)
        load_encoder_state(model, state, str(encoder_init))
    if weights is not None:
        load_weights(model, weights)
    return model.eval()


def head_parts(model: nn.Module) -> tuple[nn.Conv2d, nn.Module]:
    """Return the last learnable convolution and what the head applies after it.

    In every smp architecture the segmentation head is ``Sequential(conv, upsampling or
    Identity, activation)``; FPN, DeepLabV3(+), PSPNet, PAN, Segformer and UPerNet upsample
    after the convolution. ALGES differentiates the loss with respect to that convolution.

    Returns
    -------
    conv : torch.nn.Conv2d
        The last learnable layer.
    post : torch.nn.Module
        The rest of the head (parameter-free), Identity if nothing follows.
    """
    head = getattr(model, "segmentation_head", None)
    if isinstance(head, nn.Sequential) and len(head) and isinstance(head[0], nn.Conv2d):
        rest = nn.Sequential(*list(head)[1:]) if len(head) > 1 else nn.Identity()
        if any(p.requires_grad for p in rest.parameters()):
            raise CheckpointError(
                "the segmentation head has learnable layers after its convolution"
            )
        return head[0], rest
    raise CheckpointError(
        f"{type(model).__name__} has no smp-style segmentation_head starting with a Conv2d"
    )


def last_layer(model: nn.Module) -> nn.Conv2d:
    """The convolution ALGES differentiates: ``model.segmentation_head[0]`` in smp."""
    return head_parts(model)[0]


def pick_device(prefer: str | torch.device | None = None) -> torch.device:
    """Pick the compute device: ``prefer`` if given, else CUDA, else MPS, else CPU."""
    if prefer is not None:
        return torch.device(prefer)
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def preprocess(
    frames: np.ndarray | Sequence[np.ndarray], spec: ModelSpec, device: torch.device | None = None
) -> torch.Tensor:
    """Turn uint8 RGB frames into the model's normalised input.

    Parameters
    ----------
    frames : ndarray (N, H, W, 3) or sequence of (H, W, 3) uint8 arrays
        All of one size.
    spec : ModelSpec
        Supplies the input size (bilinear resize, antialiased when shrinking) and normalisation.
    device : torch.device, optional
        Where the tensor goes (the resize runs there too).

    Returns
    -------
    torch.Tensor (N, 3, h, w) float32
    """
    arr = np.stack(list(frames)) if not isinstance(frames, np.ndarray) else frames
    if arr.ndim != 4 or arr.shape[-1] != 3:
        raise CheckpointError(f"expected frames of shape (N, H, W, 3), got {arr.shape}")
    x = torch.from_numpy(np.ascontiguousarray(arr)).to(device or "cpu")
    x = x.permute(0, 3, 1, 2).float().div_(255.0)
    size = spec.input_size
    if size is not None and tuple(x.shape[-2:]) != tuple(size):
        x = torch.nn.functional.interpolate(
            x, size=tuple(size), mode="bilinear", align_corners=False, antialias=True
        )
    mean = torch.tensor(spec.mean, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(spec.std, device=x.device).view(1, 3, 1, 1)
    return (x - mean) / std


# ---------------------------------------------------------------- checkpoints


def _sidecar(path: Path) -> Path:
    return path.with_suffix(".json")


def _check_safetensors(path: Path) -> None:
    """Refuse anything that is not a safetensors file, before any parser sees it."""
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    with open(path, "rb") as fh:
        head = fh.read(9)
    # A pickle (torch.save) starts with a zip header ("PK") or the pickle opcode 0x80.
    if head[:2] == b"PK" or head[:1] == b"\x80":
        raise CheckpointError(
            f"{path} is a pickle (torch.save) file; pickles can run arbitrary code and are "
            "refused. Convert it with safetensors.torch.save_file(model.state_dict(), ...)"
        )
    header_len = int.from_bytes(head[:8], "little") if len(head) >= 9 else -1
    if not (0 < header_len < _SAFETENSORS_MAGIC_MAX_HEADER) or head[8:9] != b"{":
        raise CheckpointError(f"{path} is not a safetensors file")


def load_weights(model: nn.Module, path: str | Path, strict: bool = True) -> None:
    """Load a safetensors file's tensors into ``model``; clear errors on any mismatch."""
    from safetensors.torch import load_file

    path = Path(path)
    _check_safetensors(path)
    try:
        state = load_file(str(path))
    except Exception as exc:  # safetensors raises its own error types
        raise CheckpointError(f"cannot read {path}: {exc}") from exc
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    wrong = [k for k in own if k in state and own[k].shape != state[k].shape]
    if wrong or (strict and (missing or unexpected)):
        detail = "; ".join(
            f"{label}: {', '.join(names[:3])}{' ...' if len(names) > 3 else ''}"
            for label, names in (("missing", missing), ("unexpected", unexpected), ("shape", wrong))
            if names
        )
        raise CheckpointError(f"weights in {path} do not fit the model ({detail})")
    model.load_state_dict(state, strict=strict)


def save_checkpoint(
    model: nn.Module, path: str | Path, spec: ModelSpec, extra: dict[str, Any] | None = None
) -> Path:
    """Save the model as ONE safetensors file carrying its metadata (in its header), atomically.

    Complete the moment its rename lands; a copy of the metadata then goes beside it (``.json``)
    for people and older readers, and :func:`load_checkpoint` prefers the header.

    Parameters
    ----------
    model : torch.nn.Module
    path : path-like
        Target ``.safetensors`` file; the metadata copy goes to the same name with ``.json``.
    spec : ModelSpec
        How to rebuild the model.
    extra : dict, optional
        JSON-able metadata (round, training history, validation Dice, ...).

    Returns
    -------
    Path
        The safetensors file.
    """
    from safetensors.torch import save_file

    path = Path(path)
    # safetensors refuses shared or non-contiguous storage: give it plain CPU copies.
    state = {k: v.detach().to("cpu").contiguous().clone() for k, v in model.state_dict().items()}
    meta = {"spec": spec.to_dict(), "extra": extra or {}, "weights": path.name}
    # save_file streams to disk: it holds the GIL ~4x shorter than building the bytes with
    # save() (11 vs 45 ms for a ResNet-18 U-Net), which a GUI thread waiting on it feels.
    header = {"format": "pt", "arch": spec.arch, _META_KEY: json.dumps(meta)}

    def write(tmp: Path) -> None:
        # safetensors writes 0600 whatever the umask: keep the mode atomic_write_with gave
        # the temporary file (that of any new file).
        mode = tmp.stat().st_mode & 0o777
        try:
            save_file(state, str(tmp), metadata=header)
        except Exception as exc:  # SafetensorError (not an OSError) on a full disk
            raise OSError(f"{exc}") from exc
        os.chmod(tmp, mode)

    atomic_write_with(path, write)
    atomic_write_text(_sidecar(path), json.dumps(meta, indent=2) + "\n")
    return path


def checkpoint_metadata(path: str | Path) -> dict[str, Any] | None:
    """The metadata of a checkpoint, from its header or (older checkpoints) its JSON sidecar.

    Reads only the file's header, no tensor. None when it has neither: an incomplete
    checkpoint (an older alges-napari killed between the weights and their sidecar).

    Raises
    ------
    CheckpointError
        The file is not a safetensors file, or its metadata is unreadable.
    """
    path = Path(path)
    _check_safetensors(path)
    try:
        with open(path, "rb") as fh:
            size = int.from_bytes(fh.read(8), "little")
            header = json.loads(fh.read(size))
        text = (header.get("__metadata__") or {}).get(_META_KEY)
        if text is not None:
            return dict(json.loads(text))
        side = _sidecar(path)
        return dict(json.loads(side.read_text())) if side.is_file() else None
    except (OSError, ValueError, TypeError, AttributeError) as exc:
        raise CheckpointError(f"metadata of checkpoint {path} is unreadable: {exc}") from exc


def load_checkpoint(
    path: str | Path, device: str | torch.device = "cpu"
) -> tuple[nn.Module, ModelSpec, dict[str, Any]]:
    """Load a checkpoint written by :func:`save_checkpoint`, never unpickling anything.

    Returns
    -------
    model : torch.nn.Module (eval mode, on ``device``)
    spec : ModelSpec
    extra : dict
    """
    path = Path(path)
    meta = checkpoint_metadata(path)
    if meta is None:
        raise CheckpointError(
            f"checkpoint {path} has no metadata (neither in its header nor "
            f"{_sidecar(path).name} beside it): a round cut short while saving; "
            "delete it or train that round again"
        )
    try:
        spec = ModelSpec.from_dict(meta["spec"])
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise CheckpointError(f"metadata of checkpoint {path} is unreadable: {exc}") from exc
    model = spec.build()
    load_weights(model, path)
    return model.to(device).eval(), spec, dict(meta.get("extra") or {})
