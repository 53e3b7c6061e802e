"""The viewer side of ``alges demo``: napari with the ALGES widget docked and frames open."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import napari

from alges_napari import PLUGIN_NAME as PLUGIN
from alges_napari import SAMPLE_KEY as SAMPLE
from alges_napari import WIDGET_NAME as WIDGET
from alges_napari.core.errors import AlgesError


def open_demo_data(viewer: Any, data: str | None, fallback: Path | None) -> str:
    """Open ``data``, the ``fallback`` folder or a generated clip in ``viewer``; say which."""
    path = Path(data) if data else fallback
    if data and not path.exists():
        raise AlgesError(f"--data {data} does not exist")
    if path is not None:
        viewer.open(str(path), plugin=PLUGIN)
        return str(path)
    viewer.open_sample(PLUGIN, SAMPLE)
    return "a generated synthetic clip"


def dock_widget(viewer: Any) -> Any:
    """Dock the ALGES widget as ``napari -w alges-napari "ALGES Active Learning"`` does.

    When npe2 does not list the widget (a stale manifest cache, an install without it), the
    widget is built and docked directly under the same name, so the demo still shows it.
    """
    try:
        _, widget = viewer.window.add_plugin_dock_widget(PLUGIN, WIDGET)
    except KeyError:
        from alges_napari._qt.widget import AlgesWidget

        widget = AlgesWidget(viewer)
        viewer.window.add_dock_widget(widget, name=WIDGET)
    return widget


def show_demo(data: str | None, fallback: Path | None, show: bool) -> tuple[Any, Any, str]:
    """Build a viewer with the widget docked and ``data`` (else ``fallback``, else a generated
    clip) open; return (viewer, widget, what was opened). The viewer is closed on failure."""
    viewer = napari.Viewer(show=show, title="alges-napari demo")
    try:
        widget = dock_widget(viewer)
        opened = open_demo_data(viewer, data, fallback)
    except BaseException:
        viewer.close()
        raise
    return viewer, widget, opened


def run_event_loop() -> None:
    """Hand control to napari's event loop until the window closes."""
    napari.run()
