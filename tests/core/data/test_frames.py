"""Frame sources: folders, CholecSeg8k trees, videos and TIFF stacks; exact, lazy, keyed."""

from __future__ import annotations

import json
import warnings

import av
import numpy as np
import pytest
import tifffile
from PIL import Image

from alges_napari.core.data.classes import CHOLECSEG8K
from alges_napari.core.data.frames import (
    FrameWarning,
    open_frames,
    open_frames_from_config,
    to_rgb8,
)
from alges_napari.core.data.masks import MaskValueWarning
from alges_napari.core.data.synthetic import generate_clip
from alges_napari.core.errors import FrameSourceError, MaskError
from tests.core.data.video_clips import write_numbered_video as _write_video

H, W = 24, 32
# The CholecSeg8k tests' `tree` (tests/conftest.py): 2 clips of 3 frames, 48 x 64, seed 3.
pytestmark = pytest.mark.tree(n_clips=2, frames_per_clip=3, size=(48, 64), seed=3)


def _frames(n: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, size=(H, W, 3), dtype=np.uint8) for _ in range(n)]


def _folder(tmp_path, n=12, name="frame_{}.png"):
    root = tmp_path / "frames"
    root.mkdir()
    frames = _frames(n)
    for i, f in enumerate(frames):
        Image.fromarray(f).save(root / name.format(i))
    return root, frames


# ------------------------------------------------------------------ folders


def test_folder_is_naturally_sorted_lazy_and_exact(tmp_path) -> None:
    root, frames = _folder(tmp_path)
    src = open_frames(root)
    assert src.kind == "folder" and len(src) == 12 and src.shape == (H, W)
    assert src.keys == [f"frame_{i}" for i in range(12)]  # frame_2 before frame_10
    for i in (11, 0, 5, -1):
        np.testing.assert_array_equal(src[i], frames[i])
    assert src.index_of("frame_10") == 10 and not src.has_ground_truth
    assert src.ground_truth(3) is None
    with pytest.raises(IndexError):
        src[12]
    with pytest.raises(FrameSourceError, match="frame_99"):
        src.index_of("frame_99")


def test_stride_and_config_round_trip(tmp_path) -> None:
    root, frames = _folder(tmp_path)
    src = open_frames(root, stride=5)
    assert src.keys == ["frame_0", "frame_5", "frame_10"]
    np.testing.assert_array_equal(src[2], frames[10])
    config = json.loads(json.dumps(src.describe()))
    again = open_frames_from_config(config)
    assert again.keys == src.keys and again.describe() == config
    for extra in range(12, 16):
        (root / f"frame_{extra}.png").write_bytes((root / "frame_0.png").read_bytes())
    with pytest.warns(FrameWarning, match="4 frames now, 3 when"):
        open_frames_from_config(config)


def test_recursive_folders(tmp_path) -> None:
    root = tmp_path / "set"
    for sub in ("a", "b"):
        (root / sub).mkdir(parents=True)
        Image.fromarray(_frames(1)[0]).save(root / sub / "x.jpg")
    with pytest.raises(FrameSourceError, match="recursive=True"):
        open_frames(root)
    assert open_frames(root, recursive=True).keys == ["a/x", "b/x"]


def test_pixel_formats_become_rgb8(tmp_path) -> None:
    root = tmp_path / "mixed"
    root.mkdir()
    grey = np.arange(H * W, dtype=np.uint8).reshape(H, W)
    rgba = np.dstack([_frames(1)[0], np.full((H, W), 9, np.uint8)])
    deep = (np.arange(H * W, dtype=np.uint16).reshape(H, W) * 80).astype(np.uint16)
    Image.fromarray(grey).save(root / "a.png")
    Image.fromarray(rgba).save(root / "b.png")
    Image.fromarray(deep).save(root / "c.png")
    tifffile.imwrite(root / "d.tif", np.dstack([deep] * 3), photometric="rgb")
    src = open_frames(root)
    np.testing.assert_array_equal(src[0], np.dstack([grey] * 3))
    np.testing.assert_array_equal(src[1], rgba[..., :3])
    scaled = np.rint(deep / 257.0).astype(np.uint8)
    np.testing.assert_array_equal(src[2], np.dstack([scaled] * 3))
    np.testing.assert_array_equal(src[3], np.dstack([scaled] * 3))
    np.testing.assert_array_equal(to_rgb8(np.ones((2, 2), np.float32)), np.full((2, 2, 3), 255))


