"""Batch augmentations for endoscopy, as torch ops on whole batches (CPU or GPU).

Flips (the scope has no canonical up), small rotations and scale changes (the camera rolls and
zooms), brightness/contrast/hue jitter (light source and white balance vary between clips).
Masks follow the geometry with nearest-neighbour sampling and get 255 ("ignore") where the
transformed frame has no source pixel.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F

from alges_napari.core.data.classes import IGNORE_INDEX


def augment_batch(
    images: torch.Tensor, masks: torch.Tensor, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Randomly flip, rotate (+-15 deg), scale (0.9-1.15) and colour-jitter a batch.

    Parameters
    ----------
    images : float tensor (B, 3, H, W) in [0, 1]
    masks : long tensor (B, H, W), 255 = ignore
    gen : torch.Generator (on CPU) driving every random choice

    Returns
    -------
    (images, masks) with the same shapes; masks are sampled with nearest neighbour and are 255
    where the transformed frame has no source pixel.
    """
    b, dev = images.shape[0], images.device

    def rand(*shape: int) -> torch.Tensor:
        return torch.rand(*shape, generator=gen).to(dev)

    angle = (rand(b) * 2 - 1) * math.radians(15)
    scale = 0.9 + rand(b) * 0.25
    flip_x = torch.where(rand(b) < 0.5, -1.0, 1.0)
    flip_y = torch.where(rand(b) < 0.5, -1.0, 1.0)
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.zeros(b, 2, 3, device=dev)
    theta[:, 0, 0], theta[:, 0, 1] = cos * flip_x, -sin * flip_y
    theta[:, 1, 0], theta[:, 1, 1] = sin * flip_x, cos * flip_y
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    images = F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    # Shift labels by one so "outside the frame" (zero padding) is told apart from class 0.
    shifted = (masks.float() + 1.0)[:, None]
    warped = F.grid_sample(shifted, grid, mode="nearest", padding_mode="zeros", align_corners=False)
    warped = warped[:, 0].round().long()
    masks = torch.where(warped == 0, IGNORE_INDEX, warped - 1)
    return _colour_jitter(images, rand), masks


def _colour_jitter(images: torch.Tensor, rand: Any) -> torch.Tensor:
    b = images.shape[0]
    brightness = 0.8 + rand(b, 1, 1, 1) * 0.4
    contrast = 0.8 + rand(b, 1, 1, 1) * 0.4
    images = images * brightness
    mean = images.mean(dim=(1, 2, 3), keepdim=True)
    images = (images - mean) * contrast + mean
    # Hue: rotate the chroma plane of YIQ by up to +-0.05 turns (white balance drift).
    hue = (rand(b) * 2 - 1) * 0.05 * 2 * math.pi
    to_yiq = images.new_tensor(
        [[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]]
    )
    yiq = torch.einsum("ij,bjhw->bihw", to_yiq, images)
    c, s = torch.cos(hue)[:, None, None], torch.sin(hue)[:, None, None]
    i_, q_ = yiq[:, 1] * c - yiq[:, 2] * s, yiq[:, 1] * s + yiq[:, 2] * c
    yiq = torch.stack([yiq[:, 0], i_, q_], dim=1)
    return torch.einsum("ij,bjhw->bihw", torch.linalg.inv(to_yiq), yiq).clamp(0, 1)
