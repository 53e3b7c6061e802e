"""The benchmark preset: structure of real surgical video, fixed by published statistics."""

from __future__ import annotations

import dataclasses
import inspect
import json
import re

import numpy as np
import pytest

from alges_napari.core.data.synthetic import preset as preset_module
from alges_napari.core.data.synthetic.benchmark import (
    BenchmarkClip,
    iter_write_benchmark_tree,
    manifest,
)
from alges_napari.core.data.synthetic.command import main
from alges_napari.core.data.synthetic.plan import plan_benchmark
from alges_napari.core.data.synthetic.preset import (
    BENCHMARK,
    DISSECTION,
    EXPLORATION,
    BenchmarkPreset,
)
from alges_napari.core.errors import AlgesError
from alges_napari.core.progress import run_to_end

SIZE = (40, 64)  # tiny frames keep the suite fast; the plan does not depend on the size
RARE = (7, 8, 11, 12)  # blood, cystic duct, hepatic vein, liver ligament
FULL = (17, 6, 80)  # CholecSeg8k's shape: 17 videos, ~101 clips of 80 frames


def _write(root, shape=(2, 2, 2), seed=0):
    return run_to_end(iter_write_benchmark_tree(root, *shape, size=SIZE, seed=seed))


def test_every_preset_parameter_names_its_source() -> None:
    source = inspect.getsource(BenchmarkPreset).splitlines()
    for f in dataclasses.fields(BenchmarkPreset):
        if f.name == "name":
            continue
        line = next(i for i, s in enumerate(source) if s.strip().startswith(f"{f.name}:"))
        # The field's own comment, or the comment block right above it.
        block = [source[line]]
        k = line - 1
        while source[k].strip().startswith("#"):
            block.append(source[k])
            k -= 1
        assert re.search(r"\[(HONG|NINJA-[BSC]|ASSUMED)", " ".join(block)), f.name


def test_published_targets_are_consistent() -> None:
    pixels = sum(BENCHMARK.pixel_fraction(c) for c in range(13))
    assert 0.98 < pixels <= 1.0  # the published areas cover the images
    for kind in (DISSECTION, EXPLORATION, "ordinary"):
        assert all(0 <= BENCHMARK.presence(c, kind) <= 1 for c in range(13))
    assert BENCHMARK.presence(9, DISSECTION) > 4 * BENCHMARK.presence(9, "ordinary")  # L-hook
    assert preset_module.CHOLECSEG8K_TARGETS[2].frames == preset_module.CHOLECSEG8K_FRAMES


def test_plan_and_frames_are_deterministic_for_a_seed() -> None:
    a, b = plan_benchmark(4, 3, 20, seed=5), plan_benchmark(4, 3, 20, seed=5)
    assert manifest(a, SIZE) == manifest(b, SIZE)
    assert manifest(a, SIZE) != manifest(plan_benchmark(4, 3, 20, seed=6), SIZE)
    one, two = BenchmarkClip(a, 2, 1, SIZE), BenchmarkClip(b, 2, 1, SIZE)
    for i in (0, 7, 19):
        (fa, ma), (fb, mb) = one.frame(i), two.frame(i)
        np.testing.assert_array_equal(fa, fb)
        np.testing.assert_array_equal(ma, mb)


def test_tree_is_byte_identical_for_the_same_seed(tmp_path) -> None:
    a, b = _write(tmp_path / "a"), _write(tmp_path / "b")
    names = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert names == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    assert all((a / n).read_bytes() == (b / n).read_bytes() for n in names)


def test_clips_of_a_video_share_its_parameters_and_differ_from_other_videos() -> None:
    plan = plan_benchmark(3, 3, 10, seed=2)
    same = [BenchmarkClip(plan, 0, c, SIZE) for c in range(3)]
    other = BenchmarkClip(plan, 1, 0, SIZE)
    for clip in same[1:]:
        np.testing.assert_array_equal(clip._light, same[0]._light)  # lighting, rim, colour
        np.testing.assert_array_equal(clip._noise, same[0]._noise)  # one sensor
        assert clip.fov_radius == same[0].fov_radius
    assert not np.allclose(other._light, same[0]._light)
    assert other.video != same[0].video
    for clip in same + [other]:
        for tool in clip.tools:  # instruments come through the video's ports
            port = clip.video.ports[0 if tool.kind == 5 else 1]
            assert abs(tool.theta - port) <= 0.3 + 1e-9


