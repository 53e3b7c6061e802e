"""The ``alges`` command on tiny synthetic data: every subcommand, its help, its exit codes.

Fixtures: ``tree`` is the suite's default tree (``tests/conftest.py``), ``restore_threads`` is in
``tests/cli/conftest.py``.
"""

from __future__ import annotations

import argparse
import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from alges_napari import cli

TINY = ["--epochs", "1", "--batch-size", "4", "--input-size", "64", "64", "--threads", "1"]


def rows_of(out: Path) -> list[dict[str, str]]:
    with open(out / "results.csv", newline="") as fh:
        return list(csv.DictReader(fh))


# ---------------------------------------------------------------- help and exit codes


def test_help_lists_commands_and_exit_codes(capsys) -> None:
    assert cli.main(["--help"]) == 0
    text = capsys.readouterr().out
    for command in ("simulate", "plot", "init", "train", "rank", "export", "demo"):
        assert f"alges {command}" in text
    for code in ("0 ", "1 ", "2 ", "130"):
        assert f"\n  {code}" in text


def test_every_option_of_every_command_is_explained(capsys) -> None:
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert set(sub.choices) == {
        "simulate", "plot", "init", "train", "rank", "export", "import", "demo"
    }  # fmt: skip
    for name, command in sub.choices.items():
        for action in command._actions:
            assert action.help, f"alges {name}: {action.option_strings or action.dest} has no help"
        assert cli.main([name, "--help"]) == 0
        assert "--quiet" in capsys.readouterr().out


