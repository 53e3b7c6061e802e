"""upscaled_argmax: the literal resize-then-argmax mask, computed from the model's resolution."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from alges_napari.core.acquire import upscale
from alges_napari.core.acquire.upscale import upscaled_argmax


def literal(logits: torch.Tensor, size: tuple[int, int]) -> np.ndarray:
    up = F.interpolate(logits[None], size=size, mode="bilinear", align_corners=False)
    return up.argmax(dim=1)[0].to(torch.uint8).numpy()


@pytest.mark.parametrize(
    ("lo", "size"),
    [((128, 224), (480, 854)), ((128, 224), (1080, 1920)), ((32, 64), (40, 56)), ((7, 9), (30, 31)), ((40, 30), (20, 15)),
     ((16, 24), (16, 24)), ((1, 5), (3, 11))],
)  # fmt: skip
@pytest.mark.parametrize("smooth", [False, True])
def test_equals_the_literal_resize_then_argmax(
    lo: tuple[int, int], size: tuple[int, int], smooth: bool
) -> None:
    gen = torch.Generator().manual_seed(lo[0] * 1000 + size[1])
    if smooth:  # regions a few pixels wide, as a trained model predicts
        coarse = torch.randn(1, 13, max(1, lo[0] // 8), max(1, lo[1] // 8), generator=gen)
        logits = F.interpolate(coarse, size=lo, mode="bilinear", align_corners=False)[0] * 3
    else:  # a new class at almost every pixel: nearly every window is a boundary
        logits = torch.randn(13, *lo, generator=gen) * 3
    got = upscaled_argmax(logits, size)
    assert got.dtype == torch.uint8 and tuple(got.shape) == size
    np.testing.assert_array_equal(got.numpy(), literal(logits, size))


def test_ties_go_to_the_first_class_and_non_finite_logits_take_the_literal_path() -> None:
    logits = torch.zeros(4, 6, 8)
    logits[2, :, 4:] = 1.0
    got = upscaled_argmax(logits, (12, 16)).numpy()
    assert (got[:, :7] == 0).all() and (got[:, 9:] == 2).all()  # class 0 wins the ties
    np.testing.assert_array_equal(got, literal(logits, (12, 16)))
    logits[1, 0, 0] = float("nan")
    np.testing.assert_array_equal(
        upscaled_argmax(logits, (12, 16)).numpy(), literal(logits, (12, 16))
    )


def test_the_shortcut_covers_uniform_windows_and_only_those() -> None:
    label = torch.zeros(5, 6, dtype=torch.int64)
    label[2, 3] = 1
    sure = torch.ones(5, 6, dtype=torch.bool)
    sure[0, 0] = False
    keep = upscale._uniform_windows(label, sure).numpy()
    expected = np.ones((5, 6), bool)
    expected[1:4, 2:5] = False  # the windows that see the one pixel of class 1
    expected[0:2, 0:2] = False  # ... and those that see the pixel without a margin
    np.testing.assert_array_equal(keep, expected)


@pytest.mark.parametrize(
    ("n_in", "n_out"), [(128, 480), (224, 854), (9, 31), (30, 15), (5, 5), (3, 1080)]
)
def test_torch_reads_only_inputs_within_one_pixel_of_the_nearest(n_in: int, n_out: int) -> None:
    # The input pixels each output pixel depends on, found by resizing each input impulse.
    impulses = torch.eye(n_in)[:, None, None, :]  # (n_in, 1, 1, n_in)
    out = F.interpolate(impulses, size=(1, n_out), mode="bilinear")[:, 0, 0]  # (n_in, n_out)
    reads = out.numpy() != 0
    near = upscale._nearest_source(n_in, n_out)
    assert np.all((near >= 0) & (near < n_in))
    k = np.arange(n_in)[:, None]
    assert reads.any(axis=0).all()
    assert not np.any(reads & (np.abs(k - near[None]) > 1))


def test_the_boundary_rows_come_from_one_resized_class_plane_at_a_time(monkeypatch) -> None:
    # A frame-sized plane per class, not all C at once (108 MB at 1080p with 13 classes):
    # every resize on the shortcut path has one channel, one per class, and the mask is the
    # literal one.
    gen = torch.Generator().manual_seed(7)
    coarse = torch.randn(1, 13, 16, 28, generator=gen)
    logits = F.interpolate(coarse, size=(128, 224), mode="bilinear", align_corners=False)[0] * 3
    channels: list[int] = []
    real = F.interpolate

    def spy(x, *args, **kwargs):
        channels.append(int(x.shape[1]))
        return real(x, *args, **kwargs)

    monkeypatch.setattr(upscale.F, "interpolate", spy)
    got = upscaled_argmax(logits, (480, 854))
    monkeypatch.undo()
    assert channels == [1] * 13
    np.testing.assert_array_equal(got.numpy(), literal(logits, (480, 854)))
