"""Frames by key: ``frame(key)``, ``truth(key)``, the keyed view and the error for a missing key.

Each source is built in ``tmp_path`` and checked against what was written (or, for a video,
against a plain PyAV decode), and against the source's own random access by index.
"""

from __future__ import annotations

import pickle

import av
import numpy as np
import pytest
from PIL import Image

from alges_napari.core.data.frames import open_frames
from alges_napari.core.data.frames.stream import KeyedFrames
from alges_napari.core.data.frames.video import VideoSource
from alges_napari.core.data.synthetic import generate_clip, write_cholecseg8k_tree
from alges_napari.core.errors import AlgesError, FrameKeyError, FrameSourceError
from tests.core.data.endoscapes_tree import FRAMES, frame_image, frame_mask, make_endoscapes
from tests.core.data.video_clips import write_numbered_video

H, W = 24, 32


@pytest.fixture
def folder(tmp_path):
    """A flat folder of 7 random PNG frames and the arrays written."""
    root = tmp_path / "frames"
    root.mkdir()
    rng = np.random.default_rng(11)
    written = [rng.integers(0, 256, size=(H, W, 3), dtype=np.uint8) for _ in range(7)]
    for i, f in enumerate(written):
        Image.fromarray(f).save(root / f"frame_{i}.png")
    return root, written


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """A 30-frame numbered H.264 clip (keyframe every 10) and its frames from a plain decode."""
    path = tmp_path_factory.mktemp("keyed") / "clip.mp4"
    write_numbered_video(path, n=30, gop=10, bframes=2)
    with av.open(str(path)) as c:
        decoded = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    return path, decoded


# ------------------------------------------------------------------ frame(key) and truth(key)


def test_folder_frame_by_key_is_the_written_frame(folder) -> None:
    root, written = folder
    src = open_frames(root)
    for i in (6, 0, 3):
        key = f"frame_{i}"
        np.testing.assert_array_equal(src.frame(key), written[i])
        np.testing.assert_array_equal(src.frame(key), src[src.index_of(key)])
        assert src.truth(key) is None  # a plain folder has no ground truth
    assert "frame_4" in src and "frame_7" not in src and "frame" not in src
    assert np.zeros(3) not in src  # an array is never a key (and is not compared to frames)


def test_cholecseg8k_truth_by_key_is_the_generated_mask(tmp_path) -> None:
    root = write_cholecseg8k_tree(tmp_path / "tree", n_clips=2, frames_per_clip=2, size=(48, 64))
    src = open_frames(root)
    made = [pair for c in range(2) for pair in generate_clip(c, 2, (48, 64), seed=0)]
    assert len(src) == 4
    for i, key in enumerate(src.keys):
        frame, mask = made[i]
        np.testing.assert_array_equal(src.frame(key), frame)
        truth = src.truth(key)  # the watershed mask: region boundaries are 255 = ignore
        inside = truth != 255
        assert inside.mean() > 0.5
        np.testing.assert_array_equal(truth[inside], mask[inside])
        np.testing.assert_array_equal(truth, src.ground_truth(src.index_of(key)))


def test_endoscapes_frame_and_truth_by_key(tmp_path) -> None:
    root = make_endoscapes(tmp_path / "es")
    src = open_frames(root / "train_seg", report=False)
    for v, f in FRAMES:
        key = f"{v}/{v}_{f}"
        got = src.frame(key)
        np.testing.assert_array_equal(got, src[src.index_of(key)])
        # JPEG at quality 95: near the written frame, not equal to it.
        assert np.abs(got.astype(int) - frame_image(v, f)).mean() < 2.0
        np.testing.assert_array_equal(src.truth(key), frame_mask(v, f))


@pytest.mark.parametrize("stride", [1, 3])
def test_video_frame_by_key_is_the_decoded_frame(clip, stride) -> None:
    path, decoded = clip
    with VideoSource(path, stride=stride, cache_size=0) as src:
        assert src.keys[1] == f"clip/f{stride:06d}"  # keys keep the frame's number in the file
        for i in (len(src) - 1, 0, 4, 2):  # backwards too: the seek finds the exact frame
            key = src.keys[i]
            np.testing.assert_array_equal(src.frame(key), decoded[i * stride])
            np.testing.assert_array_equal(src.frame(key), src[i])
            assert src.truth(key) is None


