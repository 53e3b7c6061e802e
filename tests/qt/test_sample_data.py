"""The npe2 sample: a synthetic clip and its ground truth, opened in a real napari viewer."""

from __future__ import annotations

import time

import numpy as np

from alges_napari._sample_data import SAMPLE_FRAMES, SAMPLE_SIZE, make_sample_data
from alges_napari.core.data.classes import CHOLECSEG8K
from alges_napari.core.data.synthetic import generate_clip


def test_sample_layers_are_the_generated_clip() -> None:
    started = time.perf_counter()
    (frames, image_kw, image_type), (masks, labels_kw, labels_type) = make_sample_data()
    elapsed = time.perf_counter() - started
    assert elapsed < 20  # a few seconds on a laptop; generous for a loaded CI machine
    assert (image_type, labels_type) == ("image", "labels")
    assert frames.shape == (SAMPLE_FRAMES, *SAMPLE_SIZE, 3) and image_kw["rgb"] is True
    assert masks.shape == (SAMPLE_FRAMES, *SAMPLE_SIZE) and masks.dtype == np.uint8
    assert "SYNTHETIC" in image_kw["name"] and labels_kw["name"] == "ground truth"
    first_frame, first_mask = next(generate_clip(0, 1, SAMPLE_SIZE, seed=0))
    np.testing.assert_array_equal(frames[0], first_frame)
    np.testing.assert_array_equal(masks[0], first_mask)
    assert list(labels_kw["features"]["class"]) == list(CHOLECSEG8K.names)


def test_open_sample_in_napari(make_napari_viewer) -> None:
    viewer = make_napari_viewer()
    layers = viewer.open_sample("alges-napari", "synthetic_clip")
    assert [layer._type_string for layer in layers] == ["image", "labels"]
    image, labels = viewer.layers
    assert image.rgb and image.data.shape == (SAMPLE_FRAMES, *SAMPLE_SIZE, 3)
    assert labels.data.shape == (SAMPLE_FRAMES, *SAMPLE_SIZE)
    for cls in range(1, CHOLECSEG8K.num_classes):  # every class in its schema colour
        rgba = labels.colormap.map(np.array([cls]))[0]
        np.testing.assert_allclose(rgba[:3] * 255, CHOLECSEG8K.colors[cls], atol=1)
        assert rgba[3] == 1
    assert labels.colormap.map(np.array([0]))[0][3] == 0  # background stays see-through
    assert list(labels.features["class"]) == list(CHOLECSEG8K.names)
    viewer.dims.set_current_step(0, SAMPLE_FRAMES - 1)  # scrolling the clip works
    assert viewer.dims.current_step[0] == SAMPLE_FRAMES - 1
