"""The on-disk project: layout, statuses, atomic durable labels, locking, recovery, cache."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import textwrap
from datetime import datetime, timedelta, timezone
from pathlib import Path, PurePosixPath

import numpy as np
import pytest
from PIL import Image

from alges_napari.core.errors import AlgesError, MaskError, ProjectError, ProjectLockedError
from alges_napari.core.project.project import (
    Project,
    ProjectRecoveryWarning,
    QueueEntry,
    RoundRecord,
    key_to_relpath,
    relpath_to_key,
)
from tests.core.project.random_frames import SHAPE, make_folder, random_mask

pytestmark = pytest.mark.project(input_size=(64, 64))


def test_layout_is_readable_and_reopens(project: Project, tmp_path: Path) -> None:
    k0, k1 = project.keys[:2]
    m0, m1 = random_mask(0), random_mask(1)
    before = datetime.now(timezone.utc).replace(microsecond=0)  # stamps are whole seconds
    path = project.accept_label(k0, m0, seconds=4.5)
    project.accept_label(k1, m1)
    after = datetime.now(timezone.utc)
    project.close()

    root = tmp_path / "proj"
    assert path == root / "labels" / f"{key_to_relpath(k0)}.png"
    # The label file is a plain greyscale PNG holding exactly the mask.
    with Image.open(path) as im:
        assert im.mode == "L"
        np.testing.assert_array_equal(np.asarray(im), m0)
    config = json.loads((root / "alges_project.json").read_text())
    assert config["version"] == 1 and config["train"]["input_size"] == [64, 64]
    assert config["classes"]["name"] == "cholecseg8k"
    state = json.loads((root / "state.json").read_text())
    accepted = {k: state["frames"][k].pop("accepted") for k in (k0, k1)}
    assert state["frames"][k0] == {"status": "labelled", "seconds": 4.5}
    assert state["frames"][k1] == {"status": "labelled"}  # accepted without a time
    for key, stamp in accepted.items():  # when each accept happened, in UTC
        when = datetime.fromisoformat(stamp)
        assert when.utcoffset() == timedelta(0), stamp
        assert before <= when <= after, (key, stamp, before, after)
    for sub in ("labels", "models", "cache"):
        assert (root / sub).is_dir()

    with Project.open(root) as again:
        assert again.recovery is None
        assert again.status(k0) == "labelled" and again.status(again.keys[2]) == "unlabelled"
        np.testing.assert_array_equal(again.load_label(k1), m1)
        assert again.load_label(again.keys[2]) is None
        assert again.annotation_seconds(k0) == 4.5


@pytest.mark.parametrize(
    "key", ["a/b/c", "frame 1", "..", ".", "a/../b", "50%/x", "ünï", "x.png", "a\\b"]
)
def test_key_paths_round_trip_and_stay_inside(key: str) -> None:
    rel = key_to_relpath(key)
    assert relpath_to_key(rel) == key
    assert not rel.is_absolute() and all(p not in ("..", ".") for p in rel.parts)
    assert len(rel.parts) == key.count("/") + 1  # "/" keys are mirrored as sub-folders


@pytest.mark.parametrize("key", ["", "/abs", "a//b", "trailing/"])
def test_malformed_keys_are_refused(key: str) -> None:
    with pytest.raises(ProjectError, match="empty"):
        key_to_relpath(key)


def test_reaccept_overwrites_and_times_add_up(project: Project) -> None:
    key = project.keys[0]
    project.accept_label(key, random_mask(0), seconds=2)
    edited = random_mask(7)
    project.accept_label(key, edited, seconds=3)
    np.testing.assert_array_equal(project.load_label(key), edited)
    assert project.annotation_seconds(key) == 5.0
    assert sorted(p.name for p in (project.root / "labels").iterdir()) == [
        f"{key_to_relpath(key)}.png"
    ]


def test_statuses_validation_and_skip(project: Project) -> None:
    a, b, c, d = project.keys[:4]
    project.accept_label(a, random_mask(0))
    project.accept_label(b, random_mask(1))
    project.set_validation(b)
    project.set_validation(c)
    project.skip(d)
    assert [project.status(k) for k in (a, b, c, d)] == [
        "labelled",
        "validation",
        "validation",
        "skipped",
    ]
    assert project.labelled_keys() == [a]  # validation frames never train
    assert project.validation_keys() == [b, c] and project.validation_keys(labelled_only=True) == [
        b
    ]
    assert project.unlabelled_keys() == project.keys[4:]
    assert project.counts() == {"unlabelled": 2, "labelled": 1, "skipped": 1, "validation": 2}
    project.accept_label(d, random_mask(2))  # accepting a skipped frame labels it
    project.set_validation(b, False)
    assert project.status(d) == "labelled" and project.status(b) == "labelled"
    project.close()
    with Project.open(project.root, readonly=True) as ro:
        assert [ro.status(k) for k in (a, b, c, d)] == [
            "labelled",
            "labelled",
            "validation",
            "labelled",
        ]


def test_bad_input_is_refused_with_its_name(project: Project) -> None:
    with pytest.raises(ProjectError, match="nope"):
        project.accept_label("nope", random_mask(0))
    with pytest.raises(MaskError):
        project.accept_label(project.keys[0], random_mask(0, shape=(10, 10)))
    with pytest.raises(MaskError):
        project.accept_label(project.keys[0], np.full(SHAPE, 40, np.uint8))  # only 13 classes
    assert not any((project.root / "labels").iterdir())


def test_queue_and_rounds_persist(project: Project) -> None:
    keys = project.keys
    project.set_queue([QueueEntry(keys[3], 0, 0.5), QueueEntry(keys[1], 1)])
    project.record_round(RoundRecord(round=1, n_labelled=0, mean_dice=None))
    project.accept_label(keys[3], random_mask(0))
    assert [e.key for e in project.pending_queue()] == [keys[1]]
    project.close()
    with Project.open(project.root) as again:
        assert again.queue == [QueueEntry(keys[3], 0, 0.5), QueueEntry(keys[1], 1, None)]
        assert again.rounds == [RoundRecord(round=1, n_labelled=0, mean_dice=None)]
        assert again.next_round() == 2
        assert again.checkpoint_path(2).name == "round_0002.safetensors"


def test_second_writer_is_refused_reader_allowed(project: Project) -> None:
    with pytest.raises(ProjectLockedError, match=str(os.getpid())):
        Project.open(project.root)
    with Project.open(project.root, readonly=True) as ro:
        assert ro.readonly
        with pytest.raises(ProjectError, match="read-only"):
            ro.accept_label(ro.keys[0], random_mask(0))
    project.close()
    Project.open(project.root).close()


def test_lock_held_by_another_process_and_released_when_it_dies(project: Project) -> None:
    root = project.root
    project.close()
    code = textwrap.dedent(
        f"""
        import sys, time
        from alges_napari.core.project.project import Project
        p = Project.open({str(root)!r})
        print("locked", flush=True)
        time.sleep(60)
        """
    )
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "locked"
        with pytest.raises(ProjectLockedError, match=f"process {child.pid}"):
            Project.open(root)
    finally:
        child.kill()  # SIGKILL: no clean-up code runs, the kernel drops the flock
        child.wait()
    Project.open(root).close()


def test_deleting_the_lock_file_does_not_let_a_second_writer_in(project: Project) -> None:
    (project.root / ".alges.lock").unlink()  # a user tidying up while the widget runs
    with pytest.raises(ProjectLockedError, match=f"process {os.getpid()}"):
        Project.open(project.root)
    project.accept_label(project.keys[0], random_mask(0))  # the first writer goes on
    project.close()
    with Project.open(project.root) as again:  # released: the next writer gets in
        assert again.labelled_keys() == [project.keys[0]]
        assert (project.root / ".alges.lock").read_text().strip() == str(os.getpid())


def test_a_writer_in_another_process_is_named_without_its_lock_file(project: Project) -> None:
    root = project.root
    project.close()
    code = textwrap.dedent(
        f"""
        import os, time
        from alges_napari.core.project.project import Project
        p = Project.open({str(root)!r})
        os.unlink(os.path.join({str(root)!r}, ".alges.lock"))
        print("locked", flush=True)
        time.sleep(60)
        """
    )
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "locked"
        with pytest.raises(ProjectLockedError, match=f"process {child.pid}"):
            Project.open(root)
    finally:
        child.kill()
        child.wait()
    Project.open(root).close()


@pytest.mark.parametrize("damage", ["missing", "garbage", "truncated", "wrong-type"])
def test_broken_state_is_rebuilt_from_labels(project: Project, damage: str) -> None:
    keys = project.keys
    masks = {k: random_mask(i) for i, k in enumerate(keys[:3])}
    for k, m in masks.items():
        project.accept_label(k, m)
    project.set_validation(keys[4])
    project.close()
    state = project.root / "state.json"
    text = state.read_text()
    if damage == "missing":
        state.unlink()
    elif damage == "garbage":
        state.write_bytes(b"\x00\xff not json")
    elif damage == "truncated":
        state.write_text(text[: len(text) // 2])
    else:
        state.write_text(json.dumps({"format": "alges-state", "frames": [1, 2], "queue": 3}))

    with pytest.warns(ProjectRecoveryWarning, match="rebuilt from labels"):
        again = Project.open(project.root)
    with again:
        assert again.recovery is not None and "3 labels" in again.recovery
        assert again.labelled_keys() == keys[:3]
        for k, m in masks.items():
            np.testing.assert_array_equal(again.load_label(k), m)
        assert again.status(keys[4]) == "unlabelled"  # the validation mark was only in the state
    # The rebuilt state was written back: the next open is clean.
    with Project.open(project.root) as third:
        assert third.recovery is None and third.labelled_keys() == keys[:3]


def test_full_disk_leaves_nothing_half_written(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = project.keys[0]
    project.accept_label(key, random_mask(0))
    state_before = (project.root / "state.json").read_bytes()

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(AlgesError, match="No space left"):
        project.accept_label(project.keys[1], random_mask(1))
    with pytest.raises(AlgesError, match="No space left"):
        project.accept_label(key, random_mask(2))  # a re-accept keeps the old label intact
    monkeypatch.undo()
    files = sorted(
        p.relative_to(project.root).as_posix() for p in project.root.rglob("*") if p.is_file()
    )
    assert files == [
        ".alges.lock",
        "alges_project.json",
        f"labels/{key_to_relpath(key)}.png",
        "state.json",
    ]
    np.testing.assert_array_equal(project.load_label(key), random_mask(0))
    assert project.status(project.keys[1]) == "unlabelled"
    assert (project.root / "state.json").read_bytes() == state_before


def test_read_only_folder_gives_clear_error(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Tests run as root, where chmod does not stop writes: refuse creating files under labels/
    # the way a read-only mount would (EROFS) by patching os.open.
    labels = str(project.root / "labels")
    real_open = os.open

    def ro_open(path, flags, *args, **kw):  # type: ignore[no-untyped-def]
        if str(path).startswith(labels) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
        return real_open(path, flags, *args, **kw)

    monkeypatch.setattr(os, "open", ro_open)
    with pytest.raises(AlgesError, match="Read-only file system"):
        project.accept_label(project.keys[0], random_mask(0))
    monkeypatch.undo()
    assert not any((project.root / "labels").iterdir())
    assert project.status(project.keys[0]) == "unlabelled"


def test_stale_temporaries_are_cleaned_on_open(project: Project) -> None:
    project.accept_label(project.keys[0], random_mask(0))
    project.close()
    stale = [
        project.root / "labels" / ".frame_001.png.abc123.tmp",
        project.root / ".state.json.x1.tmp",
    ]
    for p in stale:
        p.write_bytes(b"half")
    with Project.open(project.root, readonly=True) as ro:  # a reader never deletes
        assert ro.labelled_keys() == [project.keys[0]]
        assert all(p.exists() for p in stale)
    with Project.open(project.root) as again:
        assert again.labelled_keys() == [project.keys[0]]
    assert not any(p.exists() for p in stale)


def test_cache_round_trip_and_disposable(project: Project) -> None:
    key = project.keys[2]
    pred = random_mask(3)
    heat = np.linspace(0, 2.0, SHAPE[0] * SHAPE[1], dtype=np.float32).reshape(SHAPE)
    project.write_cache(key, pred, heat)
    np.testing.assert_array_equal(project.prediction(key), pred)
    np.testing.assert_array_equal(
        project.heat_map(key), np.round(heat / 2.0 * 255).astype(np.uint8)
    )
    assert project.prediction(project.keys[0]) is None
    # A damaged cache entry is a miss, not an error; deleting the cache is always allowed.
    (project.root / "cache" / "pred" / f"{key_to_relpath(key)}.png").write_bytes(b"broken")
    assert project.prediction(key) is None
    project.clear_cache()
    assert project.heat_map(key) is None and (project.root / "cache").is_dir()


def test_a_heat_map_kept_at_the_models_size_is_read_at_the_frames(project: Project) -> None:
    import torch
    import torch.nn.functional as F

    key = project.keys[1]
    rng = np.random.default_rng(4)
    low = rng.random((8, 12), dtype=np.float32) * 3.0  # sqrt(g) at the model's resolution
    project.write_cache(key, random_mask(2), low)
    stored = project.root / "cache" / "heat" / f"{key_to_relpath(key)}.npy"
    np.testing.assert_array_equal(np.load(stored), low)  # raw, not resized, not scaled
    # what the pass showed before it kept maps small: resized to the frame, then scaled
    up = F.interpolate(torch.from_numpy(low)[None, None], size=SHAPE, mode="bilinear")[0, 0]
    expected = np.round(up.numpy() / up.numpy().max() * 255).astype(np.uint8)
    got = project.heat_map(key)
    assert got.shape == SHAPE and got.max() == 255
    np.testing.assert_array_equal(got, expected)
    # a uint8 map written later replaces it (and the other way round)
    flat = np.full(SHAPE, 9, np.uint8)
    project.write_cache(key, random_mask(2), flat)
    assert not stored.exists()
    np.testing.assert_array_equal(project.heat_map(key), flat)
    project.write_cache(key, random_mask(2), low)
    np.testing.assert_array_equal(project.heat_map(key), expected)
    stored.write_bytes(b"broken")  # a damaged entry is a miss
    assert project.heat_map(key) is None
    assert not list((project.root / "cache").rglob(".*.tmp"))  # no temporaries left behind


def test_keys_with_slashes_are_mirrored(tmp_path: Path) -> None:
    from alges_napari.core.data.synthetic import write_cholecseg8k_tree

    tree = write_cholecseg8k_tree(
        tmp_path / "tree", n_clips=1, frames_per_clip=3, size=(32, 48), seed=0
    )
    with Project.create(tmp_path / "p", tree) as proj:
        key = proj.keys[1]
        assert "/" in key
        truth = proj.frames.ground_truth(1)
        path = proj.accept_label(key, truth)
        assert (
            path.relative_to(proj.root / "labels").with_suffix("").parts
            == key_to_relpath(key).parts
        )
    with Project.open(tmp_path / "p") as again:
        assert again.labelled_keys() == [key]
        np.testing.assert_array_equal(again.load_label(key), truth)


def test_create_refuses_non_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "x").write_text("x")
    with pytest.raises(ProjectError, match="not empty"):
        Project.create(tmp_path / "busy", make_folder(tmp_path / "f"))
    with pytest.raises(ProjectError, match="not an alges project"):
        Project.open(tmp_path / "busy")


def test_a_new_project_queues_frames_spread_over_the_source(tmp_path: Path) -> None:
    from alges_napari.core.acquire.scores import ScoreResult
    from alges_napari.core.acquire.strategies import get_strategy

    frames = make_folder(tmp_path / "frames", n=30)
    with Project.create(tmp_path / "p", frames) as proj:
        keys = proj.keys
        spread, _ = get_strategy("spread").rank(ScoreResult(n=30), 10)
        expected = [
            QueueEntry(keys[int(i)], rank, strategy="spread") for rank, i in enumerate(spread)
        ]
        assert [keys.index(e.key) for e in expected] == list(range(1, 30, 3))  # evenly spread
        assert proj.queue == expected and proj.pending_queue() == expected
    with Project.open(tmp_path / "p") as again:  # persisted like any queue
        assert again.queue == expected
    with Project.create(tmp_path / "q", frames, first_queue=4) as proj:
        assert [proj.keys.index(e.key) for e in proj.pending_queue()] == [3, 11, 18, 26]
    with Project.create(tmp_path / "r", frames, first_queue=0) as proj:
        assert proj.queue == []
    with Project.create(tmp_path / "s", make_folder(tmp_path / "short", n=3)) as proj:
        assert [e.key for e in proj.queue] == proj.keys  # fewer frames than asked: all of them
    with pytest.raises(ProjectError, match="first_queue"):
        Project.create(tmp_path / "t", frames, first_queue=-1)
    assert not (tmp_path / "t").exists()


def test_new_label_folders_are_synced_up_to_labels(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from alges_napari.core.data.frames import open_frames

    make_folder(tmp_path / "frames" / "clip1" / "part2", n=2)
    source = open_frames(tmp_path / "frames", recursive=True)
    with Project.create(tmp_path / "p", source) as proj:
        key = proj.keys[0]
        assert key.split("/")[:2] == ["clip1", "part2"]
        opened: dict[int, str] = {}
        synced: list[str] = []
        real_open, real_fsync = os.open, os.fsync

        def recording_open(path, flags, *args, **kw):  # type: ignore[no-untyped-def]
            fd = real_open(path, flags, *args, **kw)
            opened[fd] = os.fspath(path)
            return fd

        def recording_fsync(fd: int) -> None:
            synced.append(opened.get(fd, "?"))
            real_fsync(fd)

        monkeypatch.setattr(os, "open", recording_open)
        monkeypatch.setattr(os, "fsync", recording_fsync)
        proj.accept_label(key, random_mask(0))
        monkeypatch.undo()
        labels = proj.root / "labels"
        # Each new folder is an entry of its parent: labels/ holds clip1, clip1 holds part2,
        # part2 holds the label file.
        for folder in (labels, labels / "clip1", labels / "clip1" / "part2"):
            assert str(folder) in synced, f"{folder} was never synced: {synced}"
        synced.clear()
        monkeypatch.setattr(os, "open", recording_open)
        monkeypatch.setattr(os, "fsync", recording_fsync)
        proj.accept_label(proj.keys[1], random_mask(1))  # same folder: nothing new to sync
        monkeypatch.undo()
        assert str(labels) not in synced and str(labels / "clip1") not in synced


@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_files_follow_the_umask_like_any_new_file(tmp_path: Path, umask: int) -> None:
    from alges_napari.core.project.export import export_labels

    before = os.umask(umask)
    try:
        with Project.create(tmp_path / "p", make_folder(tmp_path / "frames")) as proj:
            key = proj.keys[0]
            label = proj.accept_label(key, random_mask(0))
            proj.write_cache(key, random_mask(1), np.ones(SHAPE, np.float32))
            out = export_labels(proj, tmp_path / "out")
        written = [
            label,
            proj.root / "state.json",
            proj.root / "alges_project.json",
            proj.root / ".alges.lock",
            # the prediction's PNG and the float heat map's .npy
            *sorted(p for p in (proj.root / "cache").rglob("*") if p.is_file()),
            *sorted(out.rglob("*.png")),
        ]
    finally:
        os.umask(before)
    assert len(written) == 7
    modes = {p.relative_to(tmp_path).as_posix(): oct(p.stat().st_mode & 0o777) for p in written}
    assert modes == dict.fromkeys(modes, oct(0o666 & ~umask))


@pytest.mark.parametrize(
    ("bad", "said"),
    [
        (np.full(SHAPE, 77, np.uint8), r"values \[77\] are not classes"),
        (np.zeros((10, 12), np.uint8), "mask is 12x10 .* the frame is 48x32"),
    ],
)
def test_a_bad_label_file_is_refused_naming_it(
    project: Project, tmp_path: Path, bad: np.ndarray, said: str
) -> None:
    from alges_napari.core.progress import run_to_end
    from alges_napari.core.project.export import export_labels
    from alges_napari.core.project.files import encode_index_png
    from alges_napari.core.session import ActiveLearningSession

    good, broken = project.keys[:2]
    project.accept_label(good, random_mask(0))
    path = project.accept_label(broken, random_mask(1))
    path.write_bytes(encode_index_png(bad))  # edited by hand, or written by another tool
    name = f"label file {path}: "
    with pytest.raises(MaskError, match=f"{name}{said}") as info:
        project.load_label(broken)
    assert "\n" not in str(info.value)
    np.testing.assert_array_equal(project.load_label(good), random_mask(0))
    for fmt in ("index", "cholecseg8k"):  # export copies nothing it cannot vouch for
        with pytest.raises(MaskError, match=name):
            export_labels(project, tmp_path / fmt, fmt=fmt)
        assert not (tmp_path / fmt).exists()
    with pytest.raises(MaskError, match=name):  # training: before any step, naming the file
        run_to_end(ActiveLearningSession(project, "cpu").run_round())
    assert project.rounds == [] and project.latest_checkpoint() is None


def test_label_sizes_are_checked_when_the_frames_are_gone(tmp_path: Path) -> None:
    import shutil

    frames = make_folder(tmp_path / "frames")
    with Project.create(tmp_path / "p", frames) as proj:
        key = proj.keys[0]
        path = proj.accept_label(key, random_mask(0))
    shutil.rmtree(frames)
    with Project.open(tmp_path / "p", readonly=True) as ro:
        np.testing.assert_array_equal(ro.load_label(key), random_mask(0))
    from alges_napari.core.project.files import encode_index_png

    path.write_bytes(encode_index_png(np.zeros((10, 12), np.uint8)))
    with Project.open(tmp_path / "p", readonly=True) as ro:
        with pytest.raises(MaskError, match="the frame is 48x32"):
            ro.load_label(key)


LONG_NAMES = ["a" * 245, "é" * 45, "漢" * 29]


@pytest.mark.parametrize(
    "key",
    [
        *LONG_NAMES,
        f"clip/{'漢' * 90}",
        f"{'ü' * 60}/{'b' * 300}",
        "." * 300,
        "a" * 236 + "." * 10,
        "a" * 234 + "%" * 20,
        "x" * 237,
        "x" * 238,
        "+" * 100,
    ],
)
def test_long_keys_map_to_bounded_reversible_paths(key: str) -> None:
    rel = key_to_relpath(key)
    assert relpath_to_key(rel) == key
    assert all(p not in (".", "..") and not p.startswith(".") for p in rel.parts)
    # The file's name with ".png" and the atomic writer's temporary affixes fits 255 bytes.
    assert len(f".{rel.name}.png.XXXXXXXX.tmp".encode()) <= 255
    assert all(len(p.encode()) <= 255 for p in rel.parts)


def test_short_key_paths_are_unchanged() -> None:
    assert key_to_relpath("x" * 237) == PurePosixPath("x" * 237)
    assert key_to_relpath(f"{'d' * 255}/f") == PurePosixPath("d" * 255, "f")
    assert key_to_relpath("video01/video01_00080/frame_80_endo").parts[-1] == "frame_80_endo"


def test_frames_with_long_names_can_be_labelled(tmp_path: Path) -> None:
    from alges_napari.core.project.export import export_labels

    frames = tmp_path / "frames"
    frames.mkdir()
    rng = np.random.default_rng(0)
    for name in LONG_NAMES:
        Image.fromarray(rng.integers(0, 256, (*SHAPE, 3), dtype=np.uint8)).save(
            frames / f"{name}.png"
        )
    with Project.create(tmp_path / "p", frames) as proj:
        assert sorted(proj.keys) == sorted(LONG_NAMES)
        for i, key in enumerate(proj.keys):
            proj.accept_label(key, random_mask(i))
            proj.write_cache(key, random_mask(i + 5), np.ones(SHAPE, np.float32))
            np.testing.assert_array_equal(proj.prediction(key), random_mask(i + 5))
        keys = proj.keys
    with Project.open(tmp_path / "p") as again:
        assert again.recovery is None and again.labelled_keys() == keys
        for i, key in enumerate(keys):
            np.testing.assert_array_equal(again.load_label(key), random_mask(i))
        out = export_labels(again, tmp_path / "out")
        assert len(list(out.rglob("*.png"))) == 3


@pytest.mark.parametrize(
    ("a", "b"), [("%41", "A"), ("a+", "a%2B"), ("x" * 240, "x" * 236 + "+/" + "xxxx")]
)
def test_keys_that_unescape_alike_keep_apart(a: str, b: str) -> None:
    assert key_to_relpath(a) != key_to_relpath(b)
    assert relpath_to_key(key_to_relpath(a)) == a and relpath_to_key(key_to_relpath(b)) == b


@pytest.mark.parametrize("layout", ["cholecseg8k", "recursive folder"])
def test_a_project_inside_its_own_frames_folder_keeps_its_labels_out(
    tmp_path: Path, layout: str
) -> None:
    from alges_napari.core.data.frames import open_frames

    if layout == "cholecseg8k":
        from alges_napari.core.data.synthetic import write_cholecseg8k_tree

        data = write_cholecseg8k_tree(
            tmp_path / "data", n_clips=1, frames_per_clip=4, size=(32, 48), seed=0
        )
        source = open_frames(data)
    else:
        data = tmp_path / "data"
        make_folder(data / "clip", n=4)
        source = open_frames(data, recursive=True)
    with Project.create(data / "my project", source) as proj:
        keys = proj.keys
        for i, key in enumerate(keys[:3]):
            proj.accept_label(key, random_mask(i) if layout != "cholecseg8k" else
                              proj.frames.ground_truth(i))  # fmt: skip
    with Project.open(data / "my project") as again:
        assert again.keys == keys and len(keys) == 4
        assert again.counts()["labelled"] == 3
    assert open_frames(data, recursive=True).keys == keys  # any reader of the folder


def test_frame_readers_know_the_project_config_name() -> None:
    from alges_napari.core.data.frames.base import PROJECT_MARKER
    from alges_napari.core.project.files import CONFIG_FILE

    assert PROJECT_MARKER == CONFIG_FILE


def test_an_empty_label_is_refused_and_nothing_is_saved(project: Project) -> None:
    key = project.keys[0]
    h, w = project.frames.shape
    with pytest.raises(ProjectError, match="labels no pixel"):
        project.accept_label(key, np.full((h, w), 255, np.uint8))
    assert project.status(key) == "unlabelled" and not project.label_path(key).exists()
    mask = np.full((h, w), 255, np.uint8)
    mask[0, 0] = 2  # one labelled pixel is a label
    project.accept_label(key, mask)
    with pytest.raises(ProjectError):  # and an accepted label is never replaced by nothing
        project.accept_label(key, np.full((h, w), 255, np.uint8))
    assert (project.load_label(key) == mask).all()
