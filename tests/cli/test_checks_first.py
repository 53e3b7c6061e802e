"""Every ``alges`` argument is checked before any work: refused fast, nothing written (issue 25)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from alges_napari import cli


def listing(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``folder`` with its size and modification time."""
    return {
        p.relative_to(folder).as_posix(): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def labelled(tree: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project over the 24-frame tree with 3 accepted labels and no round."""
    from alges_napari.core.project.project import Project

    proj = tmp_path_factory.mktemp("checks") / "proj"
    init = ["init", "--project", str(proj), "--data", str(tree), "--input-size", "64", "64"]
    assert cli.main([*init, "--epochs", "1", "--quiet"]) == 0
    with Project.open(proj) as project:
        for i in (0, 9, 17):
            project.accept_label(project.keys[i], project.frames.ground_truth(i))
    return proj


@pytest.fixture
def no_training(monkeypatch):
    """Training fails the test if it is ever reached."""

    def trained(*args, **kwargs):
        raise AssertionError("training started before the arguments were checked")

    monkeypatch.setattr("alges_napari.core.learn.holder.iter_train", trained)


def refused(capsys, argv: list[str], folder: Path) -> str:
    """Run ``alges argv``: exit 2, within a second or two, ``folder`` untouched; the message."""
    before = listing(folder) if folder.exists() else None
    t0 = time.perf_counter()
    assert cli.main(argv) == 2
    seconds = time.perf_counter() - t0
    assert seconds < 3.0, f"refused after {seconds:.1f} s"
    assert (listing(folder) if folder.exists() else None) == before  # nothing written
    return capsys.readouterr().err


def test_a_mistyped_strategy_is_refused_before_training(labelled, capsys, no_training) -> None:
    from alges_napari.core.project.project import Project

    err = refused(capsys, ["train", "--project", str(labelled), "--strategy", "alges"], labelled)
    assert "unknown selection strategy 'alges' (did you mean 'alges-seg'?)" in err
    with Project.open(labelled, readonly=True) as project:
        assert project.rounds == [] and project.latest_checkpoint() is None
    assert not list((labelled / "models").iterdir())  # no checkpoint at all


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--device", "gpu"], "unknown device 'gpu'"),
        (["--device", "cuda:x"], "unknown device 'cuda:x'"),
        (["--query-size", "0"], "--query-size must be at least 1, got 0"),
        (["--seed", "-1"], "--seed must be at least 0, got -1"),
        (["--epochs", "0"], "--epochs must be at least 1, got 0"),
        (["--batch-size", "0"], "--batch-size must be at least 1, got 0"),
        (["--candidates", "0"], "--candidates must be at least 1, got 0"),
        (["--engine", "onx"], "invalid choice: 'onx'"),
    ],
)
def test_bad_train_options_are_refused_before_training(
    labelled, capsys, no_training, options, message
) -> None:
    assert message in refused(capsys, ["train", "--project", str(labelled), *options], labelled)


def test_cuda_without_cuda_says_so(labelled, capsys, no_training, monkeypatch) -> None:
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    for command in ("train", "rank"):
        argv = [command, "--project", str(labelled), "--device", "cuda"]
        err = refused(capsys, argv, labelled)
        assert "device 'cuda':" in err and "use cpu, or leave it out" in err


def test_a_bad_engine_setting_is_refused_before_training(
    labelled, capsys, no_training, monkeypatch
) -> None:
    monkeypatch.setenv("ALGES_ENGINE", "onx")
    err = refused(capsys, ["train", "--project", str(labelled)], labelled)
    assert "$ALGES_ENGINE='onx' is not an engine (did you mean 'onnx'?)" in err
    monkeypatch.delenv("ALGES_ENGINE")
    monkeypatch.setattr("alges_napari.core.learn.engine.onnx_available", lambda: False)
    err = refused(capsys, ["train", "--project", str(labelled), "--engine", "onnx"], labelled)
    assert "engine 'onnx' needs ONNX Runtime" in err


def test_missing_projects_and_paths_are_named(tmp_path, capsys, tree) -> None:
    missing = tmp_path / "nope"
    err = refused(capsys, ["train", "--project", str(missing)], tmp_path)
    assert f"project folder {missing} does not exist" in err
    (tmp_path / "plain").mkdir()
    err = refused(capsys, ["rank", "--project", str(tmp_path / "plain")], tmp_path)
    assert "is not an alges project" in err
    typo = tree.parent / (tree.name + "x")
    err = refused(capsys, ["init", "--project", str(tmp_path / "p"), "--data", str(typo)], tmp_path)
    assert f"--data {typo} does not exist (did you mean {tree}?)" in err


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--input-size", "100", "200"], "--input-size 100 200 must be two multiples of 32"),
        (["--size", "0", "64"], "--input-size 0 64 must be two multiples of 32"),
        (["--stride", "0"], "--stride must be at least 1, got 0"),
        (["--epochs", "-3"], "--epochs must be at least 1, got -3"),
        (["--schema", "cholec"], "unknown class schema 'cholec' (did you mean 'cholecseg8k'?)"),
        (["--schema", "mine.json"], "--schema mine.json does not exist"),
        (["--encoder", "resnet19"], "unknown encoder 'resnet19' (did you mean 'resnet18'?)"),
    ],
)
def test_bad_init_options_create_no_project(tree, tmp_path, capsys, options, message) -> None:
    import segmentation_models_pytorch  # noqa: F401  (imported before the clock starts)

    proj = tmp_path / "proj"
    argv = ["init", "--project", str(proj), "--data", str(tree), *options]
    assert message in refused(capsys, argv, tmp_path)
    assert not proj.exists()


def test_init_into_a_full_folder_is_refused(tree, tmp_path, capsys) -> None:
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "notes.txt").write_text("mine")
    err = refused(
        capsys, ["init", "--project", str(tmp_path / "full"), "--data", str(tree)], tmp_path
    )
    assert "exists and is not an empty folder" in err


def test_export_into_a_full_folder_is_refused(labelled, tmp_path, capsys) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    argv = ["export", "labels", "--project", str(labelled), "--out", str(out)]
    assert f"--out {out} exists and is not an empty folder" in refused(capsys, argv, tmp_path)
    argv = ["export", "model", "--project", str(labelled), "--out", str(tmp_path / "m")]
    assert "--round must be at least 1, got 0" in refused(capsys, [*argv, "--round", "0"], tmp_path)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--strategy", "entropy,alges-sg"], "unknown selection strategy 'alges-sg'"),
        (["--device", "cpuu"], "unknown device 'cpuu' (did you mean 'cpu'?)"),
        (["--input-size", "224", "225"], "--input-size 224 225 must be two multiples of 32"),
        (["--encoder", "resnet1"], "unknown encoder 'resnet1'"),
        (["--arch", "unet++"], "unknown model architecture 'unet++'"),
    ],
)
def test_bad_simulate_options_leave_no_folder(tree, tmp_path, capsys, options, message) -> None:
    import segmentation_models_pytorch  # noqa: F401  (imported before the clock starts)

    out = tmp_path / "exp"
    argv = ["simulate", "--data", str(tree), "--out", str(out), *options]
    assert message in refused(capsys, argv, tmp_path)
    assert not out.exists()
