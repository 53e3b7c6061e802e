"""The scoring pass: ONE forward pass per frame gives predictions, heat maps, embeddings, scores.

ALGES (docs/method.md, "ALGES") needs only the last convolution's input ``z`` and output ``o``; the
batched forward that produces the predictions yields both. An engine runs that forward (eager
torch, channels-last torch or ONNX Runtime: :mod:`alges_napari.core.learn.engines`), the fastest
measured here unless the caller names one in its :class:`ScoreOptions`
(:mod:`alges_napari.core.learn.engine`); everything below is computed from its outputs in torch,
whichever it was.

- ALGES-img: ``delta = dL/do`` of the mean cross-entropy against the argmax pseudo-label, from
  one ``autograd.grad`` through the head's parameter-free tail only; the per-image weight
  gradient ``dW[b] = sum_pix delta_pix (x) patch(z)_pix`` is one grouped ``conv2d_weight`` call
  for the whole batch (the batch folded into convolution groups), so images never mix and no
  full-network backward runs. ``e_c = ||dW[c]||``.
- ALGES-seg: per pixel ``g = (sum_k p_k^2 + 1 - 2 p_yhat) * ||patch(z)||^2`` at the
  convolution's resolution (p, yhat from ``o`` itself), with ``||patch(z)||^2`` a k x k box sum
  of ``sum_d z_d^2``; ``u_c`` sums ``g`` over pixels predicted ``c``. No backward at all.
  ``sqrt(g)``, resized to the frame, is the heat map shown to the user.

Memory budget of a pass (frames are streamed, never held): at most the source's decode queue
(8 decoded frames: 50 MB at 1080p, 10 MB at 854x480), one batch at the model's input size, and
one frame's logits resized to the frame (classes x H x W float32: 108 MB for 13 classes at
1080p, 21 MB at 854x480) with its prediction and heat map, which go to disk (``cache/``) at
once; the results kept are a few numbers per frame (an (N, C) embedding). Nothing grows with
the recording but those numbers. Before this bound a batch of 8 frames was normalised at full
resolution and its logits resized together (860 MB at 1080p): a 1080p round measured 2.5 GB
peak RSS here, 1.0 GB of it in the passes. The rest of a CPU round is the model stack itself,
whatever the recording: about 0.5 GB for torch and smp, 1.2-1.4 GB while a Unet/ResNet-18
trains at 128x224 (README, "Long recordings").
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from alges_napari.core.acquire.scores import HEAT, SCORE_FIELDS, UNCERTAINTY_FIELDS, ScoreResult
from alges_napari.core.acquire.upscale import upscaled_argmax
from alges_napari.core.errors import AlgesError
from alges_napari.core.learn.engine import check_choice, pick_engine
from alges_napari.core.learn.engines import Engine
from alges_napari.core.learn.model import ModelSpec, head_parts, pick_device, preprocess
from alges_napari.core.progress import Cancelled, Progress, SupportsIsSet, is_stopped, run_to_end

OnFrame = Callable[[int, np.ndarray, np.ndarray], None]


@dataclass(frozen=True)
class ScoreOptions:
    """How a scoring pass runs, as opposed to what it computes: the same scores either way.

    Chosen once, at the edge (the widget, a command, the simulator), and handed down to the pass
    in this process or, through a :class:`~alges_napari.core.acquire.distributed.DaskScorer`,
    on a dask worker.

    Attributes
    ----------
    batch_size : int
        Frames per forward pass.
    device : torch.device or str, optional
        Default: CUDA, else MPS, else CPU. On CUDA the forward runs in float16 autocast.
    engine : str, optional
        What runs the forward: ``"auto"`` (the fastest measured here), ``"torch"``, ``"onnx"``
        or a variant of :data:`~alges_napari.core.learn.engine.VARIANTS`; None: ``"auto"``.

    Raises
    ------
    AlgesError
        ``batch_size`` is below 1 or ``engine`` names no engine (on construction).
    """

    batch_size: int = 8
    device: torch.device | str | None = None
    engine: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.batch_size, bool) or int(self.batch_size) < 1:
            raise AlgesError(f"scoring batch size must be >= 1, got {self.batch_size!r}")
        if self.engine is not None:
            check_choice(self.engine)


def _per_image_weight_grad(conv: nn.Conv2d, z: torch.Tensor, delta: torch.Tensor) -> torch.Tensor:
    """``dW`` for each image separately: (B, C, D*k*k), exact for any padding/stride/dilation."""
    b, d = z.shape[:2]
    c = delta.shape[1]
    kh, kw = conv.kernel_size
    if (kh, kw) == (1, 1) and conv.stride == (1, 1) and conv.padding == (0, 0):
        return torch.bmm(delta.flatten(2), z.flatten(2).transpose(1, 2))
    # One weight-gradient call per image keeps images apart. Folding the batch into conv groups
    # does too, in one call, but measured 3x slower on CPU (oneDNN's grouped weight gradient).
    grads = [
        torch.nn.grad.conv2d_weight(
            z[i : i + 1],
            (c, d // conv.groups, kh, kw),
            delta[i : i + 1],
            stride=conv.stride,
            padding=conv.padding,
            dilation=conv.dilation,
            groups=conv.groups,
        )
        for i in range(b)
    ]
    return torch.stack(grads).reshape(b, c, -1)


def _loss_delta(post: nn.Module, o: torch.Tensor) -> torch.Tensor:
    """dL/do of each image's mean cross-entropy against its own argmax pseudo-label."""
    if _is_identity(post):
        # Closed form for a tail that changes nothing: (p - onehot(yhat)) / (H * W).
        e, s, yhat = _softmax_parts(o)
        delta = e.div_(s[:, None]).scatter_add_(1, yhat[:, None], -torch.ones_like(s[:, None]))
        return delta.div_(o.shape[-2] * o.shape[-1])
    o = o.detach().requires_grad_(True)
    with torch.enable_grad():
        out = post(o)
        target = out.argmax(dim=1)
        # Summing per-image means keeps each image's gradient its own: the tail is per-image.
        loss = F.cross_entropy(out, target, reduction="sum") / (out.shape[-2] * out.shape[-1])
        (delta,) = torch.autograd.grad(loss, o)
    return delta


