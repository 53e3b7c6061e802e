"""``alges demo``: napari with the ALGES widget docked and sample frames open."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from alges_napari import PLUGIN_NAME as PLUGIN
from alges_napari import WIDGET_NAME as WIDGET
from alges_napari.cli.common import EXIT_OK, say


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


def run_demo(args: argparse.Namespace) -> int:
    """``alges demo``."""
    from alges_napari._qt.demo import run_event_loop, show_demo

    viewer, widget, opened = show_demo(args.data, sample_data_path(), show=not args.no_show)
    layers = ", ".join(layer.name for layer in viewer.layers)
    say(args, f"opened {opened} ({layers}) with the {WIDGET} widget docked")
    if args.no_show:
        getattr(widget, "shutdown", lambda: None)()
        viewer.close()
        return EXIT_OK
    run_event_loop()
    return EXIT_OK
