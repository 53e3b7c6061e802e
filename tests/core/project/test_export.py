"""Export of labels (index PNG, CholecSeg8k tree) and models, and the napari Labels writer."""

from __future__ import annotations

import errno
import json
import os
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from alges_napari._writer import write_labels
from alges_napari.core.errors import AlgesError, CheckpointError, MaskError
from alges_napari.core.project.export import export_labels, export_model
from alges_napari.core.project.project import Project, key_to_relpath

SIZE = (48, 64)


pytestmark = [
    pytest.mark.tree(n_clips=1, frames_per_clip=6, size=SIZE, seed=5),
    # No step floor nor early stopping (the cpu preset's 60-120 steps): the one round trained
    # here only has to give a model to export.
    pytest.mark.project(
        frames="tree", labels=(1, 4), validation=4, input_size=(64, 64), epochs=1, batch_size=2,
        min_steps=0, patience=0,
    ),
]


def listing(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def test_index_export_is_the_label_tree(project: Project, tmp_path: Path) -> None:
    out = export_labels(project, tmp_path / "out", fmt="index")
    keys = [project.keys[1], project.keys[4]]
    assert listing(out) == sorted([f"{key_to_relpath(k)}.png" for k in keys] + ["effort.csv"])
    for k in keys:
        assert (out / f"{key_to_relpath(k)}.png").read_bytes() == project.label_path(k).read_bytes()


def test_cholecseg8k_export_reads_back_as_a_tree(project: Project, tmp_path: Path) -> None:
    from alges_napari.core.data.frames import open_frames

    out = export_labels(project, tmp_path / "tree_out", fmt="cholecseg8k")
    back = open_frames(out)  # the frames module's own CholecSeg8k reader, independent of export
    assert sorted(back.keys) == sorted([project.keys[1], project.keys[4]])
    for key in back.keys:
        np.testing.assert_array_equal(back.truth(key), project.load_label(key))
        np.testing.assert_array_equal(back.frame(key), project.frames.frame(key))
    assert json.loads((out / "keymap.json").read_text()) == {k: k for k in back.keys}


def test_folder_keys_get_cholecseg8k_names(tmp_path: Path) -> None:
    frames = tmp_path / "frames"
    frames.mkdir()
    for i in range(3):
        Image.fromarray(np.full((32, 32, 3), 40 * i, np.uint8)).save(frames / f"img{i}.png")
    with Project.create(tmp_path / "p", frames) as proj:
        proj.accept_label(proj.keys[2], np.full((32, 32), 2, np.uint8))
        out = export_labels(proj, tmp_path / "o", fmt="cholecseg8k")
        base = "video01/video01_00000/frame_2_endo"
        assert json.loads((out / "keymap.json").read_text()) == {base: proj.keys[2]}
        suffixes = ["", "_color_mask", "_mask", "_watershed_mask"]
        assert listing(out) == sorted(
            [f"{base}{s}.png" for s in suffixes] + ["effort.csv", "keymap.json"]
        )
        colour = np.asarray(Image.open(out / f"{base}_color_mask.png"))
        assert (colour == np.array(proj.schema.colors[2], np.uint8)).all()


def test_model_export_loads_without_pickle(project: Project, tmp_path: Path) -> None:
    from alges_napari.core.learn.model import load_checkpoint
    from alges_napari.core.progress import run_to_end
    from alges_napari.core.session import ActiveLearningSession, RoundConfig

    session = ActiveLearningSession(project, "cpu")
    run_to_end(session.run_round(RoundConfig(query_size=1)))
    path = export_model(project, tmp_path / "model_out")
    model, spec, _ = load_checkpoint(path)
    ref = session.model.state_dict()
    assert all(torch.equal(v, ref[k].cpu()) for k, v in model.state_dict().items())
    assert spec.num_classes == project.schema.num_classes
    assert json.loads((path.parent / "classes.json").read_text()) == project.schema.to_json()
    # A pickle where the checkpoint should be is refused, and nothing is exported.
    torch.save(ref, project.checkpoint_path(2))
    with pytest.raises(CheckpointError):
        export_model(project, tmp_path / "model_out2")
    assert not (tmp_path / "model_out2").exists()


def test_no_model_or_bad_format_is_refused(project: Project, tmp_path: Path) -> None:
    with pytest.raises(AlgesError, match="no checkpoint"):
        export_model(project, tmp_path / "m")
    with pytest.raises(AlgesError, match="unknown label export format"):
        export_labels(project, tmp_path / "x", fmt="jpeg")
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "f").write_text("keep me")
    with pytest.raises(AlgesError, match="not an empty folder"):
        export_labels(project, tmp_path / "busy")
    assert (tmp_path / "busy" / "f").read_text() == "keep me"