def test_camera_moves_smoothly_within_a_clip() -> None:
    plan = plan_benchmark(2, 2, 40, seed=1)
    clip = BenchmarkClip(plan, 0, 1, SIZE)
    masks = [clip.frame(i)[1] for i in range(0, 40, 4)]
    step = np.mean([np.mean(masks[k] == masks[k + 1]) for k in range(len(masks) - 1)])
    assert step > 0.85  # near-duplicate neighbours, as in 3.2 s of real video


def test_kinds_follow_the_published_cooccurrence() -> None:
    for seed in range(3):
        for clip in plan_benchmark(*FULL, seed=seed).all_clips():
            shows = clip.present
            if clip.kind == EXPLORATION:  # ligament frames: no instrument, no gallbladder
                assert 12 in shows and not shows & {5, 9, 10}
            if shows & {6, 7, 11}:  # connective tissue, blood, vein: dissection only
                assert clip.kind == DISSECTION
            assert not {7, 11} <= shows  # blood and the hepatic vein never meet
            if 8 in shows:
                assert {10, 5, 4} <= shows  # the duct is seen with gallbladder, grasper, fat


def test_rare_classes_are_absent_from_most_clips_and_videos() -> None:
    seen = dict.fromkeys(RARE, 0)
    for seed in range(5):
        plan = plan_benchmark(*FULL, seed=seed)
        clips = plan.all_clips()
        for cls in RARE:
            with_cls = [c for c in clips if cls in c.present]
            videos = {c.video for c in with_cls}
            assert len(with_cls) <= 0.2 * len(clips), (cls, len(with_cls))
            # Blood (8.6 % of frames, >= 9 clips) spreads wider than the truly rare ones.
            assert len(videos) <= (0.6 if cls == 7 else 0.3) * FULL[0], (cls, videos)
            seen[cls] += bool(with_cls)
    assert all(n >= 4 for n in seen.values()), seen  # but they do occur


def test_planned_frame_shares_follow_the_targets() -> None:
    shares, n_clips = np.zeros(13), 0
    for seed in range(4):
        for clip in plan_benchmark(*FULL, seed=seed).all_clips():
            n_clips += 1
            for cls in clip.present:
                visible = clip.n_frames - (clip.blood_onset or 0) if cls == 7 else clip.n_frames
                shares[cls] += visible / clip.n_frames
    shares /= n_clips
    target = np.array([BENCHMARK.frame_fraction(c) for c in range(13)])
    np.testing.assert_allclose(shares, target, atol=0.04)


def test_rendered_frequencies_roughly_follow_the_targets() -> None:
    plan = plan_benchmark(8, 3, 3, seed=0)
    frames = np.zeros(13)
    pixels = np.zeros(13)
    for spec in plan.all_clips():
        clip = BenchmarkClip(plan, spec.video, spec.index, SIZE)
        for i in range(spec.n_frames):
            counts = np.bincount(clip.frame(i)[1].ravel(), minlength=13)
            frames += counts > 0
            pixels += counts
    frames /= 8 * 3 * 3
    pixels /= pixels.sum()
    for common in (0, 2, 1, 4, 10):  # background, liver, wall, fat, gallbladder
        assert frames[common] > 0.6, (common, frames[common])
    for rare in RARE:
        assert frames[rare] < 0.3, (rare, frames[rare])
        assert pixels[rare] < min(pixels[c] for c in (0, 1, 2, 4))
    target = np.array([BENCHMARK.pixel_fraction(c) for c in range(13)])
    ranks = np.argsort(np.argsort(pixels)), np.argsort(np.argsort(target))
    assert np.corrcoef(*ranks)[0, 1] > 0.8  # Spearman correlation with the published shares


def test_hard_frames_occur_at_about_their_stated_rates() -> None:
    plan = plan_benchmark(*FULL, seed=0)
    clips = plan.all_clips()
    total = sum(c.n_frames for c in clips)
    rate = {k: sum(len(c.hard_frames()[k]) for c in clips) / total
            for k in ("smoke", "blur", "closeup")}
    assert 0.005 < rate["smoke"] < 0.08, rate
    assert 0.02 < rate["blur"] < 0.08, rate
    assert 0.01 < rate["closeup"] < 0.08, rate