def _softmax_parts(o: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(e, s, yhat)`` with ``e = exp(o - max)``, ``s = sum_k e``: p = e / s, p_yhat = 1 / s.

    One max pass yields the pseudo-label and the shift together; a separate softmax, argmax
    and gather would each walk the (B, C, h, w) logits again.
    """
    top, yhat = o.max(dim=1, keepdim=True)
    e = (o - top).exp_()
    return e, e.sum(dim=1), yhat[:, 0]


def _seg_pixel_norms(conv: nn.Conv2d, z: torch.Tensor, o: torch.Tensor) -> tuple[Any, Any]:
    """Per-pixel squared gradient norm ``g`` (B, h, w) and the pseudo-label (B, h, w).

    ``sum_k p_k^2 + 1 - 2 p_yhat = sum_k e_k^2 / s^2 + 1 - 2 / s`` with the parts of
    :func:`_softmax_parts`; ``||patch(z)||^2`` is a k x k box sum of ``sum_d z_d^2``.
    """
    e, s, yhat = _softmax_parts(o)
    p_norm = (e * e).sum(dim=1) / (s * s) + 1.0 - 2.0 / s
    zsq = z.square().sum(dim=1, keepdim=True)  # 3x faster on CPU than the same einsum
    ones = torch.ones((1, 1, *conv.kernel_size), dtype=z.dtype, device=z.device)
    patch = F.conv2d(zsq, ones, stride=conv.stride, padding=conv.padding, dilation=conv.dilation)
    return p_norm * patch[:, 0], yhat


def _is_identity(post: nn.Module) -> bool:
    """True when the head's tail changes nothing (no upsampling, identity activation)."""
    return all(isinstance(m, nn.Identity) for m in post.modules() if not list(m.children()))


def _batch_scores(
    model: nn.Module, engine: Engine, x: torch.Tensor, want: frozenset[str], heat: bool
) -> tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
    """Scores of one batch, its forward run by ``engine``.

    Returns the fields in ``want``, the final logits, the per-pixel ``g`` (or None) and, when
    the head's tail is the identity, the argmax of the logits already found on the way (or None).
    """
    conv, post = head_parts(model)
    fw = engine.run(x, "features" in want)
    logits, z, o = fw["logits"], fw["z"], fw["o"]
    out: dict[str, torch.Tensor] = {}
    if want & {"emb_img", "badge"}:
        dw = _per_image_weight_grad(conv, z, _loss_delta(post, o))
        if "emb_img" in want:
            out["emb_img"] = dw.norm(dim=2)
        if "badge" in want:
            out["badge"] = dw.flatten(1)
    g = label = None
    if "emb_seg" in want or heat:
        g, yhat = _seg_pixel_norms(conv, z, o)
        label = yhat if _is_identity(post) else None
        if "emb_seg" in want:
            u = torch.zeros(o.shape[:2], dtype=g.dtype, device=g.device)
            out["emb_seg"] = u.scatter_add_(1, yhat.flatten(1), g.flatten(1))
    if want & set(UNCERTAINTY_FIELDS):
        # From log-probabilities: 1 - p_max of a confident pixel cancels catastrophically in
        # float32, -expm1(log p_max) does not; p log p needs no clamp either.
        logp = logits.log_softmax(dim=1)  # the engine already made half precision float32
        p = logp.exp()
        top2 = p.topk(2, dim=1).values if p.shape[1] > 1 else torch.cat([p, 0 * p], 1)
        out["entropy"] = -(p * logp).sum(1).mean(dim=(1, 2))
        out["margin"] = (top2[:, 0] - top2[:, 1]).mean(dim=(1, 2))
        out["least_confidence"] = -torch.expm1(logp.amax(dim=1)).mean(dim=(1, 2))
    if "features" in want:
        out["features"] = fw["features"]
    return out, logits, g, label


def alges_embeddings(
    model: nn.Module, images: torch.Tensor | np.ndarray, variant: str, batch_size: int = 8
) -> np.ndarray:
    """ALGES embeddings of normalised images, exactly as docs/method.md, "ALGES" defines them.

    Parameters
    ----------
    model : torch.nn.Module
        An smp segmentation model (its ``segmentation_head[0]`` is differentiated). It is put
        in eval mode, so BatchNorm uses running statistics and images stay independent.
    images : tensor or ndarray (N, 3, H, W)
        Already normalised for the model.
    variant : {"img", "seg"}
        ``"img"``: norms of the class rows of the per-image last-layer gradient of the mean
        cross-entropy against the argmax pseudo-label. ``"seg"``: per-class sums of the
        per-pixel squared gradient norms.
    batch_size : int
        Images per forward pass.

    Returns
    -------
    ndarray (N, C) float64
    """
    field = {"img": "emb_img", "seg": "emb_seg"}.get(variant)
    if field is None:
        raise AlgesError(f"ALGES variant must be 'img' or 'seg', got {variant!r}")
    param = next(model.parameters())
    x_all = torch.as_tensor(images, dtype=param.dtype)
    if x_all.ndim != 4:
        raise AlgesError(f"images must be (N, 3, H, W), got shape {tuple(x_all.shape)}")
    model.eval()
    device = param.device
    parts = []
    for s in range(0, len(x_all), batch_size):
        x = x_all[s : s + batch_size].to(device)
        engine = pick_engine(model, x, len(x_all), "torch-contiguous")
        out, _, _, _ = _batch_scores(model, engine, x, frozenset({field}), False)
        parts.append(out[field].double().cpu())
    c = last_layer_classes(model)
    return torch.cat(parts).numpy() if parts else np.zeros((0, c))


def last_layer_classes(model: nn.Module) -> int:
    """Number of classes the model predicts (output channels of its last convolution)."""
    return head_parts(model)[0].out_channels


def _emit_frames(
    on_frame: OnFrame,
    indices: Sequence[int],
    logits: torch.Tensor,
    g: torch.Tensor | None,
    label: torch.Tensor | None,
    size: tuple[int, int],
) -> None:
    """Predictions (argmax of logits resized to the frame) and sqrt(g) heat maps, per frame.

    One frame at a time: resizing a whole batch's logits to the frame at once held
    batch x classes x H x W float32 (860 MB for 8 frames of 1080p, 13 classes); one frame's
    is the most this holds (C x H x W x 4 bytes: 108 MB at 1080p, 21 MB at 854x480). The
    argmax is :func:`~.upscale.upscaled_argmax` (the same mask, without an argmax over every
    class at every frame pixel). The heat map stays at the convolution's resolution: whoever
    shows it resizes it (:class:`~alges_napari.core.project.cache.FrameCache` on read).
    """
    reuse = label is not None and tuple(label.shape[-2:]) == tuple(size)
    for j, i in enumerate(indices):
        if reuse:
            pred = label[j]  # type: ignore[index]
        else:
            pred = upscaled_argmax(logits[j], size)
        heat = None
        if g is not None:
            heat = g[j].clamp_min(0).sqrt().cpu().numpy()
        on_frame(int(i), pred.to(torch.uint8).cpu().numpy(), heat)


def _frame_stream(frames: Sequence[np.ndarray], n: int) -> Iterator[tuple[int, np.ndarray]]:
    """``(index, frame)`` for all ``n`` frames, in the order cheapest for ``frames``.

    A sequence with an ``iter_frames(indices)`` method (a FrameSource,
    ``frames.stream.KeyedFrames``) chooses the order (a video: stream order, decoded forward
    once); others are read by index.
    """
    stream = getattr(frames, "iter_frames", None)
    if callable(stream):
        return iter(stream(range(n)))
    return ((i, frames[i]) for i in range(n))


def _check_want(want: Iterable[str]) -> tuple[frozenset[str], bool]:
    """(the score fields of ``want``, whether it asks for heat maps)."""
    want = frozenset(want)
    unknown = want - set(SCORE_FIELDS) - {HEAT}
    if unknown:
        raise AlgesError(
            f"unknown score fields {sorted(unknown)}; known: {', '.join(SCORE_FIELDS)} "
            f"(and {HEAT!r}: heat maps for on_frame)"
        )
    return want - {HEAT}, HEAT in want


def iter_score(
    model: nn.Module,
    frames: Sequence[np.ndarray],
    spec: ModelSpec,
    *,
    want: Iterable[str] = frozenset({"emb_seg"}),
    on_frame: OnFrame | None = None,
    stop: SupportsIsSet | None = None,
    options: ScoreOptions | None = None,
    frame_size: tuple[int, int] | None = None,
) -> Generator[Progress, None, ScoreResult]:
    """Score a pool of frames in one batched pass.

    Parameters
    ----------
    model : torch.nn.Module
        The segmentation model (moved to ``options.device``, put in eval mode).
    frames : sequence of uint8 (H, W, 3) arrays
        E.g. a :class:`~alges_napari.core.data.frames.base.FrameSource`; all frames of one size.
        When it has ``iter_frames(indices)`` (sources, ``frames.stream.KeyedFrames``), the pass
        reads the frames through it, in the order cheapest for the source (a video: stream
        order, one forward decode); batches follow that order and every result is put back in the
        sequence's order. Frames are streamed: the pass holds one batch at a time.
    spec : ModelSpec
        Input size and normalisation.
    want : iterable of str
        Which :data:`~alges_napari.core.acquire.scores.SCORE_FIELDS` to compute, and
        :data:`~alges_napari.core.acquire.scores.HEAT` for heat maps to ``on_frame``.
    on_frame : callable ``(index, prediction, heat)``, optional
        Called once per frame with its predicted mask (uint8, frame resolution) and, with
        ``HEAT`` in ``want``, its heat map (float32 ``sqrt(g)`` at the head convolution's
        resolution, not resized to the frame nor normalised:
        :func:`~alges_napari.core.project.cache.resize_heat` resizes); else None for it, so
        an evaluation or a sink that keeps no heat map costs no per-pixel gradient.
    stop : object with ``is_set()``, optional
        Checked before each batch; when set, :class:`~alges_napari.core.progress.Cancelled`
        is raised, so a stop ends the pass within one batch and no partial result escapes.
    options : ScoreOptions, optional
        Batch size, device and engine (default ``ScoreOptions()``: 8 frames, the best device,
        the engine measured fastest here). The ALGES maths, heat maps and predictions are
        computed from the engine's outputs alike, whichever runs the forward.
    frame_size : (int, int), optional
        The size ``on_frame`` gets predictions and heat maps at. Default: ``frames.frame_size``
        when the sequence has one (frames handed over already at the model's input size, e.g.
        from the pool cache, stand for frames of that size), else each frame's own size.

    Yields
    ------
    dict
        ``{"stage": "score", "done": frames scored, "total": n}`` after each batch.

    Returns
    -------
    ScoreResult
        The fields in ``want``, float64 numpy arrays in pool order.
    """
    options = options or ScoreOptions()
    batch_size = options.batch_size
    want, heat = _check_want(want)
    dev = pick_device(options.device)
    model.to(dev).eval()
    n = len(frames)
    out_size = frame_size or getattr(frames, "frame_size", None)
    parts: dict[str, list[np.ndarray]] = {f: [] for f in want}
    order: list[np.ndarray] = []
    runner: Engine | None = None
    yield Progress("score", 0, n)
    stream = _frame_stream(frames, n)
    try:
        while True:
            done = sum(map(len, order))
            if done < n and is_stopped(stop):
                raise Cancelled(f"scoring stopped after {done} of {n} frames")
            # Read until the stream ends: a source finishing a pass (the pool cache) commits then.
            chunk = list(itertools.islice(stream, batch_size))
            if not chunk:
                break
            idx = np.fromiter((i for i, _ in chunk), dtype=np.int64, count=len(chunk))
            batch = np.stack([np.asarray(f) for _, f in chunk])
            del chunk  # frames are streamed, not held: only this batch is alive
            size = tuple(out_size) if out_size is not None else batch.shape[1:3]
            x = preprocess(batch, spec, device=dev)
            if runner is None:  # chosen once, on the pass's first frames
                runner = pick_engine(model, x, n, options.engine)
            out, logits, g, label = _batch_scores(model, runner, x, want,
                                                  heat and on_frame is not None)  # fmt: skip
            for name in want:  # the batch may hold more (uncertainty scores come together)
                parts[name].append(out[name].double().cpu().numpy())
            if on_frame is not None:
                _emit_frames(on_frame, idx, logits, g if heat else None, label, size)
            order.append(idx)
            yield Progress("score", done + len(idx), n)
    finally:
        close = getattr(stream, "close", None)
        if close is not None:
            close()
    return _in_caller_order(want, parts, order, n)


def _in_caller_order(
    want: frozenset[str], parts: dict[str, list[np.ndarray]], order: list[np.ndarray], n: int
) -> ScoreResult:
    """The pass's fields in pool order, whatever order the frames came in."""
    where = np.concatenate(order) if order else np.zeros(0, np.int64)
    if len(where) != n or not np.array_equal(np.sort(where), np.arange(n)):
        raise AlgesError(f"the frames' stream gave {len(where)} frames for a pool of {n}")
    result = ScoreResult(n=n)
    for name, chunks in parts.items():
        if not chunks:
            setattr(result, name, None)
            continue
        got = np.concatenate(chunks)
        field = np.empty_like(got)
        field[where] = got
        setattr(result, name, field)
    return result


def score_frames(
    model: nn.Module, frames: Sequence[np.ndarray], spec: ModelSpec, **kw: Any
) -> ScoreResult:
    """Run :func:`iter_score` to the end and return its :class:`ScoreResult`."""
    return run_to_end(iter_score(model, frames, spec, **kw))


def predict_masks(
    model: nn.Module,
    frames: Sequence[np.ndarray],
    spec: ModelSpec,
    batch_size: int = 8,
    device: Any = None,
) -> list[np.ndarray]:
    """Plain batched inference: the predicted uint8 masks at frame resolution, nothing else.

    The baseline the scoring pass is measured against (``benchmarks/bench_scoring.py``): it
    produces the same predictions as :func:`iter_score`.
    """
    dev = pick_device(device)
    model.to(dev).eval()
    masks: list[np.ndarray] = []
    for start in range(0, len(frames), batch_size):
        batch = np.stack(
            [np.asarray(frames[i]) for i in range(start, min(start + batch_size, len(frames)))]
        )
        with torch.no_grad():
            logits = model(preprocess(batch, spec, device=dev)).float()
        size = batch.shape[1:3]
        masks.extend(upscaled_argmax(one, size).cpu().numpy() for one in logits)
    return masks
