"""Which engine the scoring pass runs on: chosen by the user or measured on this machine.

Choices (:data:`ENGINES`): ``auto`` times every engine available here on the pass's first
frames, once per process and model shape, and keeps the fastest, counting the seconds an ONNX
export of the round's weights costs against the frames left to score; ``torch`` runs PyTorch in
whichever memory format measured faster; ``onnx`` runs ONNX Runtime. The engines themselves are
in :mod:`alges_napari.core.learn.engines`. There is no process-wide choice: the choice is an
argument, like the device, from the edge (the command's ``--engine``, the widget's setting, both
defaulting to ``$ALGES_ENGINE``, which :func:`~alges_napari.core.validate.engine_from_env` reads)
down to the scoring pass (:class:`~alges_napari.core.acquire.scoring.ScoreOptions`), on a dask
worker too.
"""

from __future__ import annotations

import importlib.util
import threading
import time
import warnings
import weakref
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from alges_napari.core.errors import AlgesError
from alges_napari.core.learn.engines import Engine, OnnxEngine, TorchEngine, forget_templates

#: The choices offered to users.
ENGINES = ("auto", "torch", "onnx")
#: The concrete engines (also accepted wherever a choice is).
VARIANTS = ("torch-contiguous", "torch-channels-last", "onnx")
#: The environment variable whose value is the edges' default choice (read there, never here).
ENV_VAR = "ALGES_ENGINE"
#: Frames of the pass's first batch timed on each engine.
MEASURE_FRAMES = 2
#: Below this many frame-pixels (frames x input height x width) a pass runs eager torch unmeasured:
#: the measurement and an export (seconds each) cannot pay for themselves on so little work.
MIN_MEASURED_WORK = 2_000_000

_lock = threading.RLock()


def check_choice(choice: str) -> str:
    """Return ``choice`` if it names an engine, else raise :class:`AlgesError` naming them."""
    if choice not in ENGINES + VARIANTS:
        raise AlgesError(f"unknown engine {choice!r}; choose one of {', '.join(ENGINES)}")
    return choice


def onnx_available() -> bool:
    """True when ONNX Runtime and the ``onnx`` package (the exporter needs it) are installed."""
    return all(importlib.util.find_spec(m) is not None for m in ("onnxruntime", "onnx"))


# ---------------------------------------------------------------- the choice


@dataclass
class Timings:
    """Seconds per frame of each engine measured for one model shape, and the export's cost."""

    per_frame: dict[str, float] = field(default_factory=dict)
    export_s: float = 0.0


_timings: dict[tuple[Any, ...], Timings] = {}
#: The latest ONNX export: the model (weak reference), its weights' fingerprint, the engine.
_onnx_cache: dict[str, Any] = {}
_warned: set[str] = set()


def _shape_key(model: nn.Module, x: torch.Tensor) -> tuple[Any, ...]:
    n_params = sum(p.numel() for p in model.parameters())
    return (
        type(model).__name__,
        n_params,
        tuple(x.shape[1:]),
        str(x.device),
        torch.get_num_threads(),
    )


def _fingerprint(model: nn.Module) -> tuple[Any, ...]:
    """What changes whenever the model's weights do, and stays when only their format does.

    Every parameter's identity and version counter (an optimiser step, ``load_state_dict`` or
    any in-place change counts), and the values of the buffers: BatchNorm's kernel updates its
    running statistics in place without counting them. Reading the weights themselves would
    cost a tenth of a second per pass; the buffers are small.
    """
    with torch.no_grad():
        sums = [b.detach().contiguous().double().sum() for b in model.buffers()]
    values = tuple(torch.stack(sums).cpu().tolist()) if sums else ()
    return tuple((id(p), p._version) for p in model.parameters()), values


def _cached_onnx(model: nn.Module, size: tuple[int, int]) -> OnnxEngine | None:
    c = _onnx_cache
    if not c or c["model"]() is not model or c["size"] != size:
        return None
    return c["engine"] if c["fp"] == _fingerprint(model) else None


def _onnx_engine(model: nn.Module, size: tuple[int, int]) -> OnnxEngine:
    """This model's export for ``size`` frames: the cached one while its weights are unchanged."""
    engine = _cached_onnx(model, size)
    if engine is None:
        _onnx_cache.clear()  # one export at a time: the previous round's weights are stale
        engine = OnnxEngine(model, size)
        _onnx_cache.update(
            model=weakref.ref(model), fp=_fingerprint(model), engine=engine, size=size
        )
    return engine


def _onnx_usable(model: nn.Module, x: torch.Tensor) -> str | None:
    """Why ONNX Runtime cannot run this model here (None: it can)."""
    if not onnx_available():
        return "the onnxruntime and onnx packages are not installed"
    if x.device.type != "cpu":
        return f"ONNX Runtime runs on the CPU here; the model is on {x.device}"
    if next(model.parameters()).dtype != torch.float32:
        return "ONNX Runtime runs float32 models only"
    return None


def _warn_once(message: str) -> None:
    if message not in _warned:
        _warned.add(message)
        warnings.warn(message, RuntimeWarning, stacklevel=5)


