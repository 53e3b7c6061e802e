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
    init = ["init", "--project", str(proj), "--data", str(tree), "--size", "64", "64"]
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

    args = ("--project", str(trained), "--strategy", "entropy", "--query", "5", "--seed", "3")
    entries = rank_json(capsys, *args)
    with Project.open(trained, readonly=True) as project:
        queue = [{"key": e.key, "rank": e.rank, "score": e.score} for e in project.queue]
    assert entries == queue and [e["rank"] for e in entries] == [0, 1, 2, 3, 4]
    assert all(isinstance(e["score"], float) for e in entries)  # mean entropies


def test_rank_on_a_running_scheduler_prints_the_same_queue(
    trained: Path, capsys, dask_client
) -> None:
    args = ("--project", str(trained), "--strategy", "coreset", "--query", "20", "--seed", "4")
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
