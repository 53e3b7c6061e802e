"""The npe2 reader: lazy frame and ground-truth layers in a real napari viewer."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
from PIL import Image

from alges_napari._reader import get_reader, read_frames
from alges_napari.core.data.classes import CHOLECSEG8K
from alges_napari.core.data.synthetic import generate_clip
from alges_napari.core.errors import AlgesError, FrameSourceError

H, W = 24, 32
pytestmark = pytest.mark.tree(n_clips=1, frames_per_clip=3, size=(48, 64), seed=1)


@pytest.fixture
def folder(tmp_path):
    root = tmp_path / "frames"
    root.mkdir()
    frames = np.random.default_rng(0).integers(0, 256, (5, H, W, 3), dtype=np.uint8)
    for i, f in enumerate(frames):
        Image.fromarray(f).save(root / f"img_{i}.png")
    return root, frames


def test_reader_claims_only_frame_sources(folder, tmp_path) -> None:
    root, _ = folder
    assert get_reader(str(root)) is read_frames
    assert get_reader([str(root)]) is read_frames
    assert get_reader(str(root / "img_0.png")) is None  # a single image opens in napari itself
    assert get_reader([str(root), str(root)]) is None
    tifffile.imwrite(tmp_path / "one.tif", np.zeros((H, W), np.uint8))
    tifffile.imwrite(tmp_path / "many.tif", np.zeros((5, H, W), np.uint8))
    assert get_reader(str(tmp_path / "one.tif")) is None
    assert get_reader(str(tmp_path / "many.tif")) is read_frames
    assert get_reader(str(tmp_path / "missing.mp4")) is None
    (tmp_path / "empty").mkdir()
    assert get_reader(str(tmp_path / "empty")) is None


def test_frames_layer_is_lazy_and_exact(folder) -> None:
    root, frames = folder
    (data, kwargs, kind), = read_frames(str(root))  # fmt: skip
    assert kind == "image" and kwargs["rgb"] is True
    assert kwargs["axis_labels"] == ("frame", "y", "x")
    assert data.shape == (5, H, W, 3) and data.dtype == np.uint8
    assert data.chunks[0] == (1,) * 5  # one frame per chunk: decoded on demand
    np.testing.assert_array_equal(np.asarray(data[3]), frames[3])


def test_reader_errors_are_alges_errors(tmp_path) -> None:
    root = tmp_path / "bad"
    root.mkdir()
    (root / "a.png").write_bytes(b"not an image")
    reader = get_reader(str(root))
    assert reader is not None
    with pytest.raises(FrameSourceError, match="none of the 1 image files"):
        reader(str(root))


def test_open_folder_in_napari(make_napari_viewer, folder) -> None:
    root, frames = folder
    viewer = make_napari_viewer()
    layers = viewer.open(str(root), plugin="alges-napari")
    assert len(layers) == 1 and layers[0].rgb
    viewer.dims.set_point(0, 2)
    np.testing.assert_array_equal(np.asarray(layers[0].data[2]), frames[2])


def test_open_cholecseg8k_tree_in_napari(make_napari_viewer, tree) -> None:
    viewer = make_napari_viewer()
    image, labels = viewer.open(str(tree), plugin="alges-napari")
    assert image.data.shape == (3, 48, 64, 3) and labels.data.shape == (3, 48, 64)
    truth = [m for _, m in generate_clip(0, 3, (48, 64), seed=1)]
    gt = np.asarray(labels.data[1])
    inside = gt != 255
    np.testing.assert_array_equal(gt[inside], truth[1][inside])
    for cls, rgb in enumerate(CHOLECSEG8K.colors):
        rgba = labels.colormap.map(np.array([cls]))[0]
        np.testing.assert_allclose(rgba[:3] * 255, rgb, atol=1)
        assert rgba[3] == 1
    assert labels.colormap.map(np.array([255]))[0][3] == 0  # ignore is see-through
    names = dict(zip(labels.features["index"], labels.features["class"], strict=True))
    assert names[2] == "Liver" and names[255] == "ignore"
    # The status bar names the class under the cursor.
    y, x = (
        map(int, np.argwhere(gt == 2)[0]) if (gt == 2).any() else map(int, np.argwhere(inside)[0])
    )
    viewer.dims.set_point(0, 1)
    status = labels.get_status((1, y, x), world=True)
    value = int(gt[y, x])
    assert CHOLECSEG8K.names[value] in str(status)


def test_open_broken_folder_in_napari_reports_the_error(make_napari_viewer, tmp_path) -> None:
    root = tmp_path / "bad"
    root.mkdir()
    (root / "a.png").write_bytes(b"not an image")
    viewer = make_napari_viewer()
    with pytest.raises(Exception) as info:  # napari wraps reader errors; ours is in the chain
        viewer.open(str(root), plugin="alges-napari")
    chain, exc = [], info.value
    while exc is not None:
        chain.append(exc)
        exc = exc.__cause__ or exc.__context__
    assert any(isinstance(e, AlgesError) and "none of the 1 image files" in str(e) for e in chain)
