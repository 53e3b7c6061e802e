"""Superpixels: connected regions that follow the image's edges, sized by coarseness, cached."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from scipy import ndimage

from alges_napari.core.data.superpixels import (
    AREAS,
    SuperpixelCache,
    compute_superpixels,
    region_at,
    superpixel_boundaries,
)
from alges_napari.core.errors import AlgesError


def _two_halves(h: int = 48, w: int = 64) -> np.ndarray:
    """A dark left half and a bright right half, with a little noise."""
    img = np.zeros((h, w, 3), np.uint8)
    img[:, w // 2 :] = (200, 180, 40)
    img[:, : w // 2] = (40, 20, 60)
    noise = np.random.default_rng(0).integers(0, 8, img.shape)
    return (img + noise).astype(np.uint8)


def test_superpixels_never_cross_a_strong_edge_and_are_connected() -> None:
    img = _two_halves()
    labels = compute_superpixels(img, "fine")
    assert labels.shape == img.shape[:2] and labels.dtype == np.int32
    left, right = set(np.unique(labels[:, :32])), set(np.unique(labels[:, 32:]))
    assert not left & right  # the boundary between the halves is a superpixel border
    for sp in np.unique(labels):
        assert ndimage.label(labels == sp)[1] == 1


def test_coarse_superpixels_are_larger_than_fine_ones() -> None:
    noise = np.random.default_rng(1).random((96, 128, 3))
    smooth = ndimage.gaussian_filter(noise, (4, 4, 0))
    img = (255 * (smooth - smooth.min()) / np.ptp(smooth)).astype(np.uint8)
    fine = len(np.unique(compute_superpixels(img, "fine")))
    coarse = len(np.unique(compute_superpixels(img, "coarse")))
    assert coarse < fine
    assert fine <= 96 * 128 / AREAS["fine"] * 1.5


def test_region_at_gives_the_superpixel_of_the_pixel() -> None:
    labels = np.array([[0, 0, 1], [2, 1, 1]])
    rows, cols = region_at(labels, 0, 2)
    assert sorted(zip(rows.tolist(), cols.tolist(), strict=True)) == [(0, 2), (1, 1), (1, 2)]
    with pytest.raises(AlgesError, match="outside"):
        region_at(labels, 2, 0)


def test_bad_input_is_named() -> None:
    with pytest.raises(AlgesError, match="coarseness 'medium'"):
        compute_superpixels(np.zeros((8, 8, 3), np.uint8), "medium")
    with pytest.raises(AlgesError, match=r"\(4, 8, 8, 3\)"):
        compute_superpixels(np.zeros((4, 8, 8, 3), np.uint8))


def test_the_cache_keeps_the_last_maps_per_key_and_coarseness() -> None:
    cache = SuperpixelCache(size=2)
    img = _two_halves()
    calls = []
    first = cache.compute("a", img, "fine")
    assert cache.compute("a", img, "fine") is first  # not recomputed
    cache.put("b", "fine", np.zeros((2, 2), np.int32))
    cache.get("a", "fine")  # "a" is now the most recent: "b" goes first
    threads = [threading.Thread(target=lambda: calls.append(cache.compute("c", img, "coarse")))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert cache.get("b", "fine") is None and cache.get("a", "fine") is first
    assert cache.get("c", "coarse") is calls[0] and len(cache) == 2


def test_boundaries_are_kept_with_their_superpixels() -> None:
    # Two regions side by side: the boundary is the pixel pair on either side of the seam.
    labels = np.zeros((4, 6), np.int32)
    labels[:, 3:] = 1
    expected = np.zeros((4, 6), bool)
    expected[:, 2:4] = True
    np.testing.assert_array_equal(superpixel_boundaries(labels), expected)
    cache = SuperpixelCache(size=1)
    cache.put("a", "fine", labels)
    np.testing.assert_array_equal(cache.boundaries("a", "fine"), expected)
    img = _two_halves()
    sp = cache.compute("b", img, "fine")  # "a" leaves, its boundaries with it
    assert cache.boundaries("a", "fine") is None and cache.get("a", "fine") is None
    edges = cache.boundaries("b", "fine")
    assert edges.dtype == bool and edges.shape == sp.shape
    rows, cols = np.nonzero(edges)  # each boundary pixel has a 4-neighbour in another region
    padded = np.pad(sp, 1, mode="edge")
    neighbours = [
        padded[rows + 1 + dr, cols + 1 + dc] for dr, dc in ((-1, 0), (1, 0), (0, -1), (0, 1))
    ]
    assert all((np.stack(neighbours) != sp[rows, cols]).any(axis=0))
    assert (~edges).sum() > edges.sum()  # lines, not a fill
