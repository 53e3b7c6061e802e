"""The synthetic laparoscopic generator: exact, deterministic ground truth that looks the part."""

from __future__ import annotations

import re
import threading

import numpy as np
import pytest

from alges_napari.core.data.synthetic.clips import (
    SyntheticClip,
    boundary_pixels,
    generate_clip,
    main,
    write_cholecseg8k_tree,
)
from alges_napari.core.errors import AlgesError

SIZE = (72, 128)  # small frames keep the suite fast; the scene scales with the frame size
INSTRUMENTS = (5, 9)
RARE = (7, 8, 11)  # blood, cystic duct, hepatic vein


@pytest.fixture(scope="module")
def clips() -> dict[int, list[tuple[np.ndarray, np.ndarray]]]:
    return {c: list(generate_clip(c, 40, SIZE, seed=3)) for c in range(4)}


def test_same_seed_gives_identical_arrays() -> None:
    a = list(generate_clip(2, 4, SIZE, seed=11))
    b = list(generate_clip(2, 4, SIZE, seed=11))
    other = list(generate_clip(2, 4, SIZE, seed=12))
    for (fa, ma), (fb, mb) in zip(a, b, strict=True):
        np.testing.assert_array_equal(fa, fb)
        np.testing.assert_array_equal(ma, mb)
    assert not np.array_equal(a[0][0], other[0][0])


def test_frame_does_not_depend_on_clip_length() -> None:
    short = list(generate_clip(1, 3, SIZE, seed=0))
    clip = SyntheticClip(1, SIZE, seed=0)
    np.testing.assert_array_equal(short[2][0], clip.frame(2)[0])


def test_a_clip_is_the_same_scene_at_any_size() -> None:
    _, small = SyntheticClip(3, SIZE, seed=2).frame(7)
    _, large = SyntheticClip(3, (2 * SIZE[0], 2 * SIZE[1]), seed=2).frame(7)
    agree = np.mean(small == large[::2, ::2])
    other = np.mean(small == SyntheticClip(4, SIZE, seed=2).frame(7)[1])
    assert agree > 0.9 and agree > other + 0.1, (agree, other)


def test_frames_and_masks_have_the_schema_types_and_one_size(clips) -> None:
    for pairs in clips.values():
        for frame, mask in pairs:
            assert frame.dtype == np.uint8 and frame.shape == (*SIZE, 3)
            assert mask.dtype == np.uint8 and mask.shape == SIZE
            assert mask.max() <= 12


def test_outside_the_field_of_view_is_black_background() -> None:
    clip = SyntheticClip(0, (96, 170), seed=1)
    frame, mask = clip.frame(5)
    ys, xs = np.mgrid[0:96, 0:170] + 0.5
    radius = np.hypot(ys - clip.centre[0], xs - clip.centre[1])
    outside = radius > clip.fov_radius
    assert outside.sum() > 0.05 * outside.size  # the corners are really cut off
    assert np.all(mask[outside] == 0)
    assert frame[outside].mean() < 8  # black up to sensor noise
    assert np.all(mask[radius < 0.9 * clip.fov_radius] != 0)  # tissue everywhere inside


def test_instruments_appear_in_every_clip(clips) -> None:
    for pairs in clips.values():
        with_tool = sum(np.isin(m, INSTRUMENTS).any() for _, m in pairs)
        assert with_tool > 0


def test_rare_classes_are_rare(clips) -> None:
    counts = sum(np.bincount(m.ravel(), minlength=13) for p in clips.values() for _, m in p)
    fraction = counts / counts.sum()
    for cls in RARE:
        assert fraction[cls] < 0.01, (cls, fraction[cls])
    for cls in (0, 2, 4, 10):  # background, liver, fat, gallbladder are common
        assert fraction[cls] > 0.05, (cls, fraction[cls])
    blood_frames = [sum((m == 7).any() for _, m in p) for p in clips.values()]
    assert max(blood_frames) <= 12  # a few frames of a 40-frame clip at most


def test_camera_moves_smoothly(clips) -> None:
    for pairs in clips.values():
        grey = [f.astype(np.float64).mean(axis=2).ravel() for f, _ in pairs]
        near = np.mean([np.corrcoef(grey[i], grey[i + 1])[0, 1] for i in range(0, 30, 3)])
        far = np.mean([np.corrcoef(grey[i], grey[i + 30])[0, 1] for i in range(0, 10, 3)])
        assert near > far
        same_near = np.mean([np.mean(pairs[i][1] == pairs[i + 1][1]) for i in range(30)])
        assert same_near > 0.9  # labels barely change from one frame to the next


