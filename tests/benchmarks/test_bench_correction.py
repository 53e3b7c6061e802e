"""Counting helpers of benchmarks/bench_correction.py and correction_real.py on hand-made frames."""

from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np
import pytest

from tests.core.data.disc_frames import disc_frame

BENCHMARK = "bench_correction"


@pytest.fixture(scope="module")
def real(bench):
    """benchmarks/correction_real.py (models (e)-(i)): the module bench_correction imports."""
    return importlib.import_module("correction_real")


@pytest.fixture(scope="module")
def common(bench):
    """benchmarks/correction_common.py: the helpers bench_correction and correction_real share."""
    return importlib.import_module("correction_common")


def _frame() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """40 x 40: class 1 on rows 10-19 (a 10 x 40 band), class 0 elsewhere; predicted all 0.

    Superpixels are 10 x 10 blocks, so the band is exactly four of them, side by side.
    """
    truth = np.zeros((40, 40), np.uint8)
    truth[10:20] = 1
    sp = (np.arange(40)[:, None] // 10) * 4 + np.arange(40)[None, :] // 10
    return truth, np.zeros_like(truth), sp


def test_one_drag_along_the_band_fixes_it(bench, common):
    truth, ann, sp = _frame()
    assert common.agreement(ann, truth) == 0.75
    # One wrong region; its skeleton runs along the band through all four superpixels.
    skel, drags = bench._skeleton(ann != truth, bench.RADII[0])
    assert drags == 1
    assert sorted(np.unique(sp[skel])) == [4, 5, 6, 7]
    assert bench.drags_correct(ann, truth, sp, 2) == (1, 0, 0)
    np.testing.assert_array_equal(ann, truth)


def test_clicks_need_one_per_superpixel(bench):
    truth, ann, sp = _frame()
    # A fill cannot help (the one region of label 0 is 3/4 class 0), so (b) clicks: 1 per block,
    # until 95 % agreement: 3 clicks leave 100 of 1600 pixels wrong (93.75 %), the 4th fixes them.
    assert bench.tools_correct(ann, truth, sp, 2) == (4, 0, 0)
    np.testing.assert_array_equal(ann, truth)


def test_a_drag_that_spoils_more_than_it_fixes_is_not_made(bench, common):
    # 20 x 20, four 10 x 10 superpixels; class 1 on a 6 x 6 square inside block 0 (91 % agree).
    truth = np.zeros((20, 20), np.uint8)
    truth[2:8, 2:8] = 1
    sp = (np.arange(20)[:, None] // 10) * 2 + np.arange(20)[None, :] // 10
    # Painting block 0 would fix 36 pixels and spoil 64, and a fill of the one region of label 0
    # gains nothing: the brush of model (a) finishes, with as many strokes as (a) alone.
    strokes = bench.brush_correct(np.zeros_like(truth), truth)
    assert strokes > 0
    ann = np.zeros_like(truth)
    assert bench.drags_correct(ann, truth, sp, 2) == (0, 0, strokes)
    assert common.agreement(ann, truth) >= bench.TARGET


def test_ratio_interval_pools_frames_as_a_ratio_of_sums(bench):
    num, den = np.array([1, 2, 3, 10]), np.array([2, 4, 6, 20])
    assert bench.ratio_interval(num, den) == (0.5, 0.5, 0.5)  # every frame at 1/2: no spread
    r, lo, hi = bench.ratio_interval(np.array([0, 10]), np.array([10, 10]))
    assert r == 0.5 and lo == 0.0 and hi == 1.0


def test_model_d_drags_at_the_coarseness_that_fixes_most_per_stroke(bench):
    # Class 1 on rows 0-19 of 40 x 40: the skeleton runs along row ~10, where one drag crosses
    # one row of fine 10 x 10 blocks but both 20 x 20 coarse blocks that make up the band.
    truth = np.zeros((40, 40), np.uint8)
    truth[:20] = 1
    fine = (np.arange(40)[:, None] // 10) * 4 + np.arange(40)[None, :] // 10
    coarse = (np.arange(40)[:, None] // 20) * 2 + np.arange(40)[None, :] // 20
    ann = np.zeros_like(truth)
    assert bench.drags_correct(ann, truth, [fine, coarse], 2) == (1, 0, 0)
    np.testing.assert_array_equal(ann, truth)
    fine_only = np.zeros_like(truth)
    drags, fills, strokes = bench.drags_correct(fine_only, truth, fine, 2)
    assert drags + fills + strokes > 1  # fine alone needs more than the one coarse drag
    # On the band of _frame() a coarse drag would spoil as much as it fixes: (d) drags fine.
    truth, ann, fine = _frame()
    assert bench.drags_correct(ann, truth, [fine, coarse], 2) == (1, 0, 0)
    np.testing.assert_array_equal(ann, truth)


# ------------------------------------------------------------ models (e) and (f), issue 22


def test_done_needs_every_class_of_the_small_area_at_dice_0_9(real):
    truth = np.zeros((40, 40), np.uint8)
    truth[:10] = 1  # 400 px
    truth[20:25, 20:26] = 2  # 30 px: scored (MIN_AREA)
    truth[30:35, 30:35] = 3  # 25 px: too small to be scored
    ann = truth.copy()
    ann[30:35, 30:35] = 0
    assert real.MIN_AREA == 30
    assert set(real.frame_dice(ann, truth, 7)) == {0, 1, 2}
    assert real.is_done(ann, truth, 7)
    ann[20:25, 20:23] = 0  # class 2 half gone: Dice 2 * 15 / (30 + 15) = 0.667
    assert real.frame_dice(ann, truth, 7)[2] == pytest.approx(2 * 15 / 45)
    assert not real.is_done(ann, truth, 7)
    ann = truth.copy()
    ann[0:6, 30:36] = 4  # a spurious class-4 region of 36 px, absent from the truth: Dice 0
    assert real.frame_dice(ann, truth, 7)[4] == 0.0 and not real.is_done(ann, truth, 7)
    truth_ignored = truth.copy()
    truth_ignored[0:6, 30:36] = 255  # the same pixels ignored: they count for nothing
    assert 4 not in real.frame_dice(ann, truth_ignored, 7)


def test_one_fill_fixes_a_wrong_island_and_its_class_switch_is_counted(real):
    truth = np.zeros((40, 40), np.uint8)
    truth[5:25, 5:25] = 5  # 400 px of class 5 predicted as class 3
    ann = truth.copy()
    ann[5:25, 5:25] = 3
    out = real.greedy_correct(ann, truth, 7, 0.264)
    # one fill of the island (1 action) + selecting class 5 (napari starts at 1): 2 actions
    assert out == {"actions": 2, "switches": 1, "capped": 0, "fill": 1}
    np.testing.assert_array_equal(ann, truth)


def test_the_eraser_needs_no_class_switch(real):
    truth = np.zeros((30, 30), np.uint8)
    truth[:, :] = 1
    truth[10:12, 2:28] = 0  # a thin background line of 52 px inside class 1, predicted as 1
    ann = np.ones_like(truth)
    out = real.greedy_correct(ann, truth, 7, 1.0)
    assert out["switches"] == 0 and out["capped"] == 0
    assert out.get("brush", 0) >= 1 and real.is_done(ann, truth, 7)


def test_models_e_and_f_on_the_band_one_brush_stroke_or_one_drag(real):
    # The band of _frame() (class 1, selected at start: no switch). napari used well: one stroke
    # of the 40-px brush (radius 20.5 x 0.264 = 5.4 grid px) along its skeleton, done at Dice
    # >= 0.9 though the stroke's ends fall short. The app: one drag over its four superpixels.
    truth, ann, sp = _frame()
    e_ann = ann.copy()
    assert real.greedy_correct(e_ann, truth, 7, 0.264) == {
        "actions": 1, "switches": 0, "capped": 0, "brush": 1,
    }  # fmt: skip
    assert real.is_done(e_ann, truth, 7) and not np.array_equal(e_ann, truth)
    f_ann = ann.copy()
    f = real.greedy_correct(f_ann, truth, 7, 0.264, {"fine": sp})
    assert f == {"actions": 1, "switches": 0, "capped": 0, "fine superpixel drag": 1}
    np.testing.assert_array_equal(f_ann, truth)


def test_video_interval_resamples_videos_not_frames(real):
    # Two videos: frames of video "a" all at ratio 1/2, of video "b" at 1: the interval is that
    # of two units, whatever the number of frames per video.
    num = np.array([1, 1, 1, 1, 4])
    den = np.array([2, 2, 2, 2, 4])
    r, lo, hi = real.video_ratio_interval(num, den, ["a", "a", "a", "a", "b"])
    assert r == pytest.approx(8 / 12)
    assert lo == pytest.approx(0.5) and hi == pytest.approx(1.0)


def _real_inputs(real, tmp_path: Path) -> tuple[Path, Path]:
    """A constructed Endoscapes tree (6 frames, 3 videos) and an untrained model at the grid."""
    import torch

    from alges_napari.core.data.classes import ENDOSCAPES
    from alges_napari.core.learn.model import ModelSpec, build_model, save_checkpoint
    from tests.core.data.endoscapes_tree import make_endoscapes

    torch.manual_seed(0)
    root = make_endoscapes(tmp_path / "endoscapes")
    model = build_model("Unet", "resnet18", num_classes=7)
    ckpt = save_checkpoint(model, tmp_path / "m.safetensors",
                           ModelSpec.for_schema(ENDOSCAPES, "Unet", "resnet18", real.GRID))
    return root, Path(ckpt)


def test_real_mode_runs_end_to_end_on_a_constructed_tree(bench, real, tmp_path, capsys):
    # A constructed Endoscapes tree (6 frames, 3 videos) and an untrained model at the grid
    # size: every frame is corrected to done by both models, one JSON line each, and --report
    # prints the same last line from those lines.
    root, ckpt = _real_inputs(real, tmp_path)
    out = tmp_path / "rows.jsonl"
    bench.main(["--val", str(root / "train_seg"), "--model", str(ckpt), "--out", str(out),
                "--threads", "1"])  # fmt: skip
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1].startswith("actions ratio (app tools / napari tools): ")
    rows = [__import__("json").loads(x) for x in out.read_text().splitlines()]
    assert len(rows) == 6 and {r["video"] for r in rows} == {"3", "10", "21"}
    assert all(r["e"]["capped"] == 0 and r["f"]["capped"] == 0 for r in rows)
    bench.main(["--report", str(out)])
    assert capsys.readouterr().out.strip().splitlines()[-1] == lines[-1]
    # two shards, joined by --report: the same figures
    halves = [tmp_path / "a.jsonl", tmp_path / "b.jsonl"]
    for i, half in enumerate(halves):
        bench.main(["--val", str(root / "train_seg"), "--model", str(ckpt), "--out", str(half),
                    "--threads", "1", "--shard", f"{i}/2"])  # fmt: skip
    capsys.readouterr()
    bench.main(["--report", str(halves[0]), "--report", str(halves[1])])
    assert capsys.readouterr().out.strip().splitlines()[-1] == lines[-1]


def test_the_small_area_is_the_same_share_of_the_frame_on_any_grid(real):
    assert real.min_area_on(real.GRID) == real.MIN_AREA == 30
    assert real.min_area_on((480, 854)) == 429  # 0.1 % of the full frame
    truth = np.zeros((40, 40), np.uint8)
    truth[:2, :20] = 3  # 40 px: scored with min_area 30, not with 50
    assert 3 in real.frame_dice(np.zeros_like(truth), truth, 7)
    assert 3 not in real.frame_dice(np.zeros_like(truth), truth, 7, min_area=50)


def test_model_h_boxes_a_missed_disc_in_one_drag_plus_its_class_switch(real):
    # A disc of class 2 (radius 12) predicted as background. GrabCut's box around it, grown by
    # one pixel, recovers it: one drag + selecting class 2 (napari starts at 1) = 2 actions,
    # fewer than napari's tools alone need (the 40-px brush is 5.4 grid px wide at this scale).
    from alges_napari.core.data.grabcut import grabcut_box

    image, disc = disc_frame(48, 56, (24, 28), 12)
    truth = disc.astype(np.uint8) * 2
    gc = real.FrameGrabCut(image, truth)
    h_ann = np.zeros_like(truth)
    h = real.greedy_correct(h_ann, truth, 7, 0.264, None, real.MIN_AREA, gc)
    assert h == {"actions": 2, "switches": 1, "capped": 0, "grabcut box": 1}
    rows, cols = np.nonzero(disc)
    box = (rows.min() - 1, cols.min() - 1, rows.max() + 2, cols.max() + 2)  # BOX_GROW = 1
    region = grabcut_box(image, ((box[0], box[1]), (box[2] - 1, box[3] - 1)))
    np.testing.assert_array_equal(h_ann, np.where(region, 2, 0))
    e = real.greedy_correct(np.zeros_like(truth), truth, 7, 0.264)
    assert e["actions"] > h["actions"] and e["capped"] == 0


def test_frame_grabcut_maps_a_grid_box_to_the_full_frame_and_back(real):
    # The full frame is 4 x the 24 x 32 grid: grid box (2, 3, 20, 28) covers full rows 8..79
    # and cols 12..111; the object comes back on the grid by nearest neighbour.
    from skimage.transform import resize

    from alges_napari.core.data.grabcut import grabcut_box

    image, disc = disc_frame(96, 128, (44, 62), 26)
    truth = np.zeros((24, 32), np.uint8)
    gc = real.FrameGrabCut(image, truth)
    got = gc.region((2, 3, 20, 28))
    full = grabcut_box(image, ((8, 12), (79, 111)))
    expect = resize(full, (24, 32), order=0, preserve_range=True, anti_aliasing=False)
    np.testing.assert_array_equal(got, expect.astype(bool))
    assert got.any() and gc.calls == 1
    gc.region((2, 3, 20, 28))
    assert gc.calls == 1  # kept per box
    assert not gc.region((5, 5, 5, 9)).any()  # a box of no rows paints nothing


@pytest.mark.parametrize(
    ("flag", "models", "marker"),
    [("--grabcut", "efgh", "  (f)/(e) superpixels, no GrabCut: "),
     ("--scissors", "efghi", "  (i)/(g) scissors added to the app's tools: ")],
)  # fmt: skip
def test_real_mode_with_grabcut_or_scissors_adds_their_models(
    bench, real, tmp_path, capsys, flag, models, marker
):
    # The constructed tree's first 2 frames: rows carry the flag's models, all done, and the
    # last line is the last model's ratio to (e): (g) with --grabcut, (i) with --scissors
    # (which runs (g) and (h) too); the same from --report.
    import json

    root, ckpt = _real_inputs(real, tmp_path)
    out = tmp_path / "rows.jsonl"
    bench.main(["--val", str(root / "train_seg"), "--model", str(ckpt), "--out", str(out),
                "--threads", "1", "--limit", "2", flag])  # fmt: skip
    lines = capsys.readouterr().out.strip().splitlines()
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(rows) == 2 and all(set(models) <= set(r) for r in rows)
    assert all(r[m]["capped"] == 0 for r in rows for m in models)
    last = sum(r[models[-1]]["actions"] for r in rows)
    e = sum(r["e"]["actions"] for r in rows)
    assert lines[-1].startswith(f"actions ratio (app tools / napari tools): {last / e:.3f} ")
    assert any(x.startswith(marker) for x in lines)
    bench.main(["--report", str(out)])
    assert capsys.readouterr().out.strip().splitlines()[-1] == lines[-1]


def test_model_i_traces_a_missed_disc_with_four_anchors_where_napari_needs_a_polygon(real):
    # A disc of class 2 (radius 40) predicted as background. napari's tools need the polygon
    # (20 vertices at 1 grid px) plus the class switch; the scissors' sparse hand (18 px)
    # clicks 4 anchors on its outline and the live wire follows the edge between them.
    from alges_napari.core.data.scissors import fill_outline, trace

    image, disc = disc_frame(120, 160, (60, 80), 40)
    truth = disc.astype(np.uint8) * 2
    fs = real.FrameScissors(image, truth)
    e = real.greedy_correct(np.zeros_like(truth), truth, 7, 0.264)
    assert e == {"actions": 21, "switches": 1, "capped": 0, "polygon": 20}
    ann = np.zeros_like(truth)
    i = real.greedy_correct(ann, truth, 7, 0.264, None, real.MIN_AREA, None, fs)
    assert i == {"actions": 5, "switches": 1, "capped": 0, "scissors anchor": 4}
    sparse = fs.anchors(2, 1)[-1]
    assert len(sparse) == 4
    np.testing.assert_array_equal(ann, np.where(fill_outline(disc.shape, trace(image, sparse)), 2, 0))


def test_frame_scissors_clicks_on_the_truth_outline_mapped_to_the_full_frame(real):
    # The full frame is 4 x the 24 x 32 grid. The anchors lie on the disc's outline on the full
    # frame; coarser tolerances click fewer; one map per anchor serves every tolerance (the
    # coarser anchors are a subset), and each region equals the outline traced on its own.
    from skimage.transform import resize

    from alges_napari.core.data.scissors import fill_outline, trace

    image, disc = disc_frame(96, 128, (44, 62), 26)
    truth = resize(disc, (24, 32), order=0, preserve_range=True, anti_aliasing=False)
    truth = truth.astype(np.uint8) * 3
    fs = real.FrameScissors(image, truth)
    per_tol = fs.anchors(3, 1)
    sizes = [len(a) for a in per_tol]
    assert sizes == sorted(sizes, reverse=True) and sizes[-1] >= 3 and sizes[0] > sizes[-1]
    for anchors in per_tol:
        assert np.abs(np.hypot(anchors[:, 0] - 44, anchors[:, 1] - 62) - 26).max() <= 2.5
        assert {tuple(a) for a in anchors} <= {tuple(a) for a in per_tol[0]}
    regions = fs.regions(3, 1)
    assert fs.maps == sizes[0]
    for (mask, clicks), anchors in zip(regions, per_tol, strict=True):
        assert clicks == len(anchors) and mask.shape == (24, 32)
        alone = fill_outline((96, 128), trace(image, anchors))
        expect = resize(alone, (24, 32), order=0, preserve_range=True, anti_aliasing=False)
        np.testing.assert_array_equal(mask, expect.astype(bool))
        assert (mask & (truth == 3)).sum() / (mask | (truth == 3)).sum() > 0.95
    fs.regions(3, 1)
    assert fs.maps == sizes[0]  # kept per region
