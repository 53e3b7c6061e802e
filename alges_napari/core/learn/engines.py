"""The inference engines the scoring pass can run its forward on.

The scoring pass needs, per batch, the last convolution's input ``z`` and output ``o`` (ALGES,
heat maps, predictions), the logits and, for core-set, the mean of the encoder's deepest
features. Any engine that yields them can run the forward; the ALGES maths stays in torch.

- :class:`TorchEngine` ``torch-contiguous``: eager PyTorch, the reference (float16 autocast on
  CUDA); ``torch-channels-last``: the same with model and input in channels-last memory format.
- :class:`OnnxEngine` ``onnx``: the round's model exported once to ONNX (outputs ``z``, ``o``
  and the features; dynamic batch axis) and run by ONNX Runtime on the CPU in float32.

:mod:`alges_napari.core.learn.engine` measures them and picks one.
"""

from __future__ import annotations

import contextlib
import copy
import io
import time
import warnings
from collections.abc import Iterator
from typing import Any, Protocol

import torch
from torch import nn

from alges_napari.core.learn.model import head_parts


class Engine(Protocol):
    """Runs the model's forward for the scoring pass."""

    name: str

    def prepare(self) -> None:
        """Get the model ready for :meth:`run` (called before a pass and before timing)."""

    def run(self, x: torch.Tensor, features: bool) -> dict[str, torch.Tensor]:
        """``{"logits", "z", "o"}`` (+ ``"features"``) of a normalised batch, float32 at least."""


def set_memory_format(model: nn.Module, channels_last: bool) -> bool:
    """Put ``model``'s 4-d weights in channels-last (or contiguous) format, in place.

    Values do not change. Returns True when anything was converted (nothing is when the model
    already has that format).
    """
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    probe = next((p for p in model.parameters() if p.dim() == 4), None)
    if probe is None or probe.is_contiguous(memory_format=fmt):
        return False
    model.to(memory_format=fmt)
    return True