def _sync(x: torch.Tensor) -> None:
    if x.device.type == "cuda":
        torch.cuda.synchronize(x.device)


def measure(
    engines: list[Engine], x: torch.Tensor, rounds: int = 3
) -> tuple[dict[str, float], dict[str, torch.Tensor]]:
    """Seconds per frame of each engine on ``x`` and its logits.

    Interleaved rounds (a load burst on a shared machine hits every engine alike); the first is
    a warm-up; each engine's fastest round counts.
    """
    best = {e.name: float("inf") for e in engines}
    logits: dict[str, torch.Tensor] = {}
    for r in range(rounds):
        for e in engines:
            e.prepare()
            _sync(x)
            t0 = time.perf_counter()
            out = e.run(x, False)
            _sync(x)
            if r:
                best[e.name] = min(best[e.name], (time.perf_counter() - t0) / len(x))
            else:
                logits[e.name] = out["logits"]
    return best, logits


def pick_engine(
    model: nn.Module, x: torch.Tensor, frames: int, choice: str | None = None
) -> Engine:
    """The engine a pass of ``frames`` frames shaped like ``x`` runs on.

    Parameters
    ----------
    model : torch.nn.Module
        The model (eval mode, on ``x``'s device).
    x : torch.Tensor (B, 3, h, w)
        The pass's first normalised batch; its first :data:`MEASURE_FRAMES` frames are timed.
    frames : int
        Frames the pass scores (weighs an export against what it saves).
    choice : str, optional
        One of :data:`ENGINES` or :data:`VARIANTS`; None: ``"auto"``.

    Returns
    -------
    Engine
        Prepared (:meth:`Engine.prepare`) for the pass.

    Raises
    ------
    AlgesError
        ``choice`` is unknown, or ``"onnx"`` without onnxruntime installed.
    """
    choice = check_choice(choice or "auto")
    with _lock:
        engine = _pick(model, x, frames, choice)
    engine.prepare()
    return engine


def _pick(model: nn.Module, x: torch.Tensor, frames: int, choice: str) -> Engine:
    if choice in ("torch-contiguous", "torch-channels-last"):
        return TorchEngine(model, channels_last=choice == "torch-channels-last")
    why_not = _onnx_usable(model, x)
    if choice == "onnx":
        if why_not is None:
            return _onnx_engine(model, tuple(x.shape[-2:]))
        if not onnx_available():
            raise AlgesError(
                f"the onnx engine cannot run: {why_not} (pip install onnxruntime onnx)"
            )
        _warn_once(f"engine onnx: {why_not}; using torch")
        choice = "torch"
    if x.device.type == "mps" or frames * x.shape[-2] * x.shape[-1] < MIN_MEASURED_WORK:
        return TorchEngine(model)
    return _measured(model, x, frames, choice == "auto" and why_not is None)


def _measured(model: nn.Module, x: torch.Tensor, frames: int, with_onnx: bool) -> Engine:
    """The engine of least expected cost for ``frames`` frames, measuring what is not yet known.

    An export costs seconds for each round's weights: it is made only when the frames to score
    save more than that (the first measurement has made one anyway). An export whose logits
    disagree with eager torch's is never used.
    """
    t = _timings.setdefault(_shape_key(model, x), Timings())
    engines: list[Any] = [TorchEngine(model, False), TorchEngine(model, True)]
    size = tuple(x.shape[-2:])
    onnx = _cached_onnx(model, size) if with_onnx else None
    todo = [e for e in engines if e.name not in t.per_frame]
    if with_onnx and "onnx" not in t.per_frame:
        onnx = _onnx_engine(model, size)
        t.export_s = onnx.export_s
        todo = [*engines, onnx]
    if todo:
        per_frame, logits = measure(todo, x[:MEASURE_FRAMES])
        t.per_frame.update(per_frame)
        if "onnx" in logits and not _agree(logits["onnx"], logits["torch-contiguous"]):
            t.per_frame["onnx"] = float("inf")
            _warn_once("the ONNX export of this model disagrees with PyTorch; using torch")
    cost = {e.name: frames * t.per_frame[e.name] for e in engines}
    if with_onnx:
        cost["onnx"] = frames * t.per_frame["onnx"] + (0.0 if onnx else t.export_s)
    best = min(cost, key=cost.__getitem__)
    if best == "onnx":
        return onnx or _onnx_engine(model, size)
    return next(e for e in engines if e.name == best)


def _agree(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Logits equal up to float32 rounding of a differently ordered computation."""
    scale = float(b.abs().max()) or 1.0
    return a.shape == b.shape and float((a - b).abs().max()) <= 1e-3 * scale


def measured_timings() -> dict[tuple[Any, ...], Timings]:
    """What :func:`pick_engine` measured in this process (for reports and tests)."""
    with _lock:
        return {k: Timings(dict(v.per_frame), v.export_s) for k, v in _timings.items()}


def forget_measurements() -> None:
    """Drop measured timings and the cached export (tests; a changed machine load)."""
    with _lock:
        _timings.clear()
        _onnx_cache.clear()
        _warned.clear()
        forget_templates()
