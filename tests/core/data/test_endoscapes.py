"""The Endoscapes source on tiny constructed trees: layout, classes, order, quirks, bad input."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from alges_napari.core.data.classes import ENDOSCAPES, get_schema
from alges_napari.core.data.frames import (
    DataReportWarning,
    EndoscapesSource,
    open_frames,
    open_frames_from_config,
)
from alges_napari.core.errors import FrameSourceError, MaskError
from tests.core.data.endoscapes_tree import (
    FRAMES,
    LABEL_MAP,
    H,
    W,
    frame_mask,
    make_endoscapes,
    save_mask,
)

SHARED = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "endoscapes-seg50"


def _open(path, **kw):
    return open_frames(path, report=False, **kw)


def test_split_folder_keys_groups_and_numeric_order(tmp_path) -> None:
    root = make_endoscapes(tmp_path / "es")
    src = _open(root / "train_seg")
    assert isinstance(src, EndoscapesSource) and src.kind == "endoscapes"
    # Numeric, not text, order: video 3 before 10 before 21; frame 300 before 1050.
    assert src.keys == ["3/3_300", "3/3_1050", "10/10_75", "10/10_825", "21/21_150", "21/21_900"]
    assert src.groups == ["3", "3", "10", "10", "21", "21"]
    assert src.shape == (H, W) and len(src) == 6 and src.name == "train_seg"
    assert src.schema is ENDOSCAPES and src.has_ground_truth
    for i, (v, f) in enumerate(sorted(FRAMES)):
        np.testing.assert_array_equal(src.ground_truth(i), frame_mask(v, f))
        assert src.file_of(i).name == f"{v}_{f}.jpg"
        assert src[i].shape == (H, W, 3)


def test_root_opens_every_split_or_the_one_picked(tmp_path) -> None:
    root = make_endoscapes(
        tmp_path / "es", {"val_seg": ((5, 75),), "train_seg": ((4, 75), (4, 825))}
    )
    both = _open(root)
    assert both.keys == ["4/4_75", "4/4_825", "5/5_75"]  # train first, then val
    assert both.split_of_frame == ["train_seg", "train_seg", "val_seg"]
    assert both.name == "es (train_seg + val_seg)"
    val = _open(root, split="val")
    assert val.keys == ["5/5_75"] and val.describe()["split"] == "val"
    again = open_frames_from_config(val.describe())
    assert again.keys == val.keys and again.schema == val.schema
    with pytest.raises(FrameSourceError, match="no split 'test'"):
        _open(root, split="test")
    with pytest.raises(FrameSourceError, match="Endoscapes root"):
        _open(root / "train_seg" / "4_75.jpg", split="val")


def test_describe_round_trip_and_stride(tmp_path) -> None:
    root = make_endoscapes(tmp_path / "es")
    src = _open(root / "train_seg", stride=2)
    assert src.keys == ["3/3_300", "10/10_75", "21/21_150"]
    again = open_frames_from_config(src.describe())
    assert isinstance(again, EndoscapesSource) and again.keys == src.keys


@pytest.mark.parametrize(
    "text",
    [
        LABEL_MAP,
        "".join(f"{i} {n}\n" for i, n in enumerate(ENDOSCAPES.names)),
        "# Endoscapes\n" + "".join(f"{n}: {i}\n" for i, n in enumerate(ENDOSCAPES.names)),
        "".join(f"{i}: {n.upper()}\n" for i, n in reversed(list(enumerate(ENDOSCAPES.names)))),
    ],
    ids=["name-id", "id-name", "name-colon-id", "id-colon-name-shuffled"],
)
def test_label_map_styles_give_the_builtin_schema(tmp_path, text) -> None:
    root = make_endoscapes(tmp_path / "es", label_map=text)
    src = _open(root / "train_seg")
    assert src.schema is ENDOSCAPES and src.report().notes == []


def test_missing_label_map_falls_back_and_says_so(tmp_path) -> None:
    root = make_endoscapes(tmp_path / "es", label_map=None)
    src = _open(root / "train_seg")
    assert src.schema is ENDOSCAPES
    (note,) = src.report().notes
    assert "seg_label_map.txt not found" in note and "6 tool" in note


def test_other_label_map_is_used_and_reported(tmp_path) -> None:
    text = "background 0\nliver 1\ntool 2\n"
    root = make_endoscapes(tmp_path / "es", {"train_seg": ((1, 75),)}, label_map=text)
    src = _open(root / "train_seg")
    assert src.schema.names == ("background", "liver", "tool")
    assert len(set(src.schema.colors)) == 3
    assert "not the official 7" in src.report().summary()
    # Values 3..6 of the constructed mask lie outside this 3-class schema: ignore, reported.
    truth = src.ground_truth(0)
    expected = frame_mask(1, 75)
    expected[expected >= 3] = 255
    np.testing.assert_array_equal(truth, expected)
    assert src.report().outside == {"semseg/1_75.png": ["3", "4", "5", "6"]}


@pytest.mark.parametrize(
    "text, match",
    [
        ("0 1\n", "exactly one side"),
        ("background 0\ntool 2\n", "missing \\[1\\]"),
        ("background 0\ntool 0\n", "given twice"),
        ("cystic plate\n", "exactly one side"),
    ],
)
def test_bad_label_map_names_the_file_and_line(tmp_path, text, match) -> None:
    root = make_endoscapes(tmp_path / "es", label_map=text)
    with pytest.raises(Exception, match=match) as info:
        _open(root / "train_seg")
    assert "seg_label_map.txt" in str(info.value)


def _quirky(tmp_path) -> Path:
    """The tree with each quirk: 255 in 3_300, a stray 7 in 10_75, a black frame with an empty
    mask (21_150) and an empty mask behind a real frame (21_900)."""
    root = make_endoscapes(tmp_path / "es")
    seg, frames = root / "semseg", root / "train_seg"
    m = frame_mask(3, 300)
    m[:4, :5] = 255
    save_mask(seg / "3_300.png", m)
    m = frame_mask(10, 75)
    m[40:42, :3] = 7
    save_mask(seg / "10_75.png", m)
    Image.fromarray(np.zeros((H, W, 3), np.uint8)).save(frames / "21_150.jpg")
    save_mask(seg / "21_150.png", np.zeros((H, W), np.uint8))
    save_mask(seg / "21_900.png", np.zeros((H, W), np.uint8))
    return root


def test_each_quirk_has_a_named_answer(tmp_path) -> None:
    src = _open(_quirky(tmp_path) / "train_seg")
    ignore = src.truth("3/3_300")
    assert int((ignore == 255).sum()) == 20  # 255 stays: the project's ignore value
    stray = src.truth("10/10_75")
    expected = frame_mask(10, 75)
    expected[40:42, :3] = 255  # the value 7 becomes ignore
    np.testing.assert_array_equal(stray, expected)
    rep = src.report()
    assert rep.n_frames == 6 and rep.n_groups == 3 and rep.n_masks == 6
    assert rep.ignore_masks == ["semseg/3_300.png", "semseg/10_75.png"]
    assert rep.ignore_pixels == 20 + 6
    assert rep.outside == {"semseg/10_75.png": ["7"]}
    assert rep.black_frames == ["train_seg/21_150.jpg"]
    assert rep.empty_masks == ["semseg/21_150.png", "semseg/21_900.png"]
    text = rep.summary()
    assert text.startswith("Endoscapes train_seg: 6 frames in 3 videos")
    assert "value 7 outside the schema in semseg/10_75.png (treated as ignore)" in text
    assert "1 all-black frames (kept): train_seg/21_150.jpg" in text
    assert "2 empty masks" in text
    assert rep.to_json()["summary"] == text


def test_open_frames_reports_once_not_per_frame(tmp_path) -> None:
    root = _quirky(tmp_path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        src = open_frames(root / "train_seg")
        for i in range(len(src)):
            src.ground_truth(i)
    # ResourceWarnings are left out: a gc pass here can run finalizers of sockets that other
    # files in the same xdist worker leaked, and "always" records those too.
    said = [w for w in caught if not issubclass(w.category, ResourceWarning)]
    reports = [w for w in said if issubclass(w.category, DataReportWarning)]
    assert len(reports) == 1 and len(said) == 1, [str(w.message) for w in said]
    assert str(reports[0].message) == src.report().summary()


def test_missing_semseg_is_a_clear_error(tmp_path) -> None:
    root = make_endoscapes(tmp_path / "es")
    for p in (root / "semseg").iterdir():
        p.unlink()
    (root / "semseg").rmdir()
    with pytest.raises(FrameSourceError, match="semseg does not exist"):
        _open(root / "train_seg")


def test_unequal_channels_name_the_file(tmp_path) -> None:
    root = make_endoscapes(tmp_path / "es")
    rgb = np.dstack([frame_mask(10, 825)] * 3)
    rgb[0, 0] = (1, 2, 3)
    Image.fromarray(rgb).save(root / "semseg" / "10_825.png")
    src = _open(root / "train_seg")
    with pytest.raises(MaskError, match="10_825.png: its 3 channels differ at 1 pixels"):
        src.truth("10/10_825")
    rep = src.report()
    assert list(rep.bad_masks) == ["semseg/10_825.png"] and "10_825.png" in rep.summary()


def test_mask_of_another_size_names_the_file(tmp_path) -> None:
    root = make_endoscapes(tmp_path / "es")
    save_mask(root / "semseg" / "21_900.png", np.zeros((H, W + 2), np.uint8))
    with pytest.raises(FrameSourceError, match=r"semseg/21_900.png \(66x48\)"):
        _open(root / "train_seg")


def test_frame_without_mask_is_reported_by_name(tmp_path) -> None:
    root = make_endoscapes(tmp_path / "es")
    (root / "semseg" / "3_1050.png").unlink()
    src = _open(root / "train_seg")
    assert src.truth("3/3_1050") is None
    rep = src.report()
    assert rep.missing_masks == ["train_seg/3_1050.jpg"] and rep.n_masks == 5
    assert "1 frames without a mask (no ground truth): train_seg/3_1050.jpg" in rep.summary()


def test_stray_files_are_left_out_and_named(tmp_path) -> None:
    root = make_endoscapes(tmp_path / "es")
    (root / "train_seg" / "notes.txt").write_text("x")
    Image.fromarray(np.zeros((H, W, 3), np.uint8)).save(root / "train_seg" / "cover.png")
    src = _open(root / "train_seg")
    assert len(src) == 6
    assert "2 files not named <video>_<frame> left out" in src.report().summary()


def test_not_an_endoscapes_folder_stays_a_plain_folder(tmp_path) -> None:
    folder = tmp_path / "frames_seg_like"
    folder.mkdir()
    Image.fromarray(np.zeros((H, W, 3), np.uint8)).save(folder / "1_75.png")
    assert _open(folder).kind == "folder"


def test_builtin_schema_by_name() -> None:
    assert get_schema("endoscapes") is ENDOSCAPES and get_schema("Endoscapes") is ENDOSCAPES
    assert ENDOSCAPES.num_classes == 7 and (255, 255, 255) not in ENDOSCAPES.colors


def test_project_created_over_a_split_keeps_its_classes(tmp_path) -> None:
    from alges_napari.core.project.project import Project

    root = make_endoscapes(tmp_path / "es")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataReportWarning)
        project = Project.create(tmp_path / "proj", root / "train_seg")
    try:
        assert project.schema == ENDOSCAPES
    finally:
        project.close()
    reopened = Project.open(tmp_path / "proj")
    try:
        assert reopened.schema == ENDOSCAPES
    finally:
        reopened.close()


@pytest.mark.skipif(not SHARED.is_dir(), reason="the shared Endoscapes copy is not here")
def test_shared_copy_splits() -> None:
    train = _open(SHARED / "train_seg")
    assert len(train) == 343 and len(set(train.groups)) == 30 and train.has_ground_truth
    assert train.schema == ENDOSCAPES
    val = _open(SHARED / "val_seg")
    assert len(val) == 76 and len(set(val.groups)) == 10
    rep = val.report()
    assert rep.outside == {"semseg/153_32700.png": ["7"]}
    assert rep.n_masks == 76 and not rep.missing_masks and not rep.bad_masks
