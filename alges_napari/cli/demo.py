"""``alges demo``: napari with the ALGES widget docked and sample frames open."""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from alges_napari import PLUGIN_NAME as PLUGIN
from alges_napari import WIDGET_NAME as WIDGET
from alges_napari.cli.common import EXIT_OK, say
from alges_napari.core.errors import AlgesError

#: Qt platform plugins that draw without a display server (QT_QPA_PLATFORM names them).
HEADLESS_PLATFORMS = frozenset(
    {"offscreen", "minimal", "minimalegl", "eglfs", "linuxfb", "vnc", "vkkhrdisplay"}
)
#: What the Qt check runs in a child Python: napari's own choice of binding (qtpy follows QT_API)
#: starting a QApplication and an OpenGL context (napari's canvas needs one), the steps at which
#: Qt aborts or vispy fails when they cannot.
QT_START_PROBE = """
import sys
from qtpy.QtGui import QOffscreenSurface, QOpenGLContext
from qtpy.QtWidgets import QApplication
app = QApplication(["alges-demo-check"])
surface = QOffscreenSurface()
surface.create()
context = QOpenGLContext()
if not (context.create() and context.makeCurrent(surface)):
    sys.exit("no OpenGL context (napari draws its canvas with OpenGL)")
"""
#: Where each binding's wheel keeps Qt's xcb platform plugin, in qtpy's order of preference.
XCB_PLUGINS = {
    "pyqt5": ("PyQt5", "Qt5/plugins/platforms/libqxcb.so"),
    "pyside2": ("PySide2", "Qt/plugins/platforms/libqxcb.so"),
    "pyqt6": ("PyQt6", "Qt6/plugins/platforms/libqxcb.so"),
    "pyside6": ("PySide6", "Qt/plugins/platforms/libqxcb.so"),
}
PROBE_TIMEOUT_S = 60.0


def add_parsers(sub: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Register ``demo``."""
    p = sub.add_parser(
        "demo",
        parents=parents,
        help="open napari with the ALGES widget docked and sample data loaded",
        description=f'Start napari with the "{WIDGET}" widget docked (like `napari -w {PLUGIN} '
        f'"{WIDGET}"`) and sample frames open: --data if given, else the repository\'s '
        "sample_data/ folder when present, else a synthetic clip generated on the fly. "
        "Where Qt cannot start (no display, a display that does not answer, a system library "
        "missing) it says why in one line and exits 2.",
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


def missing_display(environ: Mapping[str, str], platform: str = sys.platform) -> str | None:
    """Why no window can open with ``environ``'s settings (one line), or None when one may.

    On Linux and the BSDs a window needs an X server (``DISPLAY``) or a Wayland compositor
    (``WAYLAND_DISPLAY``), unless ``QT_QPA_PLATFORM`` names a platform that needs neither
    (``offscreen``, ``eglfs``, ...). macOS and Windows always have their own.

    Parameters
    ----------
    environ : Mapping[str, str]
        The environment Qt would start in.
    platform : str
        ``sys.platform`` of that machine.

    Returns
    -------
    str or None
        The reason, ready for an error line, or None.
    """
    if platform == "darwin" or platform.startswith(("win", "cygwin")):
        return None
    # "wayland;xcb" is a list of fallbacks, "offscreen:fontengine=..." a name with options.
    names = {p.split(":")[0].strip() for p in environ.get("QT_QPA_PLATFORM", "").split(";")}
    if names & HEADLESS_PLATFORMS:
        return None
    if environ.get("DISPLAY") or environ.get("WAYLAND_DISPLAY"):
        return None
    return (
        "no display: DISPLAY and WAYLAND_DISPLAY are unset; run it in a desktop session, "
        "over ssh -X, or under a virtual display (`xvfb-run -a alges demo`)"
    )


def _qt_app_running() -> bool:
    """Whether this process already has a QApplication (a test, an embedding host), looked up
    without importing any Qt binding that is not loaded yet."""
    for binding in ("PyQt5", "PyQt6", "PySide2", "PySide6"):
        widgets = sys.modules.get(f"{binding}.QtWidgets")
        if widgets is not None and widgets.QApplication.instance() is not None:
            return True
    return False


def qt_start_problem(environ: Mapping[str, str] | None = None) -> str | None:
    """Why Qt cannot start here (one line), or None when it can; decided before this process
    touches Qt, because Qt that cannot start aborts the whole process (exit 134, no message of
    ours).

    First :func:`missing_display` on the environment, then a child Python that starts a
    QApplication as napari would (a display that does not answer, a system library the
    platform plugin needs): its abort is the child's, and its message is kept.

    Parameters
    ----------
    environ : Mapping[str, str], optional
        The environment to check (default: this process's).

    Returns
    -------
    str or None
        The reason, ready for an error line, or None.
    """
    env = dict(os.environ if environ is None else environ)
    reason = missing_display(env)
    if reason is not None or _qt_app_running():
        return reason
    try:
        child = subprocess.run(
            [sys.executable, "-c", QT_START_PROBE],
            env=env,
            capture_output=True,
            text=True,
            timeout=PROBE_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        return f"Qt did not start within {PROBE_TIMEOUT_S:.0f} s (is the display answering?)"
    if child.returncode == 0:
        return None
    lines = [line.strip() for line in child.stderr.splitlines() if line.strip()]
    platform = env.get("QT_QPA_PLATFORM", "xcb") or "xcb"
    plugin = xcb_plugin(env.get("QT_API", ""))
    if "xcb" in platform and plugin is not None:
        # Qt's own words mislead here: Qt 6 suggests libxcb-cursor0 whatever is missing, and a
        # binding whose QtCore cannot load reads "No Qt bindings could be found". The loader knows.
        missing = unresolved_libraries(plugin)
        if missing:
            return (
                f"Qt cannot load its xcb platform plugin: the loader cannot find "
                f"{', '.join(missing)} (bash scripts/setup.sh installs them)"
            )
    # Otherwise Qt's own first complaint names the cause ("could not connect to display :5");
    # the lines after it are generic.
    said = next((line for line in lines if "qt.qpa" in line or "Could not" in line), None)
    said = said or (lines[-1] if lines else f"exit status {child.returncode}")
    where = env.get("QT_QPA_PLATFORM") or env.get("DISPLAY") or env.get("WAYLAND_DISPLAY") or "?"
    return f"Qt cannot start on {where}: {said}"


def xcb_plugin(qt_api: str = "") -> Path | None:
    """The xcb platform plugin of the binding qtpy would pick (``qt_api`` as ``QT_API``, else
    the first one installed), found without importing it; None when there is none."""
    wanted = qt_api.lower()
    for api, (package, relative) in XCB_PLUGINS.items():
        if wanted in XCB_PLUGINS and api != wanted:
            continue
        spec = importlib.util.find_spec(package)
        if spec is not None and spec.submodule_search_locations:
            path = Path(list(spec.submodule_search_locations)[0]) / relative
            if path.is_file():
                return path
    return None


def unresolved_libraries(library: Path) -> list[str]:
    """The shared libraries ``library`` needs that the dynamic loader cannot find (``ldd``'s
    "not found"); empty when there is no such file or no ``ldd``."""
    if not library.is_file():
        return []
    try:
        out = subprocess.run(
            ["ldd", str(library)], capture_output=True, text=True, timeout=30
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return []
    return sorted({line.split()[0] for line in out.splitlines() if "=> not found" in line})


def run_demo(args: argparse.Namespace) -> int:
    """``alges demo``."""
    reason = qt_start_problem()
    if reason is not None:
        raise AlgesError(reason)
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
