"""Bad input gets a clear answer from ``alges`` and leaves nothing behind (issue 12)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from alges_napari import cli

TINY = ["--epochs", "1", "--batch-size", "4", "--size", "64", "64", "--threads", "1"]
SMALL_RUN = ["--init", "3", "--query", "2", "--test-size", "0.25", "--no-full-pool", *TINY]


def rows_of(out: Path) -> list[dict[str, str]]:
    import csv

    with open(out / "results.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def init_project(tree: Path, proj: Path) -> None:
    args = ["init", "--project", str(proj), "--data", str(tree), "--size", "64", "64"]
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
