"""``alges demo``: a napari viewer with the ALGES widget docked and sample frames open."""

from __future__ import annotations

import napari
import pytest

from alges_napari import cli
from alges_napari.cli import demo

# The demo docks the ALGES widget; until that widget (issue 5) is part of the package, there is
# nothing to dock and these tests cannot say anything true.
pytest.importorskip("alges_napari._qt.widget", reason="the ALGES dock widget is not built yet")


@pytest.fixture
def captured_run(monkeypatch):
    """Replace napari's event loop by a look at the viewer the demo built, then close it."""
    seen: dict = {}

    def fake_run(*args, **kwargs):
        viewer = napari.current_viewer()
        seen["layers"] = [layer.name for layer in viewer.layers]
        seen["docks"] = list(viewer.window._dock_widgets)
        seen["visible"] = viewer.window._qt_window.isVisible()
        viewer.close()

    monkeypatch.setattr(napari, "run", fake_run)
    return seen


def test_demo_docks_the_widget_over_a_generated_clip(captured_run, monkeypatch) -> None:
    monkeypatch.setattr(demo, "sample_data_path", lambda: None)  # as from an installed wheel
    assert cli.main(["demo", "--quiet"]) == 0
    assert captured_run["layers"] == ["synthetic clip (SYNTHETIC)", "ground truth"]
    assert any(demo.WIDGET in name for name in captured_run["docks"])
    assert captured_run["visible"]


def test_demo_opens_given_frames(captured_run, tmp_path) -> None:
    from alges_napari.core.data.synthetic import write_cholecseg8k_tree

    tree = write_cholecseg8k_tree(tmp_path / "tree", n_clips=1, frames_per_clip=3, size=(48, 64))
    assert cli.main(["demo", "--data", str(tree), "--quiet"]) == 0
    assert captured_run["layers"]  # the plugin's reader opened the tree
    assert any(demo.WIDGET in name for name in captured_run["docks"])


def test_demo_no_show_and_bad_data(capsys, tmp_path) -> None:
    assert cli.main(["demo", "--no-show"]) == 0
    assert "widget docked" in capsys.readouterr().err
    assert cli.main(["demo", "--no-show", "--data", str(tmp_path / "missing")]) == 2
    assert "does not exist" in capsys.readouterr().err
