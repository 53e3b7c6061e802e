"""``alges rank --json`` and ``--dask``: the queue on stdout, the same on a local cluster."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from alges_napari import cli


@pytest.fixture(scope="module")
def trained(tree: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project over the 24-frame tree with 4 labels and one trained round."""
    from alges_napari.core.project.project import Project

    proj = tmp_path_factory.mktemp("rank") / "proj"
    init = ["init", "--project", str(proj), "--data", str(tree), "--input-size", "64", "64"]
    assert cli.main([*init, "--epochs", "1", "--quiet"]) == 0
    with Project.open(proj) as project:
        for i in (0, 7, 13, 20):
            project.accept_label(project.keys[i], project.frames.ground_truth(i))
    assert cli.main(["train", "--project", str(proj), "--quiet", "--threads", "1"]) == 0
    return proj


def rank_json(capsys: pytest.CaptureFixture, *args: str) -> list[dict]:
    assert cli.main(["rank", *args, "--json", "--quiet"]) == 0
    out = capsys.readouterr().out
    return json.loads(out)  # stdout holds the JSON and nothing else


def test_rank_json_prints_the_queue_it_writes(trained: Path, capsys) -> None:
    from alges_napari.core.project.project import Project

    args = ("--project", str(trained), "--strategy", "entropy", "--query-size", "5", "--seed", "3")
    entries = rank_json(capsys, *args)
    with Project.open(trained, readonly=True) as project:
        queue = [e.to_json() for e in project.queue]
    assert entries == queue and [e["rank"] for e in entries] == [0, 1, 2, 3, 4]
    fields = ["key", "rank", "score", "strategy", "measure", "relative", "pick_value"]
    assert all(list(e) == fields for e in entries)
    assert all(e["strategy"] == "entropy" and e["measure"] == "entropy" for e in entries)
    # Entropy picks the frames of highest mean entropy first: the column reads down the queue.
    scores = [e["score"] for e in entries]
    assert all(isinstance(s, float) for s in scores) and scores == sorted(scores, reverse=True)
    assert entries[0]["relative"] == 100.0 and all(e["pick_value"] is None for e in entries)
    assert [e["relative"] for e in entries] == pytest.approx([100 * s / scores[0] for s in scores])


def test_rank_json_of_alges_seg_gives_gradient_mass_and_d2(trained: Path, capsys) -> None:
    from alges_napari.core.acquire.scoring import ScoreOptions, score_frames
    from alges_napari.core.acquire.step import rank_queue
    from alges_napari.core.acquire.strategies import get_strategy
    from alges_napari.core.learn.model import load_checkpoint
    from alges_napari.core.project.project import Project

    args = ("--project", str(trained), "--strategy", "alges-seg", "--query-size", "4")
    args += ("--seed", "2")
    entries = rank_json(capsys, *args)
    assert [e["rank"] for e in entries] == [0, 1, 2, 3]
    assert all(e["measure"] == "gradient mass" and e["pick_value"] >= 0 for e in entries)
    # The same numbers from an independent scoring pass of the same model over the same pool.
    with Project.open(trained, readonly=True) as project:
        pool, frames = project.unlabelled_keys(), project.frames
        model, spec, _ = load_checkpoint(project.latest_checkpoint(), device="cpu")
        pool_frames = [frames.frame(k) for k in pool]
        cpu = ScoreOptions(device="cpu")
        scored = score_frames(model, pool_frames, spec, want={"emb_seg"}, options=cpu)
        round_seed = 2 + len(project.rounds)  # a round's seed: --seed + its round
    mass = scored.emb_seg.sum(axis=1)
    for e in entries:
        i = pool.index(e["key"])
        assert e["score"] == pytest.approx(mass[i], rel=1e-6)
        assert e["relative"] == pytest.approx(100 * mass[i] / mass.max(), rel=1e-6)
    again = rank_queue(get_strategy("alges-seg"), scored, pool, 4, round_seed)
    assert [e.key for e in again] == [e["key"] for e in entries]


def test_rank_on_a_running_scheduler_prints_the_same_queue(
    trained: Path, capsys, dask_client
) -> None:
    args = ("--project", str(trained), "--strategy", "coreset", "--query-size", "20", "--seed", "4")
    here = rank_json(capsys, *args)
    address = dask_client.scheduler.address  # the suite's local cluster, as a remote scheduler
    there = rank_json(capsys, *args, "--dask", address, "--workers", "2")
    assert len(here) == 20 and there == here  # keys, ranks and scores


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--workers", "2"], "--workers and --tls-* need --dask"),
        (["--dask", "udp://h:1"], "give 'local', tcp://HOST:PORT or tls://HOST:PORT"),
        (["--dask", "local", "--tls-cert", "c.pem"], "need a tls:// scheduler"),
        (["--dask", "local", "--workers", "0"], "--workers must be at least 1"),
        (["--dask", "tls://h:1", "--tls-ca-file", "none.pem"], "TLS CA file none.pem does not"),
    ],
)
def test_bad_dask_options_are_refused(trained: Path, capsys, options, message) -> None:
    pytest.importorskip("distributed", reason="dask.distributed is not installed")
    assert cli.main(["rank", "--project", str(trained), "--quiet", *options]) == 2
    assert message in capsys.readouterr().err



def test_the_engine_chosen_reaches_the_pass_in_this_process(
    trained: Path, capsys, monkeypatch
) -> None:
    from tests.engine_spy import engine_environ, spy_here

    seen = spy_here(monkeypatch)
    monkeypatch.delenv("ALGES_ENGINE", raising=False)
    args = ("--project", str(trained), "--strategy", "entropy", "--query-size", "3")
    rank_json(capsys, *args, "--engine", "torch")
    assert seen == ["torch"] and engine_environ() == {}  # one pass, told; nothing written
    # No option: $ALGES_ENGINE, read by the command where it starts, is handed down the same way.
    seen.clear()
    monkeypatch.setenv("ALGES_ENGINE", "torch-channels-last")
    rank_json(capsys, *args)
    assert seen == ["torch-channels-last"]
    assert engine_environ() == {"ALGES_ENGINE": "torch-channels-last"}
    seen.clear()
    rank_json(capsys, *args, "--engine", "auto")  # the option wins over the environment
    assert seen == ["auto"]


def test_the_engine_chosen_reaches_the_pass_on_the_workers(
    trained: Path, capsys, dask_client
) -> None:
    from tests.engine_spy import spy_on_workers

    args = ("--project", str(trained), "--strategy", "entropy", "--query-size", "3", "--seed", "1")
    here = rank_json(capsys, *args)
    collect = spy_on_workers(dask_client)
    try:
        address = dask_client.scheduler.address
        there = rank_json(capsys, *args, "--engine", "torch", "--dask", address)
    finally:
        on_workers = collect()
    assert there == here
    choices = [c for _env, seen in on_workers.values() for c in seen]
    # Every shard's pass was told the command's engine; no worker's environment holds it.
    assert choices and set(choices) == {"torch"}, on_workers
    assert all(env is None for env, _ in on_workers.values())
