"""``alges export labels --format nnunet|coco|cvat-mask`` and ``alges import``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from alges_napari import cli
from alges_napari.core.project.project import Project

H, W = 48, 64


@pytest.fixture
def frames(tmp_path: Path) -> Path:
    root = tmp_path / "frames"
    root.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        Image.fromarray(rng.integers(0, 256, (H, W, 3), dtype=np.uint8)).save(root / f"f{i}.png")
    return root


@pytest.mark.parametrize("fmt", ["nnunet", "coco", "cvat-mask"])
def test_export_then_import(frames: Path, tmp_path: Path, fmt: str, capsys) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    for p in (src, dst):
        assert cli.main(["init", "--project", str(p), "--data", str(frames), "--quiet"]) == 0
    mask = np.arange(H * W, dtype=np.int64).reshape(H, W) % 5
    with Project.open(src) as proj:
        proj.accept_label("f1", mask.astype(np.uint8))
    out = tmp_path / "out"
    args = ["export", "labels", "--project", str(src), "--out", str(out), "--format", fmt]
    assert cli.main(args) == 0
    args = ["import", "--project", str(dst), "--format", fmt, "--from", str(out)]
    assert cli.main(args) == 0
    assert "imported 1 label(s)" in capsys.readouterr().err
    assert (dst / "labels" / "f1.png").read_bytes() == (src / "labels" / "f1.png").read_bytes()
    # again: the frame is labelled now, so the import refuses, says so, and exits 2
    assert cli.main(args) == 2
    err = capsys.readouterr().err
    assert "already labelled, kept (use --overwrite to replace): f1" in err
    assert cli.main([*args, "--overwrite", "--quiet"]) == 0


def test_import_reports_what_it_could_not_import(frames: Path, tmp_path: Path, capsys) -> None:
    proj = tmp_path / "p"
    assert cli.main(["init", "--project", str(proj), "--data", str(frames), "--quiet"]) == 0
    masks = tmp_path / "in" / "masks"
    masks.mkdir(parents=True)
    Image.fromarray(np.full((H, W), 2, np.uint8)).save(masks / "f0.png")
    Image.fromarray(np.full((H, W), 2, np.uint8)).save(masks / "other.png")
    Image.fromarray(np.full((H, W), 99, np.uint8)).save(masks / "f2.png")
    args = ["import", "--project", str(proj), "--format", "masks", "--from", str(masks.parent)]
    assert cli.main(args) == 2
    err = capsys.readouterr().err
    assert "imported 1 label(s); 1 matched no frame; 1 outside the schema" in err
    assert f"matched no frame of the project: {masks / 'other.png'}" in err
    assert f"{masks / 'f2.png'}: class ids 99 are outside the schema" in err
    assert cli.main(["import", "--project", str(proj), "--format", "coco", "--from",
                     str(tmp_path / "none.json")]) == 2  # fmt: skip
    assert "none.json does not exist" in capsys.readouterr().err
