"""Mask I/O: index, colour and watershed PNGs, conversions, and validation."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from PIL import Image

from alges_napari.core.data.classes import CHOLECSEG8K, ClassSchema
from alges_napari.core.data.masks import (
    MaskValueWarning,
    color_to_index,
    index_to_color,
    index_to_watershed,
    read_mask,
    validate_mask,
    watershed_to_index,
    write_color_png,
    write_index_png,
    write_watershed_png,
)
from alges_napari.core.errors import MaskError, SchemaError

WS = {0: 50, 1: 11, 2: 21, 3: 13, 4: 12, 5: 31, 6: 23, 7: 24, 8: 25, 9: 32, 10: 22, 11: 33, 12: 5}


@pytest.fixture
def mask() -> np.ndarray:
    m = np.random.default_rng(1).integers(0, 13, size=(30, 41)).astype(np.uint8)
    m[0, :7] = 255
    return m


def _colour_by_hand(m: np.ndarray) -> np.ndarray:
    out = np.full((*m.shape, 3), 255, np.uint8)
    for cls, rgb in enumerate(CHOLECSEG8K.colors):
        out[m == cls] = rgb
    return out


def test_conversions_agree_with_the_table(mask) -> None:
    np.testing.assert_array_equal(index_to_color(mask, CHOLECSEG8K), _colour_by_hand(mask))
    ws = index_to_watershed(mask, CHOLECSEG8K)
    expected = np.vectorize(lambda v: WS.get(int(v), 255))(mask)
    np.testing.assert_array_equal(ws, expected)
    np.testing.assert_array_equal(watershed_to_index(ws, CHOLECSEG8K), mask)
    np.testing.assert_array_equal(color_to_index(_colour_by_hand(mask), CHOLECSEG8K), mask)


@pytest.mark.parametrize(("kind", "writer"), [("index", "i"), ("color", "c"), ("watershed", "w")])
def test_files_round_trip_losslessly(tmp_path, mask, kind, writer) -> None:
    path = tmp_path / f"{kind}.png"
    if writer == "i":
        write_index_png(path, mask, CHOLECSEG8K)
    elif writer == "c":
        write_color_png(path, mask, CHOLECSEG8K)
    else:
        write_watershed_png(path, mask, CHOLECSEG8K)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # 255 (ignore/boundary) is no reason to warn
        np.testing.assert_array_equal(read_mask(path, CHOLECSEG8K, kind=kind), mask)
        np.testing.assert_array_equal(read_mask(path, CHOLECSEG8K), mask)  # auto-detected
    assert not list(tmp_path.glob(".*.tmp"))  # atomic writes leave no temporary file


def test_three_channel_watershed_and_rgba_colour(tmp_path, mask) -> None:
    write_watershed_png(tmp_path / "w3.png", mask, CHOLECSEG8K, channels=3)
    assert np.asarray(Image.open(tmp_path / "w3.png")).shape == (*mask.shape, 3)
    np.testing.assert_array_equal(read_mask(tmp_path / "w3.png", CHOLECSEG8K, "watershed"), mask)
    rgba = np.dstack([_colour_by_hand(mask), np.full(mask.shape, 200, np.uint8)])
    Image.fromarray(rgba).save(tmp_path / "rgba.png")
    np.testing.assert_array_equal(read_mask(tmp_path / "rgba.png", CHOLECSEG8K, "color"), mask)


def test_off_palette_colours(tmp_path, mask) -> None:
    mask[5, 5] = 2  # Liver, (255, 114, 114)
    rgb = _colour_by_hand(mask)
    rgb[5, 5] = (251, 118, 114)  # a slight drift, as on anti-aliased borders
    rgb[6, 6] = (60, 200, 20)  # far from every class colour
    Image.fromarray(rgb).save(tmp_path / "c.png")
    with pytest.warns(MaskValueWarning, match=r"c\.png: 1 pixel"):
        out = read_mask(tmp_path / "c.png", CHOLECSEG8K, kind="color")
    expected = mask.copy()
    expected[6, 6] = 255
    np.testing.assert_array_equal(out, expected)
    with pytest.warns(MaskValueWarning, match="2 pixel"):
        strict = read_mask(tmp_path / "c.png", CHOLECSEG8K, kind="color", tolerance=0)
    assert strict[5, 5] == 255 and strict[6, 6] == 255


def test_unknown_watershed_and_index_values_warn(tmp_path, mask) -> None:
    ws = index_to_watershed(mask, CHOLECSEG8K)
    ws[3, :4] = 77
    Image.fromarray(ws).save(tmp_path / "w.png")
    with pytest.warns(MaskValueWarning, match=r"w\.png: 4 pixel"):
        out = read_mask(tmp_path / "w.png", CHOLECSEG8K, kind="watershed")
    assert np.all(out[3, :4] == 255)
    idx = mask.copy()
    idx[2, :3] = 20
    Image.fromarray(idx).save(tmp_path / "i.png")
    with pytest.warns(MaskValueWarning, match="3 pixel"):
        out = read_mask(tmp_path / "i.png", CHOLECSEG8K, kind="index")
    assert np.all(out[2, :3] == 255)


def test_unreadable_files(tmp_path) -> None:
    with pytest.raises(MaskError, match="does not exist"):
        read_mask(tmp_path / "none.png", CHOLECSEG8K)
    (tmp_path / "junk.png").write_bytes(b"not a png at all")
    with pytest.raises(MaskError, match="junk.png"):
        read_mask(tmp_path / "junk.png", CHOLECSEG8K)
    with pytest.raises(MaskError, match="unknown mask kind"):
        read_mask(tmp_path / "junk.png", CHOLECSEG8K, kind="rgb")


def test_validate_mask(mask) -> None:
    assert validate_mask(mask, CHOLECSEG8K, shape=(30, 41)) is mask
    assert validate_mask(mask.astype(np.int64), CHOLECSEG8K).dtype == np.uint8
    with pytest.raises(MaskError, match=r"frame_7: mask is 41x30 \(WxH\) but the frame is 40x30"):
        validate_mask(mask, CHOLECSEG8K, shape=(30, 40), name="frame_7")
    with pytest.raises(MaskError, match=r"values \[13, 200\]"):
        bad = mask.copy()
        bad[0, 0], bad[1, 1] = 13, 200
        validate_mask(bad, CHOLECSEG8K)
    with pytest.raises(MaskError, match="2-D"):
        validate_mask(mask[None], CHOLECSEG8K)
    with pytest.raises(MaskError, match="float"):
        validate_mask(mask.astype(float), CHOLECSEG8K)
    with pytest.raises(MaskError, match="do not fit"):
        validate_mask(mask.astype(np.int16) - 1, CHOLECSEG8K)


def test_schema_without_watershed_refuses_watershed_output(tmp_path) -> None:
    schema = ClassSchema(names=("a", "b"), colors=((0, 0, 0), (9, 9, 9)))
    with pytest.raises(SchemaError, match="no watershed"):
        write_watershed_png(tmp_path / "w.png", np.zeros((2, 2), np.uint8), schema)
