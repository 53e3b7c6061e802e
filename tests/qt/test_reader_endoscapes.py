"""Endoscapes and paired folders opened through the plugin's reader in a real napari viewer."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from alges_napari._reader import get_reader, read_frames
from alges_napari.core.data.classes import ENDOSCAPES
from tests.core.data.endoscapes_tree import FRAMES, H, W, frame_mask, make_endoscapes

#: Set ALGES_ENDOSCAPES to a real split folder to open it too (the shared copy, by hand).
REAL = os.environ.get("ALGES_ENDOSCAPES")


def test_reader_claims_endoscapes_split_and_root(tmp_path) -> None:
    root = make_endoscapes(tmp_path / "es")
    assert get_reader(str(root / "train_seg")) is read_frames
    assert get_reader(str(root)) is read_frames  # the root holds no image itself


def test_open_endoscapes_split_in_napari(make_napari_viewer, tmp_path, messages) -> None:
    root = make_endoscapes(tmp_path / "es")
    viewer = make_napari_viewer()
    image, labels = viewer.open(str(root / "train_seg"), plugin="alges-napari")
    assert image.rgb and image.data.shape == (6, H, W, 3)
    assert labels.data.shape == (6, H, W)
    names = dict(zip(labels.features["index"], labels.features["class"], strict=True))
    assert [names[i] for i in range(7)] == list(ENDOSCAPES.names) and names[255] == "ignore"
    for cls, rgb in enumerate(ENDOSCAPES.colors):
        np.testing.assert_allclose(labels.colormap.map(np.array([cls]))[0][:3] * 255, rgb, atol=1)
    v, f = sorted(FRAMES)[3]  # frames are in numeric video/frame order
    viewer.dims.set_point(0, 3)
    np.testing.assert_array_equal(np.asarray(labels.data[3]), frame_mask(v, f))
    report = labels.metadata["alges_report"]
    assert report["n_frames"] == 6 and report["n_groups"] == 3
    shown = [m for m in messages if m.startswith("Endoscapes train_seg: 6 frames in 3 videos")]
    assert len(shown) == 1  # the report, once


@pytest.mark.skipif(not REAL or not Path(REAL).is_dir(), reason="set ALGES_ENDOSCAPES to a split")
def test_open_real_endoscapes_split_in_napari(make_napari_viewer, messages) -> None:
    viewer = make_napari_viewer()
    image, labels = viewer.open(REAL, plugin="alges-napari")
    viewer.dims.set_point(0, 1)
    truth = np.asarray(labels.data[1])
    assert truth.shape == image.data.shape[1:3] and set(np.unique(truth)) <= {*range(7), 255}
    print(f"\n{image.data.shape[0]} frames of {image.data.shape[2]}x{image.data.shape[1]}; "
          f"classes {list(labels.features['class'])}; report: {messages}")  # fmt: skip
