"""Checks of the settings a user gives, made before any work starts.

The ``alges`` commands and the widget's forms call these before they train, score or write
anything, so a mistyped strategy, engine or device, a bad size or a missing path is refused in
the first second with a message naming the value (and the closest valid one), and nothing is
written. Each check raises :class:`~alges_napari.core.errors.AlgesError`; none does any work
(the device check asks torch whether the device exists, nothing more).

Cheap to import: torch is imported only to check a CUDA or MPS device.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from alges_napari.core.errors import AlgesError

#: The device names torch takes here: ``cpu``, ``cuda``, ``cuda:N``, ``mps``.
_DEVICE = re.compile(r"(cpu|cuda|mps)(?::(\d+))?")


def did_you_mean(value: object, choices: Sequence[str]) -> str:
    """`` (did you mean 'x'?)`` for the choice closest to ``value``, or an empty string."""
    close = difflib.get_close_matches(str(value).strip().lower(), list(choices), n=1, cutoff=0.5)
    return f" (did you mean {close[0]!r}?)" if close else ""


def check_choice(what: str, value: str, choices: Sequence[str]) -> str:
    """Return ``value`` if it is one of ``choices``; else refuse, naming them and the closest."""
    if value in choices:
        return value
    raise AlgesError(
        f"unknown {what} {value!r}{did_you_mean(value, choices)}; choose one of: "
        f"{', '.join(choices)}"
    )


def check_whole(what: str, value: Any, minimum: int = 1) -> int | None:
    """Return ``value`` (None stays None) if it is a whole number ``>= minimum``; else refuse."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise AlgesError(f"{what} must be a whole number, got {value!r}")
    if value < minimum:
        raise AlgesError(f"{what} must be at least {minimum}, got {value}")
    return value


def check_size(what: str, size: Sequence[int] | None) -> tuple[int, int] | None:
    """Return ``(H, W)`` (None stays None) if both are multiples of 32, at least 32."""
    if size is None:
        return None
    values = tuple(size)
    if (
        len(values) != 2
        or any(isinstance(v, bool) or not isinstance(v, int) for v in values)
        or min(values) < 32
        or any(v % 32 for v in values)
    ):
        shown = " ".join(str(v) for v in values)
        hint = ""
        if len(values) == 2 and all(isinstance(v, int) and v > 0 for v in values):
            near = [max(32, 32 * round(v / 32)) for v in values]
            hint = f" (did you mean {near[0]} {near[1]}?)"
        raise AlgesError(f"{what} {shown} must be two multiples of 32, each at least 32{hint}")
    return values  # type: ignore[return-value]


def check_strategy(name: str) -> str:
    """The registered name of strategy ``name``; refused (with the closest name) when unknown."""
    return resolve_strategy(name).name


def resolve_strategy(name: str) -> Any:
    """The :class:`~alges_napari.core.acquire.strategies.Strategy` called ``name``: what an edge
    (a command, a form) hands down; refused, naming ``name`` and the closest name, when unknown."""
    from alges_napari.core.acquire.strategies import get_strategy

    return get_strategy(name)


def engine_from_env(environ: Mapping[str, str] | None = None) -> str | None:
    """The engine ``$ALGES_ENGINE`` names: the edges' default when the user chose none.

    Read once, where a command or the widget starts; nothing below the edge reads the
    environment, and nothing writes it.

    Parameters
    ----------
    environ : mapping, optional
        Default ``os.environ``.

    Returns
    -------
    str or None
        The variable's engine; None when it is unset or empty (the pass then runs ``auto``).

    Raises
    ------
    AlgesError
        The variable names no engine (the message names it and the closest engine).
    """
    value = (os.environ if environ is None else environ).get("ALGES_ENGINE")
    if not value:
        return None  # nothing to check: no torch import (the engine module needs it)
    from alges_napari.core.learn.engine import ENGINES, ENV_VAR, VARIANTS

    if value not in ENGINES + VARIANTS:
        raise AlgesError(
            f"${ENV_VAR}={value!r} is not an engine{did_you_mean(value, ENGINES)}; choose "
            f"one of: {', '.join(ENGINES)} (or unset it)"
        )
    return value


def check_engine(choice: str | None) -> str | None:
    """Check an engine choice (None: auto, nothing to check) and return it.

    ``onnx`` needs ONNX Runtime and the ``onnx`` package: refused here when they are missing,
    not after a round's training. The environment is not read here: the edge passes
    :func:`engine_from_env` when the user chose nothing.
    """
    if choice is None:
        return None  # no torch import (the engine module needs it)
    from alges_napari.core.learn.engine import ENGINES, VARIANTS, onnx_available

    check_choice("engine", choice, ENGINES + VARIANTS)
    if choice == "onnx" and not onnx_available():
        raise AlgesError(
            "engine 'onnx' needs ONNX Runtime and onnx, which are not installed "
            "(pip install onnxruntime onnx), or choose auto or torch"
        )
    return choice


