"""Training data as the loop consumes it: labelled pairs resized once to the model's input size.

Frames are resized bilinearly with antialiasing and masks with nearest neighbour, once, when a
round starts (or when the pool cache is built), so that every epoch reads small uint8 tensors
instead of decoding and resizing full frames again.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from alges_napari.core.errors import AlgesError


@dataclass
class TrainSamples:
    """Training pairs resized once to the input size: uint8 images (N,3,h,w), masks (N,h,w)."""

    images: torch.Tensor
    masks: torch.Tensor

    def __len__(self) -> int:
        return int(self.images.shape[0])


def make_samples(
    pairs: Iterable[tuple[np.ndarray, np.ndarray]], input_size: Sequence[int]
) -> TrainSamples:
    """Resize (frame uint8 HxWx3, mask uint8 HxW) pairs to ``input_size`` and stack them.

    Frames are resized bilinearly with antialiasing, masks with nearest neighbour so no new
    class values appear.
    """
    size = (int(input_size[0]), int(input_size[1]))
    images, masks = [], []
    for frame, mask in pairs:
        img = torch.from_numpy(np.array(frame, dtype=np.uint8)).permute(2, 0, 1)[None].float()
        img = F.interpolate(img, size=size, mode="bilinear", antialias=True, align_corners=False)
        images.append(img.round().clamp(0, 255).to(torch.uint8)[0])
        m = torch.from_numpy(np.array(mask, dtype=np.uint8))[None, None].float()
        masks.append(F.interpolate(m, size=size, mode="nearest")[0, 0].to(torch.uint8))
    if not images:
        raise AlgesError("no labelled frames to train on: accept at least one label first")
    return TrainSamples(torch.stack(images), torch.stack(masks))