def test_corrupt_and_truncated_files_are_skipped_with_a_warning(tmp_path) -> None:
    root, frames = _folder(tmp_path, n=6)
    data = (root / "frame_2.png").read_bytes()
    (root / "frame_2.png").write_bytes(data[: len(data) // 2])
    (root / "frame_4.png").write_bytes(b"garbage")
    with pytest.warns(FrameWarning, match=r"skipped 2 unreadable.*frame_2\.png.*frame_4\.png"):
        src = open_frames(root)
    assert src.keys == ["frame_0", "frame_1", "frame_3", "frame_5"]
    np.testing.assert_array_equal(src[2], frames[3])


def test_truncated_jpeg_is_skipped(tmp_path) -> None:
    root, _ = _folder(tmp_path, n=3, name="f{}.jpg")
    data = (root / "f1.jpg").read_bytes()
    (root / "f1.jpg").write_bytes(data[:-40])
    with pytest.warns(FrameWarning, match="f1.jpg"):
        src = open_frames(root)
    assert src.keys == ["f0", "f2"] and src.shape == (H, W)


def test_header_sizes_match_pillow(tmp_path) -> None:
    from alges_napari.core.data.frames.folder import _probe

    img = np.zeros((37, 53, 3), np.uint8)
    Image.fromarray(img).save(tmp_path / "a.png")
    Image.fromarray(img).save(tmp_path / "b.jpg", progressive=True)
    Image.fromarray(img).save(tmp_path / "c.jpeg", exif=Image.Exif(), quality=50)
    Image.fromarray(img).save(tmp_path / "d.bmp")
    tifffile.imwrite(tmp_path / "e.tif", img, photometric="rgb")
    for name in ("a.png", "b.jpg", "c.jpeg", "d.bmp", "e.tif"):
        assert _probe(tmp_path / name) == (37, 53), name
    (tmp_path / "f.png").write_bytes((tmp_path / "b.jpg").read_bytes())  # JPEG named .png
    with pytest.raises(ValueError, match="not a PNG"):
        _probe(tmp_path / "f.png")


@pytest.mark.parametrize("case", ["empty", "all bad", "mixed sizes", "missing", "single", "suffix"])
def test_bad_folders_raise_naming_the_problem(tmp_path, case) -> None:
    root = tmp_path / "d"
    root.mkdir()
    match = str(root)
    if case == "all bad":
        (root / "a.png").write_bytes(b"x")
        match = "none of the 1 image files"
    elif case == "mixed sizes":
        Image.fromarray(np.zeros((H, W, 3), np.uint8)).save(root / "a.png")
        Image.fromarray(np.zeros((H, W + 1, 3), np.uint8)).save(root / "b.png")
        match = r"most are 32x24 .* b\.png \(33x24\)"
    elif case == "missing":
        root = root / "nothing"
        match = "does not exist"
    elif case == "single":
        Image.fromarray(np.zeros((H, W, 3), np.uint8)).save(root / "a.png")
        root = root / "a.png"
        match = "single image"
    elif case == "suffix":
        root = root / "clip.webm"
        root.write_bytes(b"x")
        match = "unsupported file type .webm"
    else:
        match = "no frames"
    ctx = warnings.catch_warnings()
    with ctx, pytest.raises(FrameSourceError, match=match):
        warnings.simplefilter("ignore", FrameWarning)
        open_frames(root)


def test_duplicate_stems_are_refused(tmp_path) -> None:
    root, _ = _folder(tmp_path, n=2)
    Image.fromarray(_frames(1)[0]).save(root / "frame_1.jpg")
    with pytest.raises(FrameSourceError, match="duplicate frame keys"):
        open_frames(root)


# ------------------------------------------------------------------ CholecSeg8k trees


def test_cholecseg8k_tree_frames_and_truth(tree) -> None:
    src = open_frames(tree)
    assert src.kind == "cholecseg8k" and src.schema == CHOLECSEG8K and len(src) == 6
    assert all(k.startswith("video") and k.endswith("_endo") for k in src.keys)
    truth = [m for c in range(2) for _, m in generate_clip(c, 3, (48, 64), seed=3)]
    frames = [f for c in range(2) for f, _ in generate_clip(c, 3, (48, 64), seed=3)]
    for i in range(6):
        np.testing.assert_array_equal(src[i], frames[i])
        gt = src.ground_truth(i)  # the watershed mask: region boundaries are 255 = ignore
        inside = gt != 255
        assert inside.mean() > 0.5
        np.testing.assert_array_equal(gt[inside], truth[i][inside])
    sub = open_frames(next(tree.glob("video*/video*")))  # one clip folder works too
    assert len(sub) == 3 and sub.has_ground_truth


def test_cholecseg8k_falls_back_to_the_colour_mask(tree, tmp_path) -> None:
    import shutil

    copy = shutil.copytree(tree, tmp_path / "copy")
    for p in copy.rglob("*_watershed_mask.png"):
        p.unlink()
    src = open_frames(copy)
    truth = next(generate_clip(0, 1, (48, 64), seed=3))[1]
    np.testing.assert_array_equal(src.ground_truth(0), truth)  # colours: no boundary lines
    first = copy / (src.keys[0] + "_color_mask.png")
    Image.fromarray(np.zeros((48, 60, 3), np.uint8)).save(first)
    with pytest.raises(MaskError, match=r"mask is 60x48 \(WxH\) but its frame is 64x48"):
        open_frames(copy).ground_truth(0)
    Image.fromarray(np.full((48, 64, 3), (1, 2, 3), np.uint8)).save(first)
    with pytest.warns(MaskValueWarning, match="3072 pixel"):
        assert np.all(open_frames(copy).ground_truth(0) == 255)


# ------------------------------------------------------------------ video


def _number(frame: np.ndarray) -> int:
    return sum(int(frame[r * 32 + 16, c * 32 + 16].mean() > 127) << (r * 3 + c)
               for r in range(2) for c in range(3))  # fmt: skip


@pytest.mark.parametrize(("suffix", "codec"), [("mp4", "libx264"), ("avi", "mpeg4")])
def test_video_random_access_is_exact(tmp_path, suffix, codec) -> None:
    path = tmp_path / f"clip.{suffix}"
    _write_video(path, codec=codec)
    sequential = [f.to_ndarray(format="rgb24") for f in av.open(str(path)).decode(video=0)]
    assert [_number(f) for f in sequential] == list(range(47))
    from alges_napari.core.data.frames.video import VideoSource

    src = VideoSource(path, cache_size=0)  # no cache: every read really seeks or decodes
    assert len(src) == 47 and src.shape == (64, 96) and src.keys[3] == "clip/f000003"
    order = np.random.default_rng(7).permutation(np.repeat(np.arange(47), 2))
    for i in order:
        np.testing.assert_array_equal(src[int(i)], sequential[i])
    src.close()
    strided = open_frames(path, stride=4)
    assert strided.keys[:3] == ["clip/f000000", "clip/f000004", "clip/f000008"]
    assert [_number(strided[i]) for i in (11, 2, 0, 5)] == [44, 8, 0, 20]
    assert open_frames_from_config(strided.describe()).keys == strided.keys


def _write_coarse_clock_video(path, n=60, gop=10, h=64, w=96):
    """A video at 24 fps whose packets carry a 10 Hz clock, as broken recorders write: 60
    frames, only 25 distinct timestamps (frames i and i+1 often share one)."""
    from fractions import Fraction

    container = av.open(str(path), "w")
    stream = container.add_stream("libx264", rate=24)
    stream.width, stream.height, stream.pix_fmt, stream.gop_size = w, h, "yuv420p", gop
    stream.options = {"bf": "0"}
    stream.codec_context.time_base = Fraction(1, 24)

    def coarse(packet):  # 1/24 s ticks -> 1/10 s ticks: several frames share one
        packet.pts, packet.dts = packet.pts * 10 // 24, packet.dts * 10 // 24
        packet.time_base = Fraction(1, 10)
        return packet

    for i in range(n):
        img = np.zeros((h, w, 3), np.uint8)
        for b in range(6):
            r, c = divmod(b, 3)
            img[r * 32 : r * 32 + 32, c * 32 : c * 32 + 32] = 255 * ((i >> b) & 1)
        frame = av.VideoFrame.from_ndarray(img, format="rgb24")
        frame.pts, frame.time_base = i, Fraction(1, 24)
        for packet in stream.encode(frame):
            container.mux(coarse(packet))
    for packet in stream.encode():
        container.mux(coarse(packet))
    container.close()


def test_frames_sharing_a_timestamp_stay_addressable(tmp_path) -> None:
    from alges_napari.core.data.frames.video import VideoSource

    path = tmp_path / "coarse.mkv"
    _write_coarse_clock_video(path)
    decoded = list(av.open(str(path)).decode(video=0))
    assert len({f.pts for f in decoded}) == 25  # the premise: 60 frames, 25 timestamps
    sequential = [f.to_ndarray(format="rgb24") for f in decoded]
    assert [_number(f) for f in sequential] == list(range(60))

    src = VideoSource(path, cache_size=0)
    assert len(src) == 60 and src.n_shared == 35
    order = np.random.default_rng(3).permutation(np.repeat(np.arange(60), 2))
    assert [_number(src[int(i)]) for i in order] == [int(i) for i in order]
    config = json.loads(json.dumps(src.describe()))
    src.close()
    again = open_frames_from_config(config)
    assert again.keys == src.keys and _number(again[59]) == 59
    strided = open_frames(path, stride=7)
    assert [_number(strided[i]) for i in (8, 0, 3)] == [56, 0, 21]


def test_a_project_made_when_shared_timestamps_collapsed_keeps_its_numbering(tmp_path) -> None:
    path = tmp_path / "coarse.mkv"
    _write_coarse_clock_video(path)
    # What an older alges-napari described: 25 frames, one per distinct timestamp.
    old = {"type": "video", "path": str(path), "stride": 1, "n_frames": 25}
    with pytest.warns(FrameWarning, match=r"35 of 60 frames share a timestamp.*re-encode"):
        src = open_frames_from_config(old)
    assert len(src) == 25 and src.describe()["timestamps"] == "distinct"
    sequential = [_number(f.to_ndarray(format="rgb24")) for f in av.open(str(path)).decode()]
    # The first frame of each timestamp (frame n has pts n * 10 // 24), as the old index read.
    firsts = [n for n in sequential if n == 0 or n * 10 // 24 != (n - 1) * 10 // 24]
    assert [_number(src[i]) for i in range(25)] == firsts


def test_truncated_and_corrupt_videos(tmp_path) -> None:
    path = tmp_path / "clip.mp4"
    _write_video(path)
    data = path.read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[: len(data) // 2])
    with pytest.raises(FrameSourceError, match="cut.mp4"):
        open_frames(tmp_path / "cut.mp4")
    (tmp_path / "junk.avi").write_bytes(b"RIFF" + bytes(300))
    with pytest.raises(FrameSourceError, match="junk.avi"):
        open_frames(tmp_path / "junk.avi")
    mkv = tmp_path / "clip.mkv"
    _write_video(mkv)
    blob = mkv.read_bytes()
    (tmp_path / "cut.mkv").write_bytes(blob[: int(len(blob) * 0.6)])
    try:
        src = open_frames(tmp_path / "cut.mkv")  # mkv keeps its index up front: it may open
    except FrameSourceError as exc:
        assert "cut.mkv" in str(exc)
    else:
        assert 0 < len(src) < 47
        for i in range(len(src)):
            try:
                assert _number(src[i]) == i
            except FrameSourceError as exc:
                assert "cut.mkv" in str(exc)


# ------------------------------------------------------------------ TIFF stacks


def test_tiff_stacks(tmp_path) -> None:
    frames = np.stack(_frames(5))
    tifffile.imwrite(tmp_path / "rgb.tif", frames, photometric="rgb")
    src = open_frames(tmp_path / "rgb.tif")
    assert src.kind == "tiff" and len(src) == 5 and src.keys[1] == "rgb/f000001"
    for i in (4, 0, 2):
        np.testing.assert_array_equal(src[i], frames[i])
    grey = np.random.default_rng(2).integers(0, 65535, (6, H, W), dtype=np.uint16)
    tifffile.imwrite(tmp_path / "ij.tif", grey, imagej=True)
    src = open_frames(tmp_path / "ij.tif", stride=2)
    assert len(src) == 3
    np.testing.assert_array_equal(src[1], np.dstack([np.rint(grey[2] / 257.0)] * 3))
    assert open_frames_from_config(src.describe()).keys == src.keys
    planar = np.moveaxis(frames, -1, 1)  # (N, 3, H, W): tifffile reads it as planar RGB
    tifffile.imwrite(tmp_path / "planar.tif", planar)
    np.testing.assert_array_equal(open_frames(tmp_path / "planar.tif")[3], frames[3])
    tifffile.imwrite(tmp_path / "hyper.tif", np.zeros((2, 2, H, W), np.uint8), imagej=True,
                     metadata={"axes": "TZYX"})  # fmt: skip
    with pytest.raises(FrameSourceError, match="unsupported TIFF layout"):
        open_frames(tmp_path / "hyper.tif")
    (tmp_path / "bad.tif").write_bytes(b"II*\x00garbage")
    with pytest.raises(FrameSourceError, match="bad.tif"):
        open_frames(tmp_path / "bad.tif")