def check_device(device: Any) -> str | None:
    """Return ``device`` if torch can use it here: ``cpu``, ``cuda[:N]`` or ``mps``; None stays.

    A CUDA device on a machine without a usable CUDA GPU (or beyond the GPUs there are), or MPS
    without Apple's GPU, is refused with what this machine has.
    """
    if device is None:
        return None
    text = str(device).strip().lower()
    match = _DEVICE.fullmatch(text)
    if match is None:
        raise AlgesError(
            f"unknown device {device!r}{did_you_mean(text, ['cpu', 'cuda', 'mps'])}; use cpu, "
            "cuda, cuda:N (the N-th GPU) or mps (Apple), or leave it out to pick the best here"
        )
    kind, index = match.group(1), match.group(2)
    if kind == "cpu":
        return text
    import torch

    if kind == "cuda":
        if not torch.cuda.is_available():
            why = (
                "this PyTorch was built without CUDA"
                if torch.version.cuda is None
                else "no CUDA GPU is usable here"
            )
            raise AlgesError(f"device {device!r}: {why}; use cpu, or leave it out")
        count = torch.cuda.device_count()
        if index is not None and int(index) >= count:
            raise AlgesError(
                f"device {device!r}: this machine has {count} CUDA GPU(s), "
                f"cuda:0 to cuda:{count - 1}"
            )
        return text
    mps = getattr(torch.backends, "mps", None)
    if mps is None or not mps.is_available():
        raise AlgesError(f"device {device!r}: Apple's MPS is not available here; use cpu")
    return text


def check_exists(what: str, path: Any) -> Path:
    """Return ``path`` if it exists; else refuse, naming it (and a near name beside it)."""
    p = Path(path).expanduser()
    if p.exists():
        return p
    hint = ""
    try:
        if p.parent.is_dir():
            names = [c.name for c in p.parent.iterdir()]
            close = difflib.get_close_matches(p.name, names, n=1, cutoff=0.6)
            hint = f" (did you mean {p.parent / close[0]}?)" if close else ""
    except OSError:
        pass
    raise AlgesError(f"{what} {path} does not exist{hint}")


def check_model(arch: str | None, encoder: str | None) -> None:
    """Refuse a segmentation-models-pytorch architecture or encoder name it does not know.

    Imports segmentation-models-pytorch (a few seconds): call it only for names the user gave.
    """
    import segmentation_models_pytorch as smp

    if arch is not None and arch.lower() not in smp.MODEL_ARCHITECTURES_MAPPING:
        names = [a.__name__ for a in smp.MODEL_ARCHITECTURES_MAPPING.values()]
        close = difflib.get_close_matches(arch.lower(), list(smp.MODEL_ARCHITECTURES_MAPPING), n=1)
        hint = f" (did you mean {smp.MODEL_ARCHITECTURES_MAPPING[close[0]].__name__!r}?)"
        raise AlgesError(
            f"unknown model architecture {arch!r}{hint if close else ''}; choose one of: "
            f"{', '.join(names)}"
        )
    if encoder is not None:
        names = list(smp.encoders.get_encoder_names())
        if encoder not in names:
            raise AlgesError(
                f"unknown encoder {encoder!r}{did_you_mean(encoder, names)}; "
                "segmentation-models-pytorch lists its encoders in its documentation"
            )


def check_project(path: Any) -> Path:
    """Return ``path`` if it holds an ALGES project (its config file); else refuse."""
    from alges_napari.core.project.files import CONFIG_FILE

    p = check_exists("project folder", path)
    if not (p / CONFIG_FILE).is_file():
        raise AlgesError(
            f"{path} is not an alges project (no {CONFIG_FILE}): create one with `alges init`"
        )
    return p


def check_new_folder(what: str, path: Any) -> Path:
    """Return ``path`` if a folder can be created there: it is missing or an empty folder."""
    p = Path(path).expanduser()
    if p.exists() and (not p.is_dir() or any(p.iterdir())):
        raise AlgesError(f"{what} {path} exists and is not an empty folder: choose a new one")
    return p


def check_round_config(config: Any) -> None:
    """Check a :class:`~alges_napari.core.session.RoundConfig` before its round starts.

    The strategy is checked first: it must be resolved (a
    :class:`~alges_napari.core.acquire.strategies.Strategy`; a name was looked up, and a mistyped
    one refused, where it was chosen), or it would fail only after training, when the step
    selects the next frames.
    """
    from alges_napari.core.acquire.strategies import Strategy

    if not isinstance(config.strategy, Strategy):
        raise AlgesError(f"the round's strategy must be a Strategy, got {config.strategy!r}")
    check_whole("frames to queue (query size)", config.query_size)
    check_whole("epochs", config.epochs)
    check_whole("batch size", config.batch_size)
    check_whole("candidates", config.candidates)
    check_whole("seed", config.seed, minimum=0)
    if config.warm_start is not None and not isinstance(config.warm_start, bool):
        raise AlgesError(f"warm start must be true or false, got {config.warm_start!r}")
