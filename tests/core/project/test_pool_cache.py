"""The pool cache: built by the first pass, reused after (no decode), rebuilt when the source changes."""

from __future__ import annotations

import os

import av
import numpy as np

from alges_napari.core.data.frames import open_frames
from alges_napari.core.learn.train import make_samples
from alges_napari.core.progress import run_to_end
from alges_napari.core.project.pool_cache import POOL_CACHE_DIR, PoolCache, PoolFrames

H, W = 48, 64


def write_video(path, n=24, seed=0, gop=6):
    """A tiny H.264 clip of smooth random content (B-frames on)."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 255, (H, W + 2 * n, 3), np.uint8)
    container = av.open(str(path), "w")
    stream = container.add_stream("libx264", rate=25)
    stream.width, stream.height, stream.pix_fmt, stream.gop_size = W, H, "yuv420p", gop
    stream.options = {"bf": "2", "preset": "ultrafast"}
    for i in range(n):
        img = np.ascontiguousarray(base[:, 2 * i : 2 * i + W])
        for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
    container.close()


def cached_pass(root, source, size, keys):
    frames = PoolFrames(PoolCache(root, source, size), build=True)
    got = dict(frames.iter_keys(keys))
    return [got[p] for p in range(len(keys))]


def test_first_pass_builds_what_training_would_see_and_states_its_size(tmp_path) -> None:
    write_video(tmp_path / "rec.mp4")
    src = open_frames(tmp_path / "rec.mp4", stride=2)
    keys = src.keys[1::2] + [src.keys[3]]  # a pool subset, one key twice
    got = cached_pass(tmp_path, src, (32, 40), keys)
    for key, frame in zip(keys, got, strict=True):
        want = make_samples([(src.frame(key), np.zeros((H, W), np.uint8))], (32, 40)).images[0]
        np.testing.assert_array_equal(frame, want.permute(1, 2, 0).numpy())
    cache = PoolCache(tmp_path, src, (32, 40))
    array = cache.open()
    assert array is not None and array.shape == (12, 32, 40, 3)
    for i in range(12):  # every frame is cached, not only the ones asked for
        want = make_samples([(src[i], np.zeros((H, W), np.uint8))], (32, 40)).images[0]
        np.testing.assert_array_equal(array[i], want.permute(1, 2, 0).numpy())
    files = sorted(p.name for p in (tmp_path / POOL_CACHE_DIR).iterdir())
    assert len(files) == 2 and files[0].endswith(".json") and files[1].endswith(".npy")
    size = (tmp_path / POOL_CACHE_DIR / files[1]).stat().st_size
    assert size == 128 + 12 * 32 * 40 * 3
    assert f"12 frames at 32x40, {size / 1e6:.1f} MB on disk" in cache.status()
    assert PoolFrames(cache)(keys[0]).tobytes() == got[0].tobytes()


def test_reused_without_decoding_rebuilt_when_the_file_or_size_changes(tmp_path) -> None:
    path = tmp_path / "rec.mp4"
    write_video(path)
    first = cached_pass(tmp_path, open_frames(path, stride=2), (32, 40), open_frames(path).keys[::2])
    src = open_frames(path, stride=2)  # reopened: a later round
    again = cached_pass(tmp_path, src, (32, 40), src.keys)
    assert src.decode_counts["decoded"] == 0  # round 2 reads no video at all
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)

    other = cached_pass(tmp_path, src, (16, 24), src.keys[:2])  # another input size: its own
    assert src.decode_counts["decoded"] > 0 and other[0].shape == (16, 24, 3)
    assert PoolCache(tmp_path, src, (32, 40)).open() is not None

    write_video(path, seed=1)  # the recording rewritten: same name, frames, other content
    src = open_frames(path, stride=2)
    assert PoolCache(tmp_path, src, (32, 40)).open() is None
    rebuilt = cached_pass(tmp_path, src, (32, 40), src.keys)
    assert src.decode_counts["decoded"] > 0
    assert not np.array_equal(rebuilt[0], first[0])
    npys = list((tmp_path / POOL_CACHE_DIR).glob("pool_32x40_*.npy"))
    assert len(npys) == 1  # the stale cache file is gone

    st = path.stat()  # touched only: the identity changes, so the cache is rebuilt too
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    src = open_frames(path, stride=2)
    assert PoolCache(tmp_path, src, (32, 40)).open() is None
    src3 = open_frames(path, stride=3)  # another stride: another identity
    assert PoolCache(tmp_path, src3, (32, 40)).open() is None


def test_a_pass_cut_short_leaves_no_cache_and_folders_are_not_cached(tmp_path) -> None:
    from PIL import Image

    write_video(tmp_path / "rec.mp4")
    src = open_frames(tmp_path / "rec.mp4")
    frames = PoolFrames(PoolCache(tmp_path, src, (32, 40)))
    gen = frames.iter_keys(src.keys)
    next(gen)
    gen.close()
    assert PoolCache(tmp_path, src, (32, 40)).open() is None
    assert not [p for p in (tmp_path / POOL_CACHE_DIR).iterdir() if p.suffix in (".npy", ".tmp")]
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(3):
        Image.fromarray(np.full((H, W, 3), i, np.uint8)).save(folder / f"f{i}.png")
    cache = PoolCache(tmp_path, open_frames(folder), (32, 40))
    assert not cache.cacheable and "not used" in cache.status()


def test_round_two_reads_no_video_and_training_reads_the_cache(tmp_path) -> None:
    from alges_napari.core.acquire.strategies import get_strategy
    from alges_napari.core.project.project import Project
    from alges_napari.core.session import ActiveLearningSession, RoundConfig

    write_video(tmp_path / "rec.mp4")
    proj = Project.create(
        tmp_path / "proj", tmp_path / "rec.mp4", stride=2, input_size=(32, 32), epochs=1,
        batch_size=2, min_steps=0, patience=0,
    )  # fmt: skip
    try:
        label = np.zeros((H, W), np.uint8)
        label[:, W // 2 :] = 1
        for key in proj.keys[:2]:
            proj.accept_label(key, label)
        session = ActiveLearningSession(proj, device="cpu")
        config = RoundConfig(strategy=get_strategy("alges-seg"), query_size=3)
        first = run_to_end(session.run_round(config))
        cache = PoolCache(proj.root, proj.frames, (32, 32))
        assert cache.open() is not None and "12 frames at 32x32" in cache.status()
        decoded = proj.frames.decode_counts["decoded"]
        second = run_to_end(session.run_round(config))
        assert proj.frames.decode_counts["decoded"] == decoded  # no decode on round 2
        assert len(first.queue) == len(second.queue) == 3
        for key in proj.unlabelled_keys():  # predictions at the frame's size, not the model's
            assert proj.prediction(key).shape == (H, W)
    finally:
        proj.close()
