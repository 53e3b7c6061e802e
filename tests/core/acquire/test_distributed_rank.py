"""The scoring pass on a dask cluster: the same queue and cache as in process, a killed worker
loses nothing, a worker receives only paths and keys, the local cluster stays on 127.0.0.1."""

from __future__ import annotations

import os
import pickle
import signal
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("distributed", reason="dask.distributed is not installed (extra 'distributed')")

from alges_napari.core.acquire.cluster import open_client, tls_security  # noqa: E402
from alges_napari.core.acquire.distributed import (  # noqa: E402
    DaskScorer,
    concat_scores,
    score_shard,
    shard_bounds,
)
from alges_napari.core.acquire.scores import ScoreResult  # noqa: E402
from alges_napari.core.acquire.strategies import get_strategy  # noqa: E402
from alges_napari.core.errors import AlgesError, FrameSourceError  # noqa: E402
from alges_napari.core.progress import StopFlag, run_to_end  # noqa: E402
from alges_napari.core.project.cache import FrameCache  # noqa: E402
from alges_napari.core.project.files import CACHE_DIR  # noqa: E402
from alges_napari.core.project.project import Project  # noqa: E402
from alges_napari.core.session import ActiveLearningSession, RoundConfig  # noqa: E402

STRATEGIES = ("alges-seg", "coreset")  # core-set also scores the labelled frames


