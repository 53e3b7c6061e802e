"""A pass over a video decodes forward once, in stream order, and returns what random access does."""

from __future__ import annotations

import threading

import av
import numpy as np
import pytest

from alges_napari.core.data.frames import open_frames
from alges_napari.core.data.frames.video import VideoSource
from tests.core.data.video_clips import write_numbered_video


def _write_video(path, n=47, gop=10, h=64, w=96, bframes=2):
    """A numbered clip with B-frames on."""
    write_numbered_video(path, n=n, gop=gop, h=h, w=w, bframes=bframes)


def _sequential(path):
    """Every frame and the keyframe numbers, from one plain decode (independent of alges)."""
    with av.open(str(path)) as c:
        decoded = list(c.decode(video=0))
    return [f.to_ndarray(format="rgb24") for f in decoded], [
        i for i, f in enumerate(decoded) if f.key_frame
    ]


def _frames_to_decode(targets, keyframes):
    """Frames a forward-only pass must decode: the union of [keyframe before j, j]."""
    need = set()
    for j in targets:
        k = max(x for x in keyframes if x <= j)
        need.update(range(k, j + 1))
    return len(need)


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    path = tmp_path_factory.mktemp("stream") / "clip.mp4"
    _write_video(path)
    frames, keyframes = _sequential(path)
    assert keyframes == [0, 10, 20, 30, 40]
    with av.open(str(path)) as c:
        assert c.streams.video[0].codec_context.has_b_frames  # really B-frames
    return path, frames, keyframes


@pytest.mark.parametrize("stride", [1, 3, 13])
def test_a_pass_decodes_each_gop_once_and_is_exact(clip, stride) -> None:
    path, frames, keyframes = clip
    src = VideoSource(path, stride=stride, cache_size=0)
    before = src.decode_counts
    got = list(src.iter_frames(range(len(src))))
    counts = {k: v - before[k] for k, v in src.decode_counts.items()}
    targets = [i * stride for i in range(len(src))]
    assert [i for i, _ in got] == list(range(len(src)))  # stream order = index order here
    for i, frame in got:
        np.testing.assert_array_equal(frame, frames[i * stride])
        np.testing.assert_array_equal(frame, src[i])  # what random access returns
    # No frame decoded twice, none decoded that no target needs (stride 13 skips GOPs).
    assert counts["decoded"] == _frames_to_decode(targets, keyframes)
    # It seeks (forward) only where a keyframe lies past the frame after the last target.
    pairs = zip(targets[:-1], targets[1:], strict=True)
    jumps = [b for a, b in pairs if max(k for k in keyframes if k <= b) > a + 1]
    assert counts["seeks"] == 1 + len(jumps)
    assert counts["restarts"] == 0
    src.close()


def test_any_order_and_repeats_come_back_once_each(clip) -> None:
    path, frames, keyframes = clip
    src = open_frames(path, stride=2)
    order = [int(i) for i in np.random.default_rng(3).permutation(len(src))] + [5, 5, 0]
    before = src.decode_counts["decoded"]
    got = list(src.iter_frames(order))
    assert sorted(i for i, _ in got) == sorted(order)
    assert [i for i, _ in got] == sorted(order)  # stream order
    for i, frame in got:
        np.testing.assert_array_equal(frame, frames[2 * i])
    targets = [2 * i for i in range(len(src))]
    assert src.decode_counts["decoded"] - before == _frames_to_decode(targets, keyframes)
    src.close()


def test_random_reads_during_a_pass_do_not_move_it(clip) -> None:
    path, frames, _ = clip
    src = VideoSource(path, stride=1, cache_size=0)
    rng = np.random.default_rng(0)
    for i, frame in src.iter_frames(range(len(src))):
        np.testing.assert_array_equal(frame, frames[i])
        j = int(rng.integers(len(src)))  # the widget scrubbing while the round runs
        np.testing.assert_array_equal(src[j], frames[j])
    src.close()


def test_closing_a_pass_early_stops_its_thread_and_checks_indices(clip) -> None:
    path, _, _ = clip
    src = VideoSource(path)
    gen = src.iter_frames(range(len(src)))
    next(gen)
    gen.close()
    assert not [t for t in threading.enumerate() if t.name == "decode clip.mp4"]
    with pytest.raises(IndexError):
        list(src.iter_frames([0, len(src)]))
    src.close()


def test_the_default_pass_is_random_access(tmp_path) -> None:
    import tifffile

    stack = np.random.default_rng(1).integers(0, 255, (5, 8, 10, 3), np.uint8)
    tifffile.imwrite(tmp_path / "s.tif", stack)
    src = open_frames(tmp_path / "s.tif")
    got = list(src.iter_frames([3, 1, 3]))
    assert [i for i, _ in got] == [3, 1, 3]
    for i, frame in got:
        np.testing.assert_array_equal(frame, stack[i])


def test_the_scoring_pass_reads_in_stream_order_and_answers_in_pool_order(clip) -> None:
    import torch

    from alges_napari.core.acquire.scoring import iter_score
    from alges_napari.core.learn.model import ModelSpec, build_model
    from alges_napari.core.progress import run_to_end

    path, _, keyframes = clip
    src = VideoSource(path, stride=3, cache_size=0)
    torch.manual_seed(0)
    model = build_model("Unet", "resnet18", num_classes=3, decoder_channels=(16, 8, 8, 8, 8))
    spec = ModelSpec(num_classes=3, input_size=(32, 64))
    keys = [src.keys[i] for i in np.random.default_rng(5).permutation(len(src))]
    want = {"emb_seg", "entropy", "margin", "least_confidence"}
    seen: dict[int, np.ndarray] = {}

    def on_frame(i, pred, heat):
        seen[i] = pred

    streamed = src.keyed(keys)
    before = src.decode_counts["decoded"]
    got = run_to_end(iter_score(model, streamed, spec, want=want, on_frame=on_frame))
    targets = range(0, 46, 3)  # one forward decode of what they need, whatever the key order
    assert src.decode_counts["decoded"] - before == _frames_to_decode(targets, keyframes)
    plain = [src.frame(k) for k in keys]  # the same frames, by random access, in order
    ref_seen: dict[int, np.ndarray] = {}
    ref = run_to_end(
        iter_score(model, plain, spec, want=want, on_frame=lambda i, p, h: ref_seen.update({i: p}))
    )
    for name in want:  # every field back in the caller's (shuffled) order
        np.testing.assert_allclose(getattr(got, name), getattr(ref, name), rtol=1e-5, atol=1e-7)
    assert sorted(seen) == list(range(len(keys)))
    for i in seen:
        np.testing.assert_array_equal(seen[i], ref_seen[i])
    src.close()
