"""Labels out (nnU-Net, COCO, CVAT mask 1.1) and back in: round trips, reports, refusals."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from alges_napari.core.data.classes import CHOLECSEG8K
from alges_napari.core.data.frames import open_frames
from alges_napari.core.errors import AlgesError
from alges_napari.core.project.export import LABEL_FORMATS, export_labels
from alges_napari.core.project.label_import import IMPORT_FORMATS, import_labels
from alges_napari.core.project.project import Project

H, W = 48, 64
KEYS = ["clipA/f0", "clipA/f1", "clipB/f2"]
C = CHOLECSEG8K.num_classes
pytestmark = pytest.mark.project(frames="frame_source", first_queue=0)  # as new_project's


@pytest.fixture(scope="module")
def frames_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("frames")
    rng = np.random.default_rng(3)
    for key in KEYS:
        (root / key).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (H, W, 3), dtype=np.uint8)).save(root / f"{key}.png")
    return root


def new_project(frames_dir: Path, root: Path) -> Project:
    return Project.create(root, open_frames(frames_dir, recursive=True), first_queue=0)


def label_of(i: int) -> np.ndarray:
    """A label with every kind of value: several classes, blocks of ignore (255)."""
    rng = np.random.default_rng(10 + i)
    mask = rng.integers(0, C, (H, W), dtype=np.uint8)
    mask[5 + i : 15 + i, 10:30] = 255
    return mask


@pytest.fixture
def frame_source(frames_dir: Path):
    return open_frames(frames_dir, recursive=True)


@pytest.fixture
def project(project: Project) -> Project:
    """The suite's new project (tests/core/conftest.py) over KEYS, each frame labelled with
    :func:`label_of`, the last one set aside for validation."""
    assert project.keys == KEYS
    for i, key in enumerate(KEYS):
        project.accept_label(key, label_of(i))
    project.set_validation(KEYS[2])
    return project


def origins(project: Project) -> dict[str, dict[str, str]]:
    state = json.loads((project.root / "state.json").read_text())
    return {k: v.get("origin") for k, v in state["frames"].items()}


def test_formats_are_the_clis() -> None:
    from alges_napari.cli import project as cli

    assert cli.LABEL_FORMATS == LABEL_FORMATS
    assert cli.IMPORT_FORMATS == IMPORT_FORMATS


@pytest.mark.parametrize(
    ("out_fmt", "in_fmt"),
    [("index", "masks"), ("nnunet", "nnunet"), ("coco", "coco"), ("cvat-mask", "cvat-mask")],
)
def test_export_then_import_gives_the_same_label_files(
    project: Project, frames_dir: Path, tmp_path: Path, out_fmt: str, in_fmt: str
) -> None:
    out = export_labels(project, tmp_path / "out", fmt=out_fmt)
    with new_project(frames_dir, tmp_path / "again") as again:
        report = import_labels(again, in_fmt, out)
        assert sorted(k for k, _ in report.imported) == KEYS
        assert report.complete and not report.overwritten
        for key in KEYS:
            assert again.label_path(key).read_bytes() == project.label_path(key).read_bytes()
        assert {k: o["format"] for k, o in origins(again).items()} == dict.fromkeys(KEYS, in_fmt)
        assert all(Path(o["file"].split("#")[0]).exists() for o in origins(again).values())


def test_coco_reads_back_in_pycocotools(project: Project, tmp_path: Path) -> None:
    from pycocotools.coco import COCO

    out = export_labels(project, tmp_path / "coco", fmt="coco")
    coco = COCO(str(out / "annotations.json"))
    names = {c["id"]: c["name"] for c in coco.loadCats(coco.getCatIds())}
    assert [names[i + 1] for i in range(C)] == list(CHOLECSEG8K.names)
    for image in coco.loadImgs(coco.getImgIds()):
        mask = np.full((image["height"], image["width"]), 255, np.uint8)
        for ann in coco.loadAnns(coco.getAnnIds(imgIds=image["id"])):
            region = coco.annToMask(ann).astype(bool)
            assert not (mask[region] != 255).any()  # one segment per class: no overlap
            mask[region] = ann["category_id"] - 1
            assert ann["area"] == int(region.sum())
        assert image["file_name"] == image["alges_key"] + ".png"
        np.testing.assert_array_equal(mask, project.load_label(image["alges_key"]))
    schema = json.loads((out / "annotations.json").read_text())["info"]["alges_class_schema"]
    assert schema == CHOLECSEG8K.to_json()


def check_nnunet_dataset(folder: Path) -> dict:
    """nnU-Net v2's documented raw-dataset rules (dataset_format.md; the checks its
    verify_dataset_integrity makes), written out: nnunetv2 is not installed here."""
    info = json.loads((folder / "dataset.json").read_text())
    for field in ("channel_names", "labels", "numTraining", "file_ending"):
        assert field in info
    assert info["file_ending"] == ".png"
    labels = info["labels"]
    assert labels["background"] == 0
    values = sorted(labels.values())
    assert values == list(range(len(values)))  # consecutive, 0 first
    if "ignore" in labels:
        assert labels["ignore"] == max(values)  # the ignore label is the highest
    cases = sorted(p.name[: -len(".png")] for p in (folder / "labelsTr").glob("*.png"))
    assert len(cases) == info["numTraining"]
    for sub in ("Tr", "Ts"):
        for label in (folder / f"labels{sub}").glob("*.png"):
            image = folder / f"images{sub}" / f"{label.stem}_0000.png"
            img = np.asarray(Image.open(image))
            assert img.shape == (H, W, len(info["channel_names"]))  # one RGB file, 3 channels
            lab = np.asarray(Image.open(label))
            assert lab.shape == (H, W) and set(np.unique(lab).tolist()) <= set(values)
    return info


def test_nnunet_dataset_follows_its_documented_schema(project: Project, tmp_path: Path) -> None:
    out = export_labels(project, tmp_path / "nn", fmt="nnunet")
    info = check_nnunet_dataset(out)
    assert info["channel_names"] == {"0": "R", "1": "G", "2": "B"}
    assert info["labels"]["ignore"] == C and info["numTraining"] == 3
    assert list(info["labels"])[1:C] == list(CHOLECSEG8K.names[1:])
    lab = np.asarray(Image.open(out / "labelsTr" / "clipA__f0.png"))
    np.testing.assert_array_equal(lab, np.where(label_of(0) == 255, C, label_of(0)))
    frame = np.asarray(Image.open(out / "imagesTr" / "clipA__f0_0000.png"))
    np.testing.assert_array_equal(frame, project.frames[0])

    held = export_labels(project, tmp_path / "nn_ts", fmt="nnunet", validation_as_test=True)
    info = check_nnunet_dataset(held)
    assert info["numTraining"] == 2
    assert sorted(p.name for p in (held / "imagesTs").iterdir()) == ["clipB__f2_0000.png"]


def test_nnunet_declares_no_ignore_label_when_no_pixel_is_ignored(
    frames_dir: Path, tmp_path: Path
) -> None:
    with new_project(frames_dir, tmp_path / "p") as proj:
        proj.accept_label(KEYS[0], np.ones((H, W), np.uint8))
        info = check_nnunet_dataset(export_labels(proj, tmp_path / "nn", fmt="nnunet"))
        assert "ignore" not in info["labels"] and len(info["labels"]) == C


def test_cvat_mask_layout(project: Project, tmp_path: Path) -> None:
    out = export_labels(project, tmp_path / "cvat", fmt="cvat-mask")
    lines = (out / "labelmap.txt").read_text().splitlines()
    assert lines[1] == "background:0,0,0::"
    assert lines[2:] == [f"{n}:{c[0]},{c[1]},{c[2]}::" for n, c in
                         zip(CHOLECSEG8K.names, CHOLECSEG8K.colors, strict=True)]  # fmt: skip
    assert (out / "ImageSets/Segmentation/default.txt").read_text().split() == KEYS
    rgb = np.asarray(Image.open(out / "SegmentationClass" / "clipA" / "f0.png"))
    mask = label_of(0)
    np.testing.assert_array_equal(rgb[mask == 255], 0)
    np.testing.assert_array_equal(
        rgb[mask == 2], np.broadcast_to(CHOLECSEG8K.colors[2], rgb[mask == 2].shape)
    )


# ---------------------------------------------------------------- foreign data, reported


def test_masks_import_reports_unmatched_and_out_of_schema(frames_dir: Path, tmp_path: Path) -> None:
    src = tmp_path / "src" / "masks"
    (src / "clipA").mkdir(parents=True)
    good = np.full((H, W), 3, np.uint8)
    Image.fromarray(good).save(src / "clipA" / "f0.png")
    Image.fromarray(good).save(src / "clipA" / "f9.png")  # no such frame
    bad = good.copy()
    bad[0, 0], bad[1, 1] = 200, 13  # ids outside CholecSeg8k (0..12)
    Image.fromarray(bad).save(src / "f1_mask.png")  # the frame's stem, with a _mask suffix
    colour = np.zeros((H, W, 3), np.uint8)
    colour[:] = CHOLECSEG8K.colors[4]
    Image.fromarray(colour).save(src / "f2.png")  # a colour mask in the schema's colours
    with new_project(frames_dir, tmp_path / "p") as proj:
        report = import_labels(proj, "masks", src.parent)
        assert sorted(k for k, _ in report.imported) == ["clipA/f0", "clipB/f2"]
        assert report.unmatched == [str(src / "clipA" / "f9.png")]
        assert len(report.out_of_schema) == 1
        assert str(src / "f1_mask.png") in report.out_of_schema[0]
        assert "13, 200" in report.out_of_schema[0]
        assert not proj.has_label("clipA/f1")
        np.testing.assert_array_equal(proj.load_label("clipB/f2"), np.full((H, W), 4))


def test_coco_import_of_polygons_reports_unmatched_and_unknown_category(
    frames_dir: Path, tmp_path: Path
) -> None:
    from pycocotools import mask as rle

    poly = [[10.0, 5.0, 40.0, 5.0, 40.0, 30.0, 10.0, 30.0]]
    doc = {
        "images": [
            {"id": 1, "file_name": "f0.jpg", "height": H, "width": W},
            {"id": 2, "file_name": "elsewhere/f7.jpg", "height": H, "width": W},
            {"id": 3, "file_name": "clipA/f1.jpg", "height": H, "width": W},
        ],
        "categories": [{"id": 1, "name": "Liver"}, {"id": 2, "name": "Spleen"}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "segmentation": poly, "iscrowd": 0},
            {"id": 2, "image_id": 2, "category_id": 1, "segmentation": poly, "iscrowd": 0},
            {"id": 3, "image_id": 3, "category_id": 2, "segmentation": poly, "iscrowd": 0},
        ],
    }
    file = tmp_path / "instances.json"
    file.write_text(json.dumps(doc))
    with new_project(frames_dir, tmp_path / "p") as proj:
        report = import_labels(proj, "coco", file)
        assert [k for k, _ in report.imported] == ["clipA/f0"]
        assert report.unmatched == [f"{file}#image 2 (elsewhere/f7.jpg)"]
        assert report.out_of_schema == [
            f"{file}#image 3 (clipA/f1.jpg): categories 'Spleen' (id 2) are not classes of "
            "schema 'cholecseg8k'"
        ]
        expected = rle.decode(rle.merge(rle.frPyObjects(poly, H, W))).astype(bool)
        got = proj.load_label("clipA/f0")
        np.testing.assert_array_equal(got, np.where(expected, 2, 255))


def test_cvat_import_reports_unmatched_and_unknown_colour(
    project: Project, frames_dir: Path, tmp_path: Path
) -> None:
    out = export_labels(project, tmp_path / "cvat", fmt="cvat-mask")
    (out / "alges_keymap.json").unlink()  # as CVAT would give it back
    moved = out / "SegmentationClass" / "clipB" / "f2.png"
    moved.rename(moved.with_name("f5.png"))
    f1 = out / "SegmentationClass" / "clipA" / "f1.png"
    rgb = np.asarray(Image.open(f1)).copy()
    rgb[0, 0] = (1, 2, 3)
    Image.fromarray(rgb).save(f1)
    with new_project(frames_dir, tmp_path / "p") as proj:
        report = import_labels(proj, "cvat-mask", out)
        assert [k for k, _ in report.imported] == ["clipA/f0"]
        assert report.unmatched == [str(moved.with_name("f5.png"))]
        assert report.out_of_schema == [
            f"{f1}: colours (1, 2, 3) are not classes of schema 'cholecseg8k'"
        ]


def test_nnunet_import_reports_unmatched_and_out_of_schema(
    project: Project, frames_dir: Path, tmp_path: Path
) -> None:
    out = export_labels(project, tmp_path / "nn", fmt="nnunet")
    (out / "alges_keymap.json").unlink()
    stray = out / "labelsTr" / "case_9.png"
    (out / "labelsTr" / "clipA__f0.png").rename(stray)
    f1 = out / "labelsTr" / "clipA__f1.png"
    lab = np.asarray(Image.open(f1)).copy()
    lab[0, 0] = 77
    Image.fromarray(lab).save(f1)
    with new_project(frames_dir, tmp_path / "p") as proj:
        report = import_labels(proj, "nnunet", out)
        assert [k for k, _ in report.imported] == ["clipB/f2"]  # found by its flat name
        assert report.unmatched == [str(stray)]
        assert report.out_of_schema == [f"{f1}: label values 77 are outside the schema"]


def test_existing_labels_are_kept_unless_overwrite(project: Project, tmp_path: Path) -> None:
    src = tmp_path / "masks"
    (src / "clipA").mkdir(parents=True)
    Image.fromarray(np.full((H, W), 7, np.uint8)).save(src / "clipA" / "f0.png")
    before = project.label_path("clipA/f0").read_bytes()
    report = import_labels(project, "masks", src)
    assert report.kept == [("clipA/f0", str(src / "clipA" / "f0.png"))] and not report.imported
    assert not report.complete
    assert project.label_path("clipA/f0").read_bytes() == before
    assert origins(project)["clipA/f0"] is None
    report = import_labels(project, "masks", src, overwrite=True)
    assert report.overwritten == ["clipA/f0"] and report.complete
    np.testing.assert_array_equal(project.load_label("clipA/f0"), np.full((H, W), 7))
    assert origins(project)["clipA/f0"]["format"] == "masks"
    project.accept_label("clipA/f0", np.full((H, W), 1, np.uint8))  # the user's own now
    assert origins(project)["clipA/f0"] is None
    with Project.open(project.root, readonly=True) as back:  # state.json reads back
        assert back.has_label("clipA/f0")


def test_import_refuses_what_is_no_dataset(project: Project, tmp_path: Path) -> None:
    with pytest.raises(AlgesError, match="dataset.json"):
        import_labels(project, "nnunet", tmp_path)
    with pytest.raises(AlgesError, match="labelmap.txt"):
        import_labels(project, "cvat-mask", tmp_path)
    with pytest.raises(AlgesError, match="does not exist"):
        import_labels(project, "masks", tmp_path / "nothing")
    with pytest.raises(AlgesError, match="unknown import format"):
        import_labels(project, "voc", tmp_path)


def test_accept_without_replace_never_overwrites(project: Project) -> None:
    from alges_napari.core.project.project import LabelExistsError

    before = project.label_path("clipA/f0").read_bytes()
    with pytest.raises(LabelExistsError, match="already has an accepted label"):
        project.accept_label("clipA/f0", np.zeros((H, W), np.uint8), replace=False)
    assert project.label_path("clipA/f0").read_bytes() == before


def test_masks_of_another_size_or_without_a_labelled_pixel_are_reported(
    frames_dir: Path, tmp_path: Path
) -> None:
    src = tmp_path / "masks"
    (src / "clipA").mkdir(parents=True)
    Image.fromarray(np.zeros((H, W + 1), np.uint8)).save(src / "clipA" / "f0.png")
    Image.fromarray(np.full((H, W), 255, np.uint8)).save(src / "clipA" / "f1.png")
    with new_project(frames_dir, tmp_path / "p") as proj:
        report = import_labels(proj, "masks", src)
        assert not report.imported and not report.out_of_schema
        assert report.invalid == [
            f"{src / 'clipA' / 'f0.png'}: 65x48 (WxH), but frame 'clipA/f0' is 64x48",
            f"{src / 'clipA' / 'f1.png'}: labels no pixel (everything is unlabelled)",
        ]
