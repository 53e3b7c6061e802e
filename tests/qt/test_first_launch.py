"""The first ten minutes: no warning of ours (the widget uses public napari API only)."""

from __future__ import annotations

import warnings

from alges_napari import PLUGIN_NAME, WIDGET_NAME
from tests.qt.conftest import TINY


def test_the_docked_widget_uses_public_napari_api_only(
    make_napari_viewer, sample_tree, tmp_path
) -> None:
    """A docked plugin widget gets a viewer proxy that warns on napari's private attributes."""
    viewer = make_napari_viewer()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _, widget = viewer.window.add_plugin_dock_widget(PLUGIN_NAME, WIDGET_NAME)
        try:
            project = widget.create_project(str(sample_tree), str(tmp_path / "p"), **TINY)
            widget.go_to_key(project.queue[1].key)
            widget.layers.annotation.paint((5, 5), 1)
            assert widget.accept() is not None
            widget.next_frame()
            widget.annotate.heat.setChecked(True)
            widget.close_project()
        finally:
            widget.shutdown()
    ours = [
        f"{w.category.__name__}: {w.message} ({w.filename}:{w.lineno})"
        for w in caught
        if issubclass(w.category, DeprecationWarning | FutureWarning)
        or "alges_napari" in w.filename
    ]
    assert ours == []
