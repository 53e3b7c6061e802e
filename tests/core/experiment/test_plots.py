"""The figures: Dice against labels and Dice against cumulative correction, written as PNGs."""

from __future__ import annotations

import imageio.v3 as iio
import pytest

from alges_napari.core.errors import AlgesError
from alges_napari.core.experiment import curves, plots


def drawn(path) -> bool:
    image = iio.imread(path)
    assert image.shape[:2] == (540, 840)  # 7 x 4.5 inches at 120 dpi
    return image[..., :3].std() > 10


def test_learning_curves_png(results_files, tmp_path) -> None:
    lc = curves.learning_curves(results_files.old())
    png = plots.plot_curves(lc, tmp_path / "out" / "curves.png")
    assert png == tmp_path / "out" / "curves.png" and drawn(png)
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["curves.png"]  # no temp file left
    with pytest.raises(AlgesError, match="no curves"):
        plots.plot_curves({}, tmp_path / "empty.png")


def test_full_pool_line_and_correction_png(results_files, tmp_path) -> None:
    rows = results_files.new()
    lc = curves.learning_curves(rows)
    full = curves.full_pool_score(rows)
    with_line = plots.plot_curves(lc, tmp_path / "with.png", full_pool=full)
    without = plots.plot_curves(lc, tmp_path / "without.png")
    assert drawn(with_line) and (iio.imread(with_line) != iio.imread(without)).any()
    costs = curves.learning_curves(rows, curves.CORRECTION_COLUMN)
    png = plots.plot_correction_curves(lc, costs, tmp_path / "correction.png", full_pool=full)
    assert drawn(png)
    old = curves.learning_curves(results_files.old())
    with pytest.raises(AlgesError, match="no correction"):
        plots.plot_correction_curves(old, {}, tmp_path / "x.png")


def test_pixel_scale() -> None:
    assert plots.pixel_scale(2_500_000) == (1e6, "millions of pixels")
    assert plots.pixel_scale(40_000) == (1e3, "thousands of pixels")
    assert plots.pixel_scale(12) == (1.0, "pixels")


def test_alges_plot_writes_the_figures_and_summary(results_files, tmp_path, capsys) -> None:
    from alges_napari import cli

    new = results_files.write(results_files.new_layout(), results_files.NEW_COLUMNS)
    assert cli.main(["plot", "--results", str(new), "--resamples", "200", "--quiet"]) == 0
    table = capsys.readouterr().out
    assert table.startswith("| strategy |") and "fraction of full-pool Dice" in table
    names = {"learning_curves.png", "correction_curves.png", "summary.csv", "summary.md"}
    assert names <= {p.name for p in tmp_path.iterdir()}
    old = tmp_path / "old"
    old.mkdir()
    results_files.folder = old
    results_files.write()
    assert cli.main(["plot", "--results", str(old), "--quiet"]) == 0
    assert "fraction of full-pool Dice" not in capsys.readouterr().out
    assert {p.name for p in old.iterdir()} == names - {"correction_curves.png"} | {"results.csv"}
    assert cli.main(["plot", "--results", str(old), "--resamples", "0"]) == 2