def test_smoke_and_blur_change_the_picture_not_the_truth() -> None:
    plan = plan_benchmark(2, 1, 10, seed=3)
    spec = plan.clips[0][0]
    hard = dataclasses.replace(spec, areas={**spec.areas, 9: 0.05}, smoke=(2, 8), blur=(5,))
    clean = dataclasses.replace(hard, smoke=None, blur=())
    frames = {}
    for name, s in (("hard", hard), ("clean", clean)):
        p = dataclasses.replace(plan, clips=((s,), plan.clips[1]))
        frames[name] = [BenchmarkClip(p, 0, 0, SIZE).frame(i) for i in (1, 4, 5)]
    (f1, m1), (f4, m4), (f5, m5) = frames["hard"]
    (g1, n1), (g4, n4), (g5, n5) = frames["clean"]
    np.testing.assert_array_equal(f1, g1)  # before the smoke: the same frame
    for m, n in ((m1, n1), (m4, n4), (m5, n5)):
        np.testing.assert_array_equal(m, n)  # the truth never changes
    assert np.abs(f4.astype(int) - g4).mean() > 5  # a veil of smoke
    grad = [np.abs(np.diff(f.astype(float), axis=1)).mean() for f in (f5, g5)]
    assert grad[0] < grad[1]  # blurred: weaker edges


def test_closeup_makes_an_instrument_bigger() -> None:
    plan = plan_benchmark(2, 1, 10, seed=4)
    spec = dataclasses.replace(plan.clips[0][0], areas={**plan.clips[0][0].areas, 5: 0.03},
                               closeup=(3, 6))
    p = dataclasses.replace(plan, clips=((spec,), plan.clips[1]))
    clip = BenchmarkClip(p, 0, 0, SIZE)
    near = [(clip.frame(i)[1] == 5).sum() for i in (3, 4, 5)]
    far = [(clip.frame(i)[1] == 5).sum() for i in (0, 8, 9)]
    assert np.mean(near) > 1.5 * np.mean(far)


def test_tree_follows_cholecseg8k_formats(tmp_path) -> None:
    from alges_napari.core.data.classes import CHOLECSEG8K
    from alges_napari.core.data.frames.folder import CholecSeg8kSource
    from alges_napari.core.data.masks import read_mask
    from alges_napari.core.data.synthetic.clips import boundary_pixels

    root = _write(tmp_path / "set", shape=(2, 2, 2), seed=1)
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.png"))
    assert len(files) == 2 * 2 * 2 * 4
    pattern = re.compile(
        r"video(\d\d)/video\1_(\d{5})/frame_(\d+)_endo(_mask|_color_mask|_watershed_mask)?\.png"
    )
    assert all(pattern.fullmatch(f) for f in files), files
    info = json.loads((root / "benchmark.json").read_text())
    plan = plan_benchmark(2, 2, 2, seed=1)
    for entry in info["clips"]:
        clip = BenchmarkClip(plan, entry["video"], entry["clip"], SIZE)
        for i in range(2):
            stem = root / entry["folder"] / f"frame_{entry['first_frame'] + i}_endo"
            mask = clip.frame(i)[1]
            color = read_mask(f"{stem}_color_mask.png", CHOLECSEG8K, kind="color")
            np.testing.assert_array_equal(color, mask)
            plain = read_mask(f"{stem}_mask.png", CHOLECSEG8K, kind="watershed")
            np.testing.assert_array_equal(plain, mask)
            lined = read_mask(f"{stem}_watershed_mask.png", CHOLECSEG8K, kind="watershed")
            edge = boundary_pixels(mask)
            np.testing.assert_array_equal(lined[~edge], mask[~edge])
            assert np.all(lined[edge] == 255)
    source = CholecSeg8kSource(root)
    assert len(source) == 8 and source.has_ground_truth and source.shape == SIZE


def test_command_line_dispatches_on_the_preset(tmp_path, capsys) -> None:
    out = tmp_path / "bench"
    args = ["--videos", "1", "--clips-per-video", "2", "--frames", "2", "--size", "32", "48"]
    assert main(["--preset", "benchmark", "--out", str(out), *args]) == 0
    assert len(list(out.rglob("*_endo.png"))) == 4 and (out / "benchmark.json").exists()
    assert "1 videos x 2 clips x 2 frames" in capsys.readouterr().out
    plain = tmp_path / "plain"
    assert main(["--out", str(plain), "--clips", "1", "--frames", "2", "--size", "32", "32"]) == 0
    assert "wrote 1 x 2 frames" in capsys.readouterr().out
    assert not (plain / "benchmark.json").exists()


@pytest.mark.parametrize("shape", [(0, 1, 1), (100, 1, 1), (1, 61, 1), (1, 1, 0), (1, 1, 1501)])
def test_bad_tree_shapes_raise_alges_error(tmp_path, shape) -> None:
    with pytest.raises(AlgesError, match="videos"):
        run_to_end(iter_write_benchmark_tree(tmp_path, *shape, size=SIZE))
