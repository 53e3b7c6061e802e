"""``alges demo``: napari with the ALGES widget docked and sample frames open."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..core.errors import AlgesError
from .common import EXIT_OK, say

PLUGIN = "alges-napari"
WIDGET = "ALGES Active Learning"
SAMPLE = "synthetic_clip"


def add_parsers(sub: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Register ``demo``."""
    p = sub.add_parser(
        "demo",
        parents=parents,
        help="open napari with the ALGES widget docked and sample data loaded",
        description=f'Start napari with the "{WIDGET}" widget docked (like `napari -w {PLUGIN} '
        f'"{WIDGET}"`) and sample frames open: --data if given, else the repository\'s '
        "sample_data/ folder when present, else a synthetic clip generated on the fly.",
    )
    p.add_argument("--data", help="frames to open instead of the sample data")
    p.add_argument(
        "--no-show",
        action="store_true",
        help="build the viewer hidden, report what it holds, and close it (for checks)",
    )
    p.set_defaults(func=run_demo)


def sample_data_path() -> Path | None:
    """The bundled ``sample_data`` folder (its CholecSeg8k tree if it has one), or None.

    Looked for in the current folder, then beside the package (a source checkout).
    """
    for base in (Path.cwd(), Path(__file__).resolve().parents[2]):
        folder = base / "sample_data"
        if folder.is_dir() and any(folder.iterdir()):
            tree = folder / "cholecseg8k"
            return tree if tree.is_dir() else folder
    return None


def open_demo_data(viewer: Any, data: str | None) -> str:
    """Open ``data``, the sample folder or a generated clip in ``viewer``; say which."""
    path = Path(data) if data else sample_data_path()
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
        from .._widget import AlgesWidget

        widget = AlgesWidget(viewer)
        viewer.window.add_dock_widget(widget, name=WIDGET)
    return widget


def run_demo(args: argparse.Namespace) -> int:
    """``alges demo``."""
    import napari

    viewer = napari.Viewer(show=not args.no_show, title="alges-napari demo")
    try:
        widget = dock_widget(viewer)
        opened = open_demo_data(viewer, args.data)
    except BaseException:
        viewer.close()
        raise
    layers = ", ".join(layer.name for layer in viewer.layers)
    say(args, f"opened {opened} ({layers}) with the {WIDGET} widget docked")
    if args.no_show:
        getattr(widget, "shutdown", lambda: None)()
        viewer.close()
        return EXIT_OK
    napari.run()
    return EXIT_OK