class KillOnFirstWrite(FrameCache):
    """A project cache whose first write, in whichever worker, kills that worker's process."""

    def __init__(self, root: Path, marker: Path):
        super().__init__(root)
        self.marker = marker

    def write(self, key: str, prediction: np.ndarray, heat: Any = None) -> None:
        try:
            fd = os.open(self.marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            return super().write(key, prediction, heat)
        os.write(fd, str(os.getpid()).encode())
        os.close(fd)
        os.kill(os.getpid(), signal.SIGKILL)  # mid-shard, as a lost node would


@pytest.fixture
def client(dask_client: Any) -> Any:
    return dask_client  # the suite's local cluster of 2 worker processes (tests/conftest.py)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project with 4 labels and one trained round: 20 frames of 48 x 64."""
    from alges_napari.core.data.synthetic import write_cholecseg8k_tree

    tmp = tmp_path_factory.mktemp("rank")
    tree = write_cholecseg8k_tree(tmp / "tree", n_clips=2, frames_per_clip=10, size=(48, 64))
    with Project.create(tmp / "proj", tree, input_size=(64, 64), epochs=1) as proj:
        for i in (0, 5, 11, 15):
            proj.accept_label(proj.keys[i], proj.frames.ground_truth(i))
        run_to_end(ActiveLearningSession(proj, "cpu").run_round(RoundConfig(query_size=3)))
    return tmp / "proj"


@pytest.fixture(scope="module")
def in_process(trained: Path) -> Any:
    """The in-process rank of a strategy (queue and cache), computed once."""
    done: dict[str, tuple[list[tuple], dict]] = {}

    def get(strategy: str) -> tuple[list[tuple], dict]:
        if strategy not in done:
            done[strategy] = rank(trained, strategy)
        return done[strategy]

    return get


def rank(root: Path, strategy: str, scorer_of: Any = None) -> tuple[list[tuple], dict]:
    """Rank every unlabelled frame; the queue as (key, rank, score) and the cache's bytes."""
    with Project.open(root) as proj:
        scorer = None if scorer_of is None else scorer_of(proj)
        pool_size = len(proj.unlabelled_keys())
        cfg = RoundConfig(strategy=get_strategy(strategy), query_size=pool_size, seed=7)
        result = run_to_end(ActiveLearningSession(proj, "cpu").rank(cfg, scorer=scorer))
        queue = [(e.key, e.rank, e.score) for e in result.queue]
        assert queue == [(e.key, e.rank, e.score) for e in proj.queue]
    cache = root / CACHE_DIR
    files = {p.relative_to(cache): p.read_bytes() for p in cache.rglob("*") if p.is_file()}
    return queue, files


def dask_scorer(client: Any, **kw: Any) -> Any:
    def make(proj: Project) -> DaskScorer:
        cache = kw.pop("cache", None) or FrameCache(proj.root / CACHE_DIR)
        return DaskScorer(
            client, proj.latest_checkpoint(), proj.config["source"], cache=cache, device="cpu", **kw
        )

    return make


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_two_workers_give_the_in_process_queue_and_cache(
    client: Any, trained: Path, in_process: Any, strategy: str
) -> None:
    local_queue, local_cache = in_process(strategy)
    # shards of 8 frames: 16 unlabelled (+ 4 labelled for core-set) make 2 or 3 tasks
    queue, cache = rank(trained, strategy, dask_scorer(client, shard_size=8))
    assert len(queue) == 16 and all(s is not None for _, _, s in queue)
    assert queue == local_queue  # keys, order and scores, to the last bit
    n_scored = 20 if strategy == "coreset" else 16  # core-set scores the labelled frames too
    assert len(cache) == 2 * n_scored and cache == local_cache  # predictions and heat maps


def test_a_worker_killed_mid_rank_loses_nothing(
    client: Any, trained: Path, in_process: Any, tmp_path: Path
) -> None:
    local_queue, local_cache = in_process("alges-seg")
    before = set(client.run(os.getpid).values())
    marker = tmp_path / "killed"
    killer = KillOnFirstWrite(trained / CACHE_DIR, marker)
    queue, cache = rank(trained, "alges-seg", dask_scorer(client, shard_size=8, cache=killer))
    killed = int(marker.read_text())
    assert killed in before  # one of the cluster's workers died in the middle of a shard
    client.wait_for_workers(2)  # its nanny starts a new one
    assert killed not in set(client.run(os.getpid).values())
    assert queue == local_queue and cache == local_cache


def test_the_local_cluster_listens_on_localhost_only(client: Any) -> None:
    info = client.scheduler_info()
    addresses = [client.scheduler.address, *info["workers"]]
    addresses += [w["nanny"] for w in info["workers"].values()]
    assert len(addresses) == 5
    assert all(a.startswith("tcp://127.0.0.1:") for a in addresses), addresses
    import psutil  # a dependency of distributed

    # every socket the cluster's processes listen on (comms, HTTP servers): this process holds
    # the scheduler and the nannies, the others are the workers
    pids = [os.getpid(), *client.run(os.getpid).values()]
    listening = [
        c.laddr
        for pid in pids
        for c in psutil.Process(pid).net_connections(kind="inet")
        if c.status == psutil.CONN_LISTEN
    ]
    assert len(listening) >= 5 and all(a.ip == "127.0.0.1" for a in listening), listening


class RecordingClient:
    """Stands in for a dask Client: runs each task here and records what it was sent."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []

    def submit(self, fn: Any, *args: Any, **kw: Any) -> Any:
        self.sent.append(pickle.dumps((fn, args)))
        return _Done(fn(*args))

    def scheduler_info(self) -> dict:
        return {"workers": {"a": {}, "b": {}}}

    def cancel(self, futures: Any) -> None:
        pass

    def as_current(self) -> Any:
        import contextlib

        return contextlib.nullcontext()


class _Done:
    def __init__(self, value: Any):
        self.value = value

    def result(self) -> Any:
        return self.value


def test_a_worker_receives_paths_and_keys_only(
    trained: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import distributed

    monkeypatch.setattr(distributed, "wait", lambda fs, **kw: type("W", (), {"done": set(fs)}))
    fake = RecordingClient()
    with Project.open(trained, readonly=True) as proj:
        keys = proj.unlabelled_keys()
        scorer = dask_scorer(fake, shard_size=8)(proj)
        scores = run_to_end(scorer(keys, frozenset({"emb_seg"}), None, None))
    assert scores.n == 16 and scores.emb_seg.shape == (16, 13)
    assert len(fake.sent) == 2
    for blob in fake.sent:
        fn, args = pickle.loads(blob)
        assert fn is score_shard
        checkpoint, source, shard, want, cache, device, batch, engine = args
        assert checkpoint == str(proj.latest_checkpoint().resolve())
        assert source == proj.config["source"] and set(source) >= {"type", "path"}
        assert len(shard) == 8 and set(shard) <= set(keys) and want == ["emb_seg"]
        assert cache is None and (device, batch, engine) == ("cpu", 8, None)
        assert len(blob) < 4096  # no pixels, no weights


def test_shards_hold_whole_batches() -> None:
    assert shard_bounds(20, 8, 8) == [(0, 8), (8, 16), (16, 20)]
    assert shard_bounds(20, 8, 10) == [(0, 16), (16, 20)]  # rounded up to whole batches
    assert shard_bounds(5, 8, 1) == [(0, 5)]
    assert shard_bounds(0, 8, 8) == []
    a = ScoreResult(n=2, entropy=np.array([1.0, 2.0]), emb_seg=np.ones((2, 3)))
    b = ScoreResult(n=1, entropy=np.array([3.0]), emb_seg=np.zeros((1, 3)))
    both = concat_scores([a, b])
    assert both.n == 3 and both.entropy.tolist() == [1.0, 2.0, 3.0]
    assert both.emb_seg.shape == (3, 3) and both.badge is None


def test_predictions_need_a_cache_and_a_stop_cancels(client: Any, trained: Path) -> None:
    with Project.open(trained, readonly=True) as proj:
        no_cache = DaskScorer(client, proj.latest_checkpoint(), proj.config["source"])
        with pytest.raises(AlgesError, match="give the DaskScorer a cache"):
            no_cache(proj.unlabelled_keys(), frozenset(), lambda *a: None, None)
        stop = StopFlag()
        stop.set()
        from alges_napari.core.progress import Cancelled

        with pytest.raises(Cancelled):
            run_to_end(no_cache(proj.unlabelled_keys(), frozenset({"entropy"}), None, stop))
        # a frame folder the workers cannot see: the worker's error, with its message, here
        source = {**proj.config["source"], "path": str(trained / "moved")}
        moved = DaskScorer(client, proj.latest_checkpoint(), source, retries=0)
        with pytest.raises(FrameSourceError, match="moved does not exist"):
            run_to_end(moved(proj.unlabelled_keys(), frozenset({"entropy"}), None, None))


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1 (its own authority) and its key."""
    import shutil
    import subprocess

    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed: no certificate for the TLS test")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
        + ["-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost"]
        + ["-addext", "subjectAltName=IP:127.0.0.1"],
        check=True,
        capture_output=True,
    )
    return str(cert), str(key)


