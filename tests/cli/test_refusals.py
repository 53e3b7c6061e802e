"""Bad input gets a clear answer from ``alges`` and leaves nothing behind (issue 12)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from alges_napari import cli

TINY = ["--epochs", "1", "--batch-size", "4", "--input-size", "64", "64", "--threads", "1"]
SMALL_RUN = ["--init", "3", "--query-size", "2", "--test-size", "0.25", "--no-full-pool", *TINY]


def rows_of(out: Path) -> list[dict[str, str]]:
    import csv

    with open(out / "results.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def init_project(tree: Path, proj: Path) -> None:
    args = ["init", "--project", str(proj), "--data", str(tree), "--input-size", "64", "64"]
    assert cli.main([*args, "--epochs", "1", "--quiet"]) == 0


# ---------------------------------------------------------------- 7: nothing to learn from


def test_train_refuses_labels_without_a_labelled_pixel(tree, tmp_path, capsys) -> None:
    from alges_napari.core.errors import AlgesError
    from alges_napari.core.progress import run_to_end
    from alges_napari.core.project.files import encode_index_png
    from alges_napari.core.project.project import Project
    from alges_napari.core.session import ActiveLearningSession

    proj = tmp_path / "proj"
    init_project(tree, proj)
    with Project.open(proj) as project:
        blank = np.full(project.frames.shape, 255, np.uint8)
        for key in project.keys[:2]:
            painted = blank.copy()
            painted[0, 0] = 1
            path = project.accept_label(key, painted)
            # An all-ignore label, as an empty accept of an older version stored it.
            path.write_bytes(encode_index_png(blank))
        with pytest.raises(AlgesError, match="no labelled pixel"):
            run_to_end(ActiveLearningSession(project, device="cpu").run_round())

    assert cli.main(["train", "--project", str(proj), "--threads", "1", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "no labelled pixel" in err and "2 accepted training label" in err
    with Project.open(proj, readonly=True) as project:
        assert project.rounds == [] and project.latest_checkpoint() is None  # nothing trained


# ---------------------------------------------------------------- 16: rejected simulations


def test_simulate_rejected_before_any_step_leaves_nothing(tree, tmp_path, capsys) -> None:
    above = tmp_path / "data"
    shutil.copytree(tree, above / "clips")  # --data one folder above the videos
    out = tmp_path / "exp"
    base = ["simulate", "--strategy", "random", "--repeats", "1", "--rounds", "0", *SMALL_RUN]
    assert cli.main([*base, "--data", str(above), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "one folder lower" in err and f"--data {above / 'clips'}" in err
    assert "--init" not in err  # no advice to shrink the experiment
    assert not out.exists()

    too_big = [*base, "--data", str(above / "clips"), "--init", "30"]
    assert cli.main([*too_big, "--out", str(out), "--quiet"]) == 2
    assert "init + rounds * query" in capsys.readouterr().err and not out.exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    assert cli.main([*too_big, "--out", str(empty), "--quiet"]) == 2
    assert list(empty.iterdir()) == []  # a folder that was there stays, untouched

    assert cli.main([*base, "--data", str(above / "clips"), "--out", str(out), "--quiet"]) == 0
    assert [(r["strategy"], r["round"]) for r in rows_of(out)] == [("random", "0")]


def test_simulate_failing_in_its_first_step_removes_its_folder(tree, tmp_path, monkeypatch):
    from alges_napari.core.experiment.pool import Runner

    def out_of_memory(*args, **kwargs):
        raise RuntimeError("CUDA out of memory")
        yield  # a generator, as Runner.train

    monkeypatch.setattr(Runner, "train", out_of_memory)
    out = tmp_path / "exp"
    args = ["simulate", "--data", str(tree), "--strategy", "random", "--repeats", "1"]
    assert cli.main([*args, "--rounds", "0", *SMALL_RUN, "--out", str(out), "--quiet"]) == 1
    assert not out.exists()  # its split was written, then removed with the folder


# ---------------------------------------------------------------- 17: repeated --strategy


def test_repeated_strategy_options_add_up_in_simulate(tree, tmp_path) -> None:
    from alges_napari.cli.experiment import _strategies
    from alges_napari.core.experiment.config import DEFAULT_STRATEGIES

    def parsed(*argv: str) -> tuple[str, ...]:
        args = cli.build_parser().parse_args(["simulate", "--data", "x", *argv])
        return _strategies(args.strategy)

    assert parsed("--strategy", "entropy", "--strategy", "random") == ("entropy", "random")
    assert parsed("--strategy", "entropy,coreset", "random", "--strategy", "entropy") == (
        "entropy",
        "coreset",
        "random",
    )
    assert parsed() == DEFAULT_STRATEGIES

    out = tmp_path / "exp"
    args = ["simulate", "--data", str(tree), "--strategy", "entropy", "--strategy", "random"]
    assert cli.main([*args, "--repeats", "1", "--rounds", "0", *SMALL_RUN, "--out", str(out)]) == 0
    assert sorted(r["strategy"] for r in rows_of(out)) == ["entropy", "random"]


@pytest.mark.parametrize("command", ["train", "rank"])
def test_one_strategy_commands_refuse_two(command, tmp_path, capsys) -> None:
    proj = str(tmp_path / "proj")
    twice = [command, "--project", proj, "--strategy", "entropy", "--strategy", "random"]
    assert cli.main(twice) == 2
    err = capsys.readouterr().err
    assert "one strategy per run" in err and "'entropy' and 'random'" in err
    assert cli.main([command, "--project", proj, "--strategy", "entropy,random"]) == 2
    assert "one strategy per run" in capsys.readouterr().err


# ---------------------------------------------------------------- 18: nothing to export


@pytest.mark.parametrize("fmt", ["index", "cholecseg8k"])
def test_export_labels_without_labels_exits_2_and_writes_nothing(tree, tmp_path, capsys, fmt):
    proj = tmp_path / "proj"
    init_project(tree, proj)
    out = tmp_path / "labels"
    export = ["export", "labels", "--project", str(proj), "--out", str(out), "--format", fmt]
    assert cli.main(export) == 2
    assert "no accepted labels: nothing to export" in capsys.readouterr().err
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["proj"]  # no staging folder either


# ---------------------------------------------------------------- 19: warnings


def test_a_warning_is_one_readable_line(tmp_path) -> None:
    import imageio.v3 as iio

    frames = tmp_path / "frames"
    frames.mkdir()
    for i in range(3):
        iio.imwrite(frames / f"frame_{i}.png", np.zeros((32, 32, 3), np.uint8))
    (frames / "frame_3.png").write_bytes(b"not a png")
    done = subprocess.run(
        [sys.executable, "-m", "alges_napari.cli", "init", "--project", str(tmp_path / "p")]
        + ["--data", str(frames)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    warned = [line for line in lines if "unreadable" in line]
    assert len(warned) == 1 and warned[0].startswith("warning: ")
    assert "frame_3.png" in warned[0]
    assert not [line for line in lines if "Warning:" in line or "warnings.warn" in line]
    assert not [line for line in lines if line.startswith(" ")]  # no source line under it
