"""The prediction at the frame's size without resizing every class's logits to it.

The scoring pass predicts ``argmax_c bilinear(logits)_c`` at the frame's size (what
:func:`~alges_napari.core.acquire.scoring.predict_masks` computes). Done literally, that
resizes all C class maps to the frame and walks them again for the argmax: 13 x 480 x 854
floats per frame, measured 120-250 ms on this CPU, more than the 128x224 forward itself.
:func:`upscaled_argmax` gives the same mask from the logits at the model's size:

- Bilinear resizing reads, for each output pixel, 2 x 2 neighbouring input pixels (both
  axes' indices lie within one of the input pixel nearest to it, whatever the scale). If all
  pixels of the 3 x 3 input window around that nearest pixel predict the same class ``c``,
  each by a margin over every other class, then the resized logit of ``c`` is a weighted sum
  with non-negative weights of values that each exceed the other classes' by that margin: the
  output pixel predicts ``c`` too. Those pixels take the low-resolution argmax directly.
- Only the remaining pixels (class boundaries) take the argmax of torch's own resized logits,
  gathered as contiguous (pixels, C) rows. The resize itself still runs on the whole frame
  (``F.interpolate``, about a fifth of the literal cost): re-deriving its float32 values for
  a subset of pixels did not reproduce them bit for bit, and a boundary pixel's two best
  classes can be that close. It runs one class at a time, each plane dropped once its rows
  are taken (bilinear resizing treats channels alike, so the values are the same bit for
  bit): one frame-sized float plane is alive, not C of them. At 1080p with 13 classes that
  took one frame's peak from 173 MB to 70 MB above the process's (smooth logits, 128x224 ->
  1920x1080), and the time from 213 to 195 ms (random logits: 476 to 344 ms; at 854x480
  34 to 29 ms smooth, 52 to 61 ms random; medians of 5, one thread).

The margin must exceed float32's rounding of a weighted sum (``MARGIN_EPS`` times the largest
logit magnitude): a smaller one could flip the comparison once rounded, so such pixels take
the resized logits too. Logits holding NaN or infinities take the literal path. Measured on
this CPU at 128x224 -> 854x480, 13 classes: literal 318 ms, this 140 ms where a quarter of the
pixels are boundaries (random logits); less where regions are larger.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

#: Relative margin (of the largest |logit|) above which float32 rounding of the bilinear sum
#: cannot reorder two classes: the sum's rounding error is a few float32 epsilons (1.2e-7).
MARGIN_EPS = 1e-5


def _nearest_source(n_in: int, n_out: int) -> np.ndarray:
    """Index of the input pixel whose extent holds each output pixel's centre."""
    j = np.arange(n_out, dtype=np.float64)
    return np.minimum(np.floor((j + 0.5) * n_in / n_out).astype(np.int64), n_in - 1)


def _first_argmax(logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per pixel of (C, h, w): the class (first on ties), its logit and the runner-up's."""
    best = logits[0].clone()
    second = torch.full_like(best, -torch.inf)
    label = torch.zeros(best.shape, dtype=torch.int64, device=logits.device)
    for c in range(1, logits.shape[0]):
        cur = logits[c]
        above = cur > best
        second = torch.where(above, best, torch.maximum(second, cur))
        best = torch.where(above, cur, best)
        label = torch.where(above, c, label)
    return label, best, second


def _uniform_windows(label: torch.Tensor, sure: torch.Tensor) -> torch.Tensor:
    """True where every pixel of the 3 x 3 window (edges replicated) is ``sure`` of the centre's
    label."""
    h, w = label.shape
    lab = F.pad(label[None, None].float(), (1, 1, 1, 1), mode="replicate")[0, 0]
    ok = F.pad(sure[None, None].float(), (1, 1, 1, 1), mode="replicate")[0, 0] > 0
    keep = ok[1 : h + 1, 1 : w + 1].clone()
    centre = lab[1 : h + 1, 1 : w + 1]
    for dy in range(3):
        for dx in range(3):
            keep &= ok[dy : dy + h, dx : dx + w] & (lab[dy : dy + h, dx : dx + w] == centre)
    return keep


def upscaled_argmax(logits: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """``argmax`` over classes of ``logits`` resized bilinearly to ``size``, as uint8.

    Parameters
    ----------
    logits : tensor (C, h, w)
        One frame's logits at the model's resolution (float; computed in float32).
    size : (int, int)
        The frame's (H, W).

    Returns
    -------
    tensor (H, W) uint8
        Exactly ``F.interpolate(logits[None], size, mode="bilinear", align_corners=False)
        .argmax(1)[0]``: pixels the margin argument covers take the low-resolution class, the
        others the argmax of torch's own resized logits there.
    """
    lo = logits.detach().float()
    height, width = int(size[0]), int(size[1])
    c, h, w = lo.shape
    if (h, w) == (height, width) or not bool(torch.isfinite(lo).all()):
        up = F.interpolate(lo[None], size=(height, width), mode="bilinear", align_corners=False)
        return up[0].argmax(dim=0).to(torch.uint8)
    label, best, second = _first_argmax(lo)
    tol = MARGIN_EPS * float(lo.abs().max())
    safe_lo = _uniform_windows(label, (best - second) > tol)
    ny = torch.from_numpy(_nearest_source(h, height))
    nx = torch.from_numpy(_nearest_source(w, width))
    out = label.to(torch.uint8)[ny][:, nx].reshape(-1)
    where = torch.nonzero(~safe_lo[ny][:, nx].reshape(-1), as_tuple=True)[0]
    if len(where):
        # (n, C) rows: the argmax runs along contiguous memory, not across C strided planes.
        # Each class's plane is resized on its own and dropped once its rows are taken:
        # bilinear resizing treats channels independently, so the values are torch's own bit
        # for bit, and one frame-sized plane is alive instead of C (8 MB instead of 108 MB
        # at 1080p with 13 classes).
        picked = torch.empty((len(where), c), dtype=lo.dtype)
        for k in range(c):
            plane = F.interpolate(lo[None, k : k + 1], size=(height, width), mode="bilinear",
                                  align_corners=False).reshape(-1)  # fmt: skip
            picked[:, k] = plane.index_select(0, where)
        out[where] = picked.argmax(dim=1).to(torch.uint8)
    return out.reshape(height, width)
