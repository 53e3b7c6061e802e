"""Measuring a tree's class statistics beside the published CholecSeg8k figures."""

from __future__ import annotations

import json

import numpy as np
import pytest

from alges_napari.core.data.synthetic.clips import write_frame_files
from alges_napari.core.data.synthetic.stats import format_report, main, measure_tree
from alges_napari.core.errors import AlgesError


@pytest.fixture
def known_tree(tmp_path):
    """Two videos, three clips, known masks: liver everywhere, the ligament in one clip."""
    root = tmp_path / "tree"
    masks = {
        "video01/video01_00080": [2, 2],  # whole-frame liver, twice
        "video01/video01_01580": [2, 12],  # then a frame with a ligament stripe
        "video02/video02_00080": [2],
    }
    for folder, kinds in masks.items():
        (root / folder).mkdir(parents=True)
        start = int(folder[-5:])
        for i, extra in enumerate(kinds):
            mask = np.full((32, 32), 2, np.uint8)
            mask[:, :8] = extra
            write_frame_files(root / folder / f"frame_{start + i}_endo",
                              np.zeros((32, 32, 3), np.uint8), mask)
    return root


def test_measure_tree_counts_frames_pixels_clips_and_videos(known_tree) -> None:
    stats = measure_tree(known_tree)
    assert stats.frames == 5 and len(stats.clips) == 3 and stats.videos == 2
    assert stats.frames_with[2] == 5 and stats.frames_with[12] == 1
    assert stats.pixels[12] == 32 * 8 and stats.pixels.sum() == 5 * 32 * 32
    assert stats.clips_with()[12] == 1 and stats.videos_with()[12] == 1
    assert stats.clips_with()[2] == 3 and stats.videos_with()[2] == 2


def test_report_prints_measures_beside_targets(known_tree) -> None:
    text = format_report(measure_tree(known_tree), per_clip=True)
    liver = next(line for line in text.splitlines() if line.startswith("Liver "))
    assert "100.0" in liver and "21.270" in liver  # measured frames, published pixel share
    ligament = next(line for line in text.splitlines() if line.startswith("Liver Ligament"))
    assert "1/3" in ligament and ">=3/101" in ligament
    assert "video01/video01_01580" in text and " 5 " in text  # half its frames: 5 tenths


def test_command_line_reports_a_benchmark_tree(tmp_path, capsys) -> None:
    from alges_napari.core.data.synthetic.command import main as generate

    out = tmp_path / "bench"
    generate(["--preset", "benchmark", "--out", str(out), "--videos", "2",
              "--clips-per-video", "2", "--frames", "3", "--size", "32", "48"])
    capsys.readouterr()
    assert main([str(out), "--json", str(tmp_path / "s.json")]) == 0
    text = capsys.readouterr().out
    assert "12 frames, 4 clips, 2 videos" in text
    assert "clip kinds:" in text and "hard frames:" in text
    saved = json.loads((tmp_path / "s.json").read_text())
    assert saved["frames"] == 12 and len(saved["frames_with"]) == 13


def test_a_tree_without_masks_is_an_error(tmp_path) -> None:
    with pytest.raises(AlgesError, match="no frame"):
        measure_tree(tmp_path)
