"""The generic paired layout (images/ + masks/ + a class file) on tiny constructed trees."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tifffile
from PIL import Image

from alges_napari.core.data.classes import ClassSchema
from alges_napari.core.data.frames import PairedSource, open_frames, open_frames_from_config
from alges_napari.core.data.frames.classfile import parse_label_map
from alges_napari.core.errors import FrameSourceError, SchemaError
from tests.core.data.endoscapes_tree import H, W, frame_image, frame_mask

SCHEMA = ClassSchema(
    names=("background", "liver", "tool"), colors=((0, 0, 0), (200, 0, 0), (0, 0, 200)),
    name="three",
)  # fmt: skip


def _three(mask: np.ndarray) -> np.ndarray:
    return (mask % 3).astype(np.uint8)


def _paired(root, class_file="classes.txt"):
    """images: a.png, b.jpg, c.tif, d.png (no mask); masks: a, b, c as index PNGs, e.png (no
    image)."""
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    Image.fromarray(frame_image(1, 75)).save(root / "images" / "a.png")
    Image.fromarray(frame_image(2, 75)).save(root / "images" / "b.jpg", quality=95)
    tifffile.imwrite(root / "images" / "c.tif", frame_image(3, 75))
    Image.fromarray(frame_image(4, 75)).save(root / "images" / "d.png")
    for name, v in (("a", 1), ("b", 2), ("c", 3), ("e", 5)):
        Image.fromarray(_three(frame_mask(v, 75))).save(root / "masks" / f"{name}.png")
    if class_file == "classes.txt":
        (root / "classes.txt").write_text("0 background\n1 liver\n2 tool\n")
    elif class_file == "classes.json":
        (root / "classes.json").write_text(json.dumps(SCHEMA.to_json()))
    return root


def test_paired_layout_matches_stems_and_reports_the_unmatched(tmp_path) -> None:
    root = _paired(tmp_path / "set")
    src = open_frames(root, report=False)
    assert isinstance(src, PairedSource) and src.keys == ["a", "b", "c", "d"]
    assert src.schema.names == ("background", "liver", "tool")
    for i, v in enumerate((1, 2, 3)):
        np.testing.assert_array_equal(src.ground_truth(i), _three(frame_mask(v, 75)))
    np.testing.assert_array_equal(src[2], frame_image(3, 75))  # TIFF frames are exact
    assert src.ground_truth(3) is None
    rep = src.report()
    assert rep.missing_masks == ["images/d.png"] and rep.unmatched_masks == ["masks/e.png"]
    assert "1 masks without a frame (unused): masks/e.png" in rep.summary()
    assert rep.summary().startswith("Paired set: 4 frames, 3 with a mask")
    assert open_frames(root / "images", report=False).keys == src.keys  # images/ opens it too
    again = open_frames_from_config(src.describe())
    assert isinstance(again, PairedSource) and again.schema == src.schema


def test_schema_json_gives_colours_and_colour_masks(tmp_path) -> None:
    root = _paired(tmp_path / "set", "classes.json")
    truth = _three(frame_mask(1, 75))
    colour = np.asarray(SCHEMA.colors, np.uint8)[truth]
    Image.fromarray(colour).save(root / "masks" / "a.png")
    src = open_frames(root, report=False)
    assert src.schema == SCHEMA
    np.testing.assert_array_equal(src.ground_truth(0), truth)


def test_palette_masks_are_class_indices(tmp_path) -> None:
    root = _paired(tmp_path / "set")
    truth = _three(frame_mask(2, 75))
    img = Image.fromarray(truth, mode="P")
    img.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0] + [0] * 759)
    img.save(root / "masks" / "b.png")
    src = open_frames(root, report=False)
    np.testing.assert_array_equal(src.ground_truth(1), truth)


def test_sub_folders_are_groups(tmp_path) -> None:
    root = tmp_path / "set"
    for clip in ("clipA", "clipB"):
        (root / "images" / clip).mkdir(parents=True)
        (root / "masks" / clip).mkdir(parents=True)
        for n in (2, 10):
            Image.fromarray(frame_image(n, 75)).save(root / "images" / clip / f"f{n}.png")
            Image.fromarray(_three(frame_mask(n, 75))).save(root / "masks" / clip / f"f{n}.png")
    (root / "labels.txt").write_text("background: 0\nliver: 1\ntool: 2\n")
    src = open_frames(root, report=False)
    assert src.keys == ["clipA/f2", "clipA/f10", "clipB/f2", "clipB/f10"]
    assert src.groups == ["clipA", "clipA", "clipB", "clipB"]
    assert src.report().summary().startswith("Paired set: 4 frames in 2 folders")


def test_no_class_file_is_a_clear_error_unless_a_schema_is_given(tmp_path) -> None:
    root = _paired(tmp_path / "set", class_file=None)
    with pytest.raises(FrameSourceError, match="no class file; put one of classes.json"):
        open_frames(root, report=False)
    assert open_frames(root, schema=SCHEMA, report=False).schema == SCHEMA


def test_two_images_with_one_name_are_refused(tmp_path) -> None:
    root = _paired(tmp_path / "set")
    Image.fromarray(frame_image(1, 75)).save(root / "images" / "a.jpg")
    with pytest.raises(FrameSourceError, match="share the name 'a'"):
        open_frames(root, report=False)


def test_mask_of_another_size_is_refused_naming_it(tmp_path) -> None:
    root = _paired(tmp_path / "set")
    Image.fromarray(np.zeros((H + 1, W), np.uint8)).save(root / "masks" / "b.png")
    with pytest.raises(FrameSourceError, match=r"masks/b.png \(64x49\)"):
        open_frames(root, report=False)


def test_cvat_labelmap_keeps_its_colours() -> None:
    names, colors = parse_label_map(
        "# label:color_rgb:parts:actions\nbackground:0,0,0::\nliver:250,50,83::\n", "labelmap.txt"
    )
    assert names == ["background", "liver"] and colors == [(0, 0, 0), (250, 50, 83)]
    with pytest.raises(SchemaError, match="labelmap.txt line 2"):
        parse_label_map("0 a\n1\n", "labelmap.txt")