def test_lighting_differs_between_clips(clips) -> None:
    # Colour balance of the whole field of view: per-clip colour temperature shifts red/blue.
    ratios = []
    for pairs in clips.values():
        rgb = np.concatenate([f[m != 0] for f, m in pairs[:5]]).astype(np.float64)
        ratios.append(rgb[:, 0].mean() / rgb[:, 2].mean())
        assert rgb.mean() > 30  # lit, not black
    assert np.ptp(ratios) > 0.1 * np.mean(ratios)


def test_boundary_pixels_mark_class_changes() -> None:
    mask = np.zeros((4, 5), np.uint8)
    mask[:, 3:] = 2
    edge = boundary_pixels(mask)
    assert edge[:, 2].all() and edge.sum() == 4


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"clip_index": -1, "n_frames": 1}, "clip_index"),
        ({"clip_index": 0, "n_frames": -2}, "n_frames"),
        ({"clip_index": 0, "n_frames": 1, "size": (8, 8)}, "32x32"),
        ({"clip_index": 0, "n_frames": 1, "size": "big"}, "size"),
    ],
)
def test_bad_arguments_raise_alges_error(kwargs, match) -> None:
    with pytest.raises(AlgesError, match=match):
        list(generate_clip(**kwargs))


def test_tree_follows_cholecseg8k_and_round_trips(tmp_path) -> None:
    from alges_napari.core.data.classes import CHOLECSEG8K
    from alges_napari.core.data.masks import read_mask

    root = write_cholecseg8k_tree(tmp_path / "set", n_clips=2, frames_per_clip=3, size=SIZE, seed=4)
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.png"))
    assert len(files) == 2 * 3 * 4
    pattern = re.compile(
        r"video(\d\d)/video\1_(\d{5})/frame_(\d+)_endo(_mask|_color_mask|_watershed_mask)?\.png"
    )
    assert all(pattern.fullmatch(f) for f in files), files
    truth = [m for c in range(2) for _, m in generate_clip(c, 3, SIZE, seed=4)]
    stems = sorted(
        {f.split("_endo")[0] for f in files}, key=lambda s: (s[:7], int(s.rsplit("_", 1)[1]))
    )
    for stem, mask in zip(stems, truth, strict=True):
        color = read_mask(root / f"{stem}_endo_color_mask.png", CHOLECSEG8K, kind="color")
        np.testing.assert_array_equal(color, mask)
        plain = read_mask(root / f"{stem}_endo_mask.png", CHOLECSEG8K, kind="watershed")
        np.testing.assert_array_equal(plain, mask)
        lined = read_mask(root / f"{stem}_endo_watershed_mask.png", CHOLECSEG8K, kind="watershed")
        edge = boundary_pixels(mask)
        np.testing.assert_array_equal(lined[~edge], mask[~edge])
        assert np.all(lined[edge] == 255)


def test_tree_is_byte_identical_for_the_same_seed(tmp_path) -> None:
    a = write_cholecseg8k_tree(tmp_path / "a", n_clips=1, frames_per_clip=2, size=SIZE, seed=9)
    b = write_cholecseg8k_tree(tmp_path / "b", n_clips=1, frames_per_clip=2, size=SIZE, seed=9)
    names = sorted(p.relative_to(a) for p in a.rglob("*.png"))
    assert names == sorted(p.relative_to(b) for p in b.rglob("*.png"))
    assert all((a / n).read_bytes() == (b / n).read_bytes() for n in names)


def test_tree_writer_reports_progress_and_stops(tmp_path) -> None:
    stop = threading.Event()
    seen = []

    def on_progress(p: dict) -> None:
        seen.append(p)
        if p.done == 2:
            stop.set()

    write_cholecseg8k_tree(
        tmp_path / "s", n_clips=2, frames_per_clip=3, size=SIZE, on_progress=on_progress, stop=stop
    )
    assert [p.done for p in seen] == [1, 2] and seen[0].total == 6
    assert len(list((tmp_path / "s").rglob("*_endo.png"))) == 2


def test_command_line_writes_the_tree(tmp_path, capsys) -> None:
    out = tmp_path / "cli"
    assert main(["--out", str(out), "--clips", "1", "--frames", "2", "--size", "64", "96"]) == 0
    assert len(list(out.rglob("*_endo.png"))) == 2
    assert "wrote 1 x 2 frames" in capsys.readouterr().out