def test_bad_usage_and_bad_input_exit_2(tmp_path, capsys) -> None:
    assert cli.main(["simulate"]) == 2  # --data missing: argparse
    assert "--data" in capsys.readouterr().err
    assert cli.main(["simulate", "--data", str(tmp_path / "nope"), "--quiet"]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert cli.main(["simulate", "--data", str(tmp_path), "--strategy", "alges-sag"]) == 2
    assert "did you mean 'alges-seg'" in capsys.readouterr().err
    assert cli.main(["plot", "--results", str(tmp_path)]) == 2
    assert "cannot read results" in capsys.readouterr().err
    assert cli.main(["train", "--project", str(tmp_path)]) == 2
    assert "not an alges project" in capsys.readouterr().err
    assert cli.main(["plot", "--results", str(tmp_path), "--threads", "0"]) == 2


def test_runtime_failure_exits_1_and_ctrl_c_exits_130(tmp_path, capsys, monkeypatch) -> None:
    from alges_napari.core.experiment import curves

    def boom(path):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(curves, "read_results", boom)
    assert cli.main(["plot", "--results", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "RuntimeError: disk on fire" in err and "--debug" in err
    assert cli.main(["plot", "--results", str(tmp_path), "--debug"]) == 1
    assert "Traceback" in capsys.readouterr().err

    def interrupted(path):
        raise KeyboardInterrupt

    monkeypatch.setattr(curves, "read_results", interrupted)
    assert cli.main(["plot", "--results", str(tmp_path)]) == 130


# ---------------------------------------------------------------- simulate and plot


def test_simulate_then_plot(tree, tmp_path, capsys) -> None:
    out = tmp_path / "exp"
    args = ["simulate", "--data", str(tree), "--strategy", "random,alges-img", "--init", "3"]
    args += ["--query-size", "2", "--rounds", "1", "--repeats", "2", "--test-size", "0.25"]
    args += ["--no-full-pool"]  # the full-pool rows have tests of their own
    assert cli.main([*args, *TINY, "--out", str(out), "--quiet"]) == 0
    assert capsys.readouterr().err == ""  # quiet means quiet
    rows = rows_of(out)
    assert len(rows) == 2 * 2 * 2
    assert {r["strategy"] for r in rows} == {"random", "alges-img"}
    assert {int(r["n_labelled"]) for r in rows} == {3, 5}
    # a second run with the same settings has nothing left to do
    assert cli.main([*args, *TINY, "--out", str(out)]) == 0
    assert "0 new rows, 4 steps already done" in capsys.readouterr().err
    assert len(rows_of(out)) == 8

    assert cli.main(["plot", "--results", str(out), "--quiet"]) == 0
    table = capsys.readouterr().out
    assert table.startswith("| strategy |") and "| random | 2 | 5 |" in table
    for name in ("learning_curves.png", "summary.csv", "summary.md"):
        assert (out / name).stat().st_size > 0
    with open(out / "summary.csv", newline="") as fh:
        summary = {r["strategy"]: r for r in csv.DictReader(fh)}
    random_final = np.mean(
        [float(r["mean_dice"]) for r in rows if r["strategy"] == "random" and r["round"] == "1"]
    )
    assert float(summary["random"]["final_mean_dice"]) == pytest.approx(random_final, abs=1e-4)


def test_ctrl_c_stops_cleanly_and_the_run_resumes(tree, tmp_path) -> None:
    out = tmp_path / "exp"
    args = [sys.executable, "-m", "alges_napari.cli", "simulate", "--data", str(tree)]
    args += ["--strategy", "random", "--init", "3", "--query-size", "2", "--rounds", "4"]
    args += ["--repeats", "1", "--test-size", "0.25", "--no-full-pool", *TINY]
    args += ["--out", str(out), "--quiet"]
    proc = subprocess.Popen(args, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and proc.poll() is None:
            if (out / "results.csv").exists() and len(rows_of(out)) >= 2:
                break
            time.sleep(0.05)
        assert proc.poll() is None, f"finished before the interrupt: {proc.stderr.read()}"
        os.kill(proc.pid, signal.SIGINT)
        assert proc.wait(timeout=240) == 130
    finally:
        if proc.poll() is None:
            proc.kill()
    done = rows_of(out)
    assert 2 <= len(done) < 5
    finished = subprocess.run(args, capture_output=True, text=True, timeout=400)
    assert finished.returncode == 0, finished.stderr
    rows = rows_of(out)
    assert [int(r["round"]) for r in rows] == [0, 1, 2, 3, 4]  # nothing twice, nothing lost
    assert rows[: len(done)] == done


# ---------------------------------------------------------------- project commands


def label_from_truth(project_dir: Path, n: int) -> list[str]:
    from alges_napari.core.project.project import Project

    with Project.open(project_dir) as project:
        frames = project.frames
        keys = project.keys[:: max(1, len(project.keys) // n)][:n]
        for key in keys:
            project.accept_label(key, frames.truth(key))
    return keys


def test_init_train_rank_export(tree, tmp_path, capsys) -> None:
    from alges_napari.core.learn.model import load_checkpoint
    from alges_napari.core.project.project import Project

    proj = tmp_path / "proj"
    init = ["init", "--project", str(proj), "--data", str(tree), "--input-size", "64", "64"]
    assert cli.main([*init, "--epochs", "1"]) == 0
    assert "24 frames" in capsys.readouterr().err
    labelled = label_from_truth(proj, 4)

    train = ["train", "--project", str(proj), "--strategy", "alges-seg", "--query-size", "3"]
    assert cli.main([*train, "--threads", "1"]) == 0
    assert "round 1" in capsys.readouterr().err
    with Project.open(proj, readonly=True) as project:
        queue = [e.key for e in project.queue]
        assert len(queue) == 3 and not set(queue) & set(labelled)
        assert len(project.rounds) == 1

    rank = ["rank", "--project", str(proj), "--strategy", "coreset", "--query-size", "5"]
    assert cli.main(rank) == 0
    with Project.open(proj, readonly=True) as project:
        ranked = [e.key for e in project.queue]
        assert len(ranked) == 5 and not set(ranked) & set(labelled)
        assert len(project.rounds) == 1  # ranking trains nothing and records no round
        assert project.prediction(ranked[0]) is not None  # the scoring pass filled the cache

    assert (
        cli.main(["export", "labels", "--project", str(proj), "--out", str(tmp_path / "lab")]) == 0
    )
    assert len(list((tmp_path / "lab").rglob("*.png"))) == len(labelled)
    assert cli.main(["export", "model", "--project", str(proj), "--out", str(tmp_path / "m")]) == 0
    model, spec, _ = load_checkpoint(tmp_path / "m" / "model.safetensors")
    assert spec.num_classes == 13


def test_rank_without_a_model_and_locked_project_exit_2(tree, tmp_path, capsys) -> None:
    from alges_napari.core.project.project import Project

    proj = tmp_path / "proj"
    assert cli.main(["init", "--project", str(proj), "--data", str(tree), "--quiet"]) == 0
    assert cli.main(["rank", "--project", str(proj)]) == 2
    assert "no trained model" in capsys.readouterr().err
    assert cli.main(["train", "--project", str(proj)]) == 2  # nothing labelled yet
    assert "no accepted labels" in capsys.readouterr().err
    with Project.open(proj):
        code = subprocess.run(
            [sys.executable, "-m", "alges_napari.cli", "rank", "--project", str(proj)],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert code.returncode == 2 and "open for writing by another process" in code.stderr