@pytest.mark.parametrize("fmt", ["index", "cholecseg8k"])
def test_full_disk_leaves_nothing(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    calls = {"n": 0}
    real_fsync = os.fsync

    def fill_up(fd: int) -> None:
        calls["n"] += 1
        if calls["n"] > 2:  # the first files fit, then the disk is full
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fill_up)
    with pytest.raises(AlgesError, match="No space left"):
        export_labels(project, tmp_path / "out", fmt=fmt)
    monkeypatch.undo()
    # Neither the target nor a staging folder remains.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["proj"]


def test_read_only_target_gives_clear_error(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Tests run as root, where chmod does not stop writes: make mkdir under the target's
    # parent fail as a read-only mount would.
    parent = tmp_path / "ro"
    parent.mkdir()
    real_mkdir = os.mkdir

    def ro_mkdir(path, *args, **kw):  # type: ignore[no-untyped-def]
        if str(path).startswith(str(parent)):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
        return real_mkdir(path, *args, **kw)

    monkeypatch.setattr(os, "mkdir", ro_mkdir)
    with pytest.raises(
        AlgesError, match=f"cannot write to {parent / 'out'}: Read-only file system"
    ):
        export_labels(project, parent / "out")
    monkeypatch.undo()
    assert listing(parent) == [] and list(parent.iterdir()) == []


def test_writer_2d_and_3d(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    plane = rng.integers(0, 13, (20, 30)).astype(np.int32)  # napari Labels data is int32
    written = write_labels(str(tmp_path / "one.png"), plane, {"name": "mask"})
    assert written == [str(tmp_path / "one.png")]
    np.testing.assert_array_equal(np.asarray(Image.open(written[0])), plane)
    assert write_labels(str(tmp_path / "noext"), plane, {}) == [str(tmp_path / "noext.png")]

    stack = rng.integers(0, 256, (3, 20, 30)).astype(np.int64)
    written = write_labels(str(tmp_path / "stack.png"), stack, {"name": "s"})
    assert written == [str(tmp_path / "stack" / f"frame_{i:05d}.png") for i in range(3)]
    for i, path in enumerate(written):
        np.testing.assert_array_equal(np.asarray(Image.open(path)), stack[i])


def test_writer_refuses_what_png_cannot_hold(tmp_path: Path) -> None:
    with pytest.raises(MaskError, match="big.*0..300"):
        write_labels(str(tmp_path / "a.png"), np.array([[0, 300]]), {"name": "big"})
    with pytest.raises(MaskError, match="4 dimensions"):
        write_labels(str(tmp_path / "b.png"), np.zeros((2, 2, 2, 2), np.uint8), {"name": "x"})
    with pytest.raises(MaskError, match="integers"):
        write_labels(str(tmp_path / "c.png"), np.zeros((2, 2), np.float32), {"name": "x"})
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("empty_target", [False, True])
def test_a_failed_final_sync_leaves_the_target_as_it_was(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, empty_target: bool
) -> None:
    parent = tmp_path / "exports"
    out = parent / "labels"
    out.mkdir(parents=True) if empty_target else parent.mkdir()
    opened: dict[int, str] = {}
    real_open, real_fsync = os.open, os.fsync

    def recording_open(path, flags, *args, **kw):  # type: ignore[no-untyped-def]
        fd = real_open(path, flags, *args, **kw)
        opened[fd] = os.fspath(path)
        return fd

    def failing_final_sync(fd: int) -> None:
        if opened.get(fd) == str(parent) and any(out.rglob("*.png")):
            raise OSError(errno.EIO, os.strerror(errno.EIO))  # after the rename
        real_fsync(fd)

    monkeypatch.setattr(os, "open", recording_open)
    monkeypatch.setattr(os, "fsync", failing_final_sync)
    with pytest.raises(AlgesError, match="Input/output error"):
        export_labels(project, out)
    monkeypatch.undo()
    # The export failed, and the folder says so: as before, nothing staged left behind...
    assert sorted(p.name for p in parent.iterdir()) == (["labels"] if empty_target else [])
    assert not out.exists() or not any(out.iterdir())
    # ...so the same command, run again, succeeds.
    assert len(list(export_labels(project, out).rglob("*.png"))) == 2


@pytest.mark.parametrize("fmt", ["index", "cholecseg8k"])
def test_a_project_without_labels_exports_nothing_and_says_why(
    tree: Path, tmp_path: Path, fmt: str
) -> None:
    with Project.create(tmp_path / "empty", tree) as proj:
        with pytest.raises(AlgesError, match="no accepted labels: nothing to export"):
            export_labels(proj, tmp_path / "out", fmt=fmt)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("damage", ["truncated", "moved", "odd-size"])
def test_labels_are_exported_whatever_happened_to_the_frames(tmp_path: Path, damage: str) -> None:
    frames = tmp_path / "frames"
    frames.mkdir()
    rng = np.random.default_rng(1)
    for i in range(4):
        Image.fromarray(rng.integers(0, 256, (32, 48, 3), dtype=np.uint8)).save(
            frames / f"f{i}.png"
        )
    with Project.create(tmp_path / "p", frames) as proj:
        keys = proj.keys[:3]
        masks = {k: np.full((32, 48), i, np.uint8) for i, k in enumerate(keys)}
        for k, m in masks.items():
            proj.accept_label(k, m)
    if damage == "truncated":
        data = (frames / "f1.png").read_bytes()
        (frames / "f1.png").write_bytes(data[: len(data) // 2])
    elif damage == "moved":
        frames.rename(tmp_path / "elsewhere")
    else:
        Image.fromarray(np.zeros((10, 10, 3), np.uint8)).save(frames / "f9.png")
    unreadable = {"truncated": ["f1"], "moved": keys, "odd-size": keys}[damage]

    with Project.open(tmp_path / "p", readonly=True) as ro, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the frame source's own warning about f1.png
        out = export_labels(ro, tmp_path / "index")
        assert listing(out) == ["effort.csv", *(f"{k}.png" for k in keys)]
        for k, m in masks.items():
            np.testing.assert_array_equal(np.asarray(Image.open(out / f"{k}.png")), m)

    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        with Project.open(tmp_path / "p", readonly=True) as ro:
            out = export_labels(ro, tmp_path / "tree", fmt="cholecseg8k")
    exported = [w for w in said if w.category.__name__ == "ExportWarning"]
    assert len(exported) == 1, [str(w.message) for w in said]
    message = str(exported[0].message)
    assert f"{len(unreadable)} of 3 labels exported without their frame image" in message
    if damage == "truncated":
        assert "f1" in message and "f0" not in message
    keymap = json.loads((out / "keymap.json").read_text())
    assert sorted(keymap.values()) == keys
    for base, key in keymap.items():
        watershed = np.asarray(Image.open(out / f"{base}_watershed_mask.png"))
        assert (watershed == proj.schema.watershed[keys.index(key)]).all()
        assert (out / f"{base}.png").exists() == (key not in unreadable)