def test_a_tls_scheduler_takes_tls_clients_only(certificate: tuple[str, str]) -> None:
    import distributed

    cert, key = certificate
    sides = ("scheduler", "worker", "client")
    files = {
        f"tls_{s}_{kind}": path for s in sides for kind, path in (("cert", cert), ("key", key))
    }
    security = distributed.Security(tls_ca_file=cert, require_encryption=True, **files)
    with distributed.LocalCluster(
        n_workers=1,
        processes=False,
        host="127.0.0.1",
        protocol="tls://",
        security=security,
        dashboard_address=None,
    ) as cluster:
        address = cluster.scheduler_address
        assert address.startswith("tls://127.0.0.1:")
        with open_client(address, 1, tls_security(cert, cert, key)) as client:
            assert client.submit(sum, [1, 2], pure=False).result() == 3
        plain = "tcp://" + address.split("://", 1)[1]
        with pytest.raises(OSError), open_client(plain):
            pass  # the handshake fails: nothing talks to it unencrypted


def test_an_unencrypted_scheduler_elsewhere_is_warned_about() -> None:
    from alges_napari.core.acquire.cluster import SecurityWarning, _is_loopback

    assert _is_loopback("127.0.0.1") and _is_loopback("localhost") and _is_loopback("[::1]")
    assert not _is_loopback("10.0.0.5") and not _is_loopback("node17.cluster")
    import dask

    with (
        dask.config.set({"distributed.comm.timeouts.connect": "1s"}),
        pytest.warns(SecurityWarning, match="not encrypted"),
        pytest.raises(OSError),
        open_client("tcp://192.0.2.1:8786"),  # TEST-NET-1: nothing answers
    ):
        pass