@contextlib.contextmanager
def _capture(model: nn.Module, features: bool) -> Iterator[dict[str, torch.Tensor]]:
    """Hooks that put ``z``, ``o`` (and ``features``) of the next forward into a dict."""
    store: dict[str, torch.Tensor] = {}

    def on_conv(_m: nn.Module, inp: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
        store["z"], store["o"] = inp[0], out

    def on_encoder(_m: nn.Module, _inp: Any, out: Any) -> None:
        deepest = out[-1] if isinstance(out, (list, tuple)) else out
        store["features"] = deepest.mean(dim=(-2, -1))

    hooks = [head_parts(model)[0].register_forward_hook(on_conv)]
    if features:
        hooks.append(model.encoder.register_forward_hook(on_encoder))
    try:
        yield store
    finally:
        for h in hooks:
            h.remove()


class TorchEngine:
    """Eager PyTorch, contiguous or channels-last; float16 autocast on CUDA."""

    def __init__(self, model: nn.Module, channels_last: bool = False):
        self.model, self.channels_last = model, channels_last
        self.name = "torch-channels-last" if channels_last else "torch-contiguous"

    def prepare(self) -> None:
        """Put the model in this engine's memory format (in place; values unchanged)."""
        set_memory_format(self.model, self.channels_last)

    def run(self, x: torch.Tensor, features: bool) -> dict[str, torch.Tensor]:
        """One no-grad forward (after :meth:`prepare`); see :class:`Engine`."""
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        amp = (
            torch.autocast("cuda", dtype=torch.float16)
            if x.device.type == "cuda"
            else contextlib.nullcontext()
        )
        with _capture(self.model, features) as store, torch.no_grad(), amp:
            store["logits"] = self.model(x)
        # The ALGES maths and the predictions run in float32 (at least) on contiguous tensors
        # whatever the forward used: channels-last reductions over the classes are slower.
        return {
            k: (v.float() if v.dtype in (torch.float16, torch.bfloat16) else v).contiguous()
            for k, v in store.items()
        }


class _Outputs(nn.Module):
    """What the ONNX graph computes: ``z``, ``o`` and the encoder's mean deepest features."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        with _capture(self.model, True) as store:
            self.model(x)
        return store["z"], store["o"], store["features"]


#: Frame size a shape-free export traces at: tracing costs time in proportion to the pixels.
TRACE_SIZE = (64, 64)
#: Graphs traced once per model structure and input size, their weights filled in per round
#: (a Unet-resnet18 at 256x448, with other work running: trace ~2 s, filling and serialising a
#: round's weights ~0.4 s). Each holds a copy of the weights until :func:`forget_templates`.
_templates: dict[tuple[Any, ...], Any] = {}


def forget_templates() -> None:
    """Drop the traced graphs (tests; memory: one graph holds a copy of the weights)."""
    _templates.clear()


def _structure_key(model: nn.Module, size: tuple[int, int] | None) -> tuple[Any, ...]:
    state = tuple((k, tuple(v.shape), str(v.dtype)) for k, v in model.state_dict().items())
    return type(model).__name__, hash(state), size


def _trace(model: nn.Module, size: tuple[int, int] | None, fold: bool) -> bytes:
    """``model`` traced to ONNX at ``size`` (None: height and width dynamic; batch always is).

    ``fold=False`` keeps every weight an initializer named after its state-dict key (BatchNorm
    stays a node: ONNX Runtime fuses it into the convolution when the session is made).
    """
    wrapper = _Outputs(model).eval()  # eval() too: the exporter restores the wrapper's mode
    sample = torch.zeros((1, 3, *(size or TRACE_SIZE)), dtype=torch.float32)
    names = ["z", "o", "features"]
    image_axes = {0: "batch"} if size else {0: "batch", 2: "height", 3: "width"}
    axes = {"x": image_axes, "z": image_axes, "o": image_axes, "features": {0: "batch"}}
    buf = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        # The exporter and smp's shape checks warn about tracing; nothing a user can act on.
        warnings.simplefilter("ignore")
        try:
            torch.onnx.export(
                wrapper, (sample,), buf, input_names=["x"], output_names=names,
                dynamic_axes=axes, opset_version=17, dynamo=False, do_constant_folding=fold,
                training=torch.onnx.TrainingMode.PRESERVE,
            )  # fmt: skip
            return buf.getvalue()
        except TypeError:  # a torch without the TorchScript exporter
            dims = {0: torch.export.Dim("batch")}
            if size is None:
                dims.update({2: torch.export.Dim("height"), 3: torch.export.Dim("width")})
            program = torch.onnx.export(
                wrapper, (sample,), None, input_names=["x"], output_names=names,
                dynamic_shapes={"x": dims}, dynamo=True,
            )  # fmt: skip
            return program.model_proto.SerializeToString()


def _graph_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """``model``'s state dict under the names its unfolded graph gives the initializers."""
    return {f"model.{k}": v for k, v in model.state_dict().items()}  # _Outputs's attribute


def _template(model: nn.Module, size: tuple[int, int] | None) -> Any:
    """A graph of ``model``'s structure whose initializers are all state-dict entries, or None.

    Traced on a copy holding distinct random values: the exporter merges initializers of equal
    value (a new model's BatchNorm weights are all ones), which would tie weights together.
    """
    import onnx

    shadow = copy.deepcopy(model).cpu().float().eval()
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for t in shadow.state_dict().values():
            if t.is_floating_point():
                t.copy_(torch.rand(t.shape, generator=gen) + 0.5)
    proto = onnx.load_from_string(_trace(shadow, size, fold=False))
    state = _graph_state(model)
    for init in proto.graph.initializer:
        v = state.get(init.name)
        if (
            v is None
            or v.dtype != torch.float32
            or tuple(init.dims) != tuple(v.shape)
            or init.data_type != onnx.TensorProto.FLOAT
            or not init.raw_data
        ):
            return None  # a derived constant: this structure is exported whole each round
    return proto


def traced_graph(model: nn.Module, size: tuple[int, int] | None) -> Any:
    """The traced graph :func:`export_onnx` fills for ``model``'s structure, tracing it if new.

    None when the structure cannot be filled (each export then traces the model whole).
    """
    key = _structure_key(model, size)
    if key not in _templates:
        _templates[key] = _template(model, size)
    return _templates[key]


def export_onnx(model: nn.Module, size: tuple[int, int] | None = None) -> bytes:
    """The model as an ONNX graph: input ``x``, outputs ``z``, ``o``, ``features``.

    Parameters
    ----------
    model : torch.nn.Module
    size : (int, int), optional
        Input height and width the graph is fixed to (ONNX Runtime plans a fixed-size graph
        better: 5-19 % faster here, ``benchmarks/bench_engines.py``); None: dynamic. The batch
        axis is always dynamic.

    The first export of a model structure traces it (the TorchScript exporter: it needs no
    onnxscript and exported 3x faster than the dynamo one here; the dynamo one where a later
    torch has dropped it); later ones fill the traced graph with the model's current weights.
    """
    proto = traced_graph(model, size)
    if proto is None:
        return _trace(model, size, fold=True)
    state = _graph_state(model)
    with torch.no_grad():
        for init in proto.graph.initializer:
            init.raw_data = state[init.name].detach().cpu().contiguous().numpy().tobytes()
    return proto.SerializeToString()


def onnx_session(graph: bytes, spinning: bool = False) -> Any:
    """An ONNX Runtime CPU session on ``graph`` with the scoring pass's options.

    ``spinning=True`` lets idle threads spin (``benchmarks/bench_engines.py`` compares it); the
    pass lets them sleep, since the ALGES maths runs in torch between batches on the same cores.
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    # As many threads as torch may use, so `--threads` and the benchmarks mean one thing.
    options.intra_op_num_threads = torch.get_num_threads()
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # errors only: no per-node optimiser chatter
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
    return ort.InferenceSession(graph, options, providers=["CPUExecutionProvider"])


class OnnxEngine:
    """The model exported to ONNX and run by ONNX Runtime on the CPU (float32).

    Attributes
    ----------
    export_s : float
        Seconds the export and the session's creation took (a structure's first trace, made
        once per process, not counted).
    """

    name = "onnx"

    def __init__(self, model: nn.Module, size: tuple[int, int] | None = None):
        # A structure's first trace is paid once per process; what a new round's weights cost
        # (and what the engine choice weighs) is filling the graph and making a session.
        traced_graph(model, size)
        t0 = time.perf_counter()
        self.session = onnx_session(export_onnx(model, size))
        self.export_s = time.perf_counter() - t0
        _, self.post = head_parts(model)

    def prepare(self) -> None:
        """Nothing to do: the session holds its own copy of the weights."""

    def run(self, x: torch.Tensor, features: bool) -> dict[str, torch.Tensor]:
        """One forward through ONNX Runtime; see :class:`Engine`."""
        arrays = self.session.run(None, {"x": x.detach().float().contiguous().numpy()})
        z, o, feats = (torch.from_numpy(a) for a in arrays)
        # The head's tail is parameter-free (upsampling, activation): torch applies it as the
        # model would, so these are the model's own logits.
        with torch.no_grad():
            out = {"logits": self.post(o), "z": z, "o": o}
        if features:
            out["features"] = feats
        return out


# ---------------------------------------------------------------- training's memory format

#: A training batch smaller than this many pixels (images x height x width) trains contiguous,
#: untimed: too little work per step for the memory format to matter or to time reliably.
MIN_TRIAL_PIXELS = 100_000
#: Timed steps of each memory format before training settles on the faster.
TRIAL_STEPS = 2
_trials: dict[tuple[Any, ...], dict[bool, list[float]]] = {}


class FormatTrial:
    """Which memory format each training step uses: channels-last where it measures faster.

    The first steps of a process's training alternate between the two formats (in each round,
    each one's first step is a warm-up; :data:`TRIAL_STEPS` timed steps each in all); every
    later step, this round's and later rounds' alike, uses the faster. The steps are real training steps: a
    trial costs nothing but the slower format's few steps. Per process, model and frame size.

    Parameters
    ----------
    model : torch.nn.Module
    size : (int, int)
        Training input height and width.
    batch : int
        Images per batch.
    device : torch.device
    channels_last : bool, optional
        Force a format (None: measure).
    """

    def __init__(
        self,
        model: nn.Module,
        size: tuple[int, int],
        batch: int,
        device: torch.device,
        channels_last: bool | None = None,
    ):
        if channels_last is None and batch * size[0] * size[1] < MIN_TRIAL_PIXELS:
            channels_last = False
        self.forced = channels_last
        n_params = sum(p.numel() for p in model.parameters())
        key = (type(model).__name__, n_params, tuple(size), str(device), torch.get_num_threads())
        self.times = _trials.setdefault(key, {False: [], True: []})
        self.steps = {False: 0, True: 0}

    def decided(self) -> bool | None:
        """The format training settled on (True: channels-last), None while still trying."""
        if self.forced is not None:
            return self.forced
        if all(len(v) >= TRIAL_STEPS for v in self.times.values()):
            return min(self.times[True]) < min(self.times[False])
        return None

    def next_format(self) -> bool:
        """True when the next step runs channels-last."""
        decided = self.decided()
        if decided is not None:
            return decided
        return self.steps[True] < self.steps[False]  # they alternate, contiguous first

    def record(self, channels_last: bool, seconds: float, images: int) -> None:
        """Count a finished step of ``images`` images that took ``seconds``."""
        if self.decided() is not None:
            return
        self.steps[channels_last] += 1
        if self.steps[channels_last] > 1:  # each format's first step of a round warms it up
            self.times[channels_last].append(seconds / images)


def optimizer_to_format(optimizer: torch.optim.Optimizer, channels_last: bool) -> None:
    """Give the optimiser's 4-d state tensors (Adam's moments) the weights' memory format."""
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    for state in optimizer.state.values():
        for k, v in state.items():
            if isinstance(v, torch.Tensor) and v.dim() == 4:
                state[k] = v.contiguous(memory_format=fmt)