# ------------------------------------------------------------------ the keyed view


def test_keyed_view_order_len_and_items(folder) -> None:
    root, written = folder
    src = open_frames(root)
    keys = ["frame_5", "frame_1", "frame_5", "frame_0"]  # any order, a key may repeat
    view = src.keyed(keys)
    assert isinstance(view, KeyedFrames)
    assert len(view) == 4 and view.keys == keys
    for j, i in enumerate((5, 1, 5, 0)):
        np.testing.assert_array_equal(view[j], written[i])
    np.testing.assert_array_equal(view[-1], written[0])
    assert [int(np.array_equal(f, written[5])) for f in view] == [1, 0, 1, 0]
    got = list(view.iter_frames([3, 0, 1]))  # a folder: the order asked
    assert [j for j, _ in got] == [3, 0, 1]
    for j, frame in got:
        np.testing.assert_array_equal(frame, written[(5, 1, 5, 0)[j]])
    assert view.frame_size is None  # frames come at their own size
    assert len(src.keyed([])) == 0


def test_keyed_view_of_a_video_streams_forward_once(clip) -> None:
    path, decoded = clip
    with VideoSource(path, stride=1, cache_size=0) as src:
        order = [int(i) for i in np.random.default_rng(2).permutation(len(src))]
        view = src.keyed([src.keys[i] for i in order])
        before = src.decode_counts
        got = list(view.iter_frames(range(len(view))))
        counts = {k: v - before[k] for k, v in src.decode_counts.items()}
        # Each view position once; they come in stream order, i.e. by frame number.
        assert sorted(j for j, _ in got) == list(range(len(view)))
        assert [order[j] for j, _ in got] == list(range(len(src)))
        for j, frame in got:
            np.testing.assert_array_equal(frame, decoded[order[j]])
        assert counts["decoded"] == len(src)  # one forward decode, no frame twice
        assert counts["restarts"] == 0


def test_keyed_view_over_a_reader_passes_its_stream_and_size_on() -> None:
    """A reader with ``iter_keys`` (the pool cache's) chooses the order; its size is kept."""
    frames = {k: np.full((2, 3, 3), n, np.uint8) for n, k in enumerate("abcd")}
    asked: list[list[str]] = []

    class Reader:
        frame_size = (20, 30)

        def __call__(self, key: str) -> np.ndarray:
            return frames[key]

        def iter_keys(self, keys):
            asked.append(list(keys))
            for pos in sorted(range(len(keys)), key=lambda p: keys[p]):  # by key: its own order
                yield pos, frames[keys[pos]]

    view = KeyedFrames(Reader(), ["d", "b", "c"])
    assert view.frame_size == (20, 30)
    got = list(view.iter_frames([0, 2, 1]))
    assert asked == [["d", "c", "b"]]
    assert [j for j, _ in got] == [1, 2, 0]  # b, c, d
    assert [int(f[0, 0, 0]) for _, f in got] == [1, 2, 3]
    assert int(view[0][0, 0, 0]) == 3


# ------------------------------------------------------------------ a missing key


def test_a_missing_key_names_itself_and_the_source(folder) -> None:
    root, _ = folder
    src = open_frames(root)
    for call in (src.frame, src.truth, src.index_of, lambda k: src.keyed(["frame_1", k])):
        with pytest.raises(FrameKeyError) as info:
            call("frame_99")
        err = info.value
        assert str(err) == f"frame key 'frame_99' is not in {root}"
        assert err.key == "frame_99" and err.source == str(root)
        assert isinstance(err, FrameSourceError) and isinstance(err, AlgesError)
    with pytest.raises(FrameKeyError, match=r"\['frame_1'\]"):
        src.frame(["frame_1"])  # an unhashable "key" is a missing key, not a TypeError


def test_frame_key_error_survives_a_pickle() -> None:
    """A dask worker's error reaches the driver pickled: key, source and message intact."""
    back = pickle.loads(pickle.dumps(FrameKeyError("3/3_75", "/data/es/train_seg")))
    assert isinstance(back, FrameKeyError)
    assert (back.key, back.source) == ("3/3_75", "/data/es/train_seg")
    assert str(back) == "frame key '3/3_75' is not in /data/es/train_seg"
