"""The core must stay headless: importing every core module pulls in no Qt, napari or magicgui."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import alges_napari.core as core

FORBIDDEN = ("qtpy", "napari", "magicgui", "PyQt5", "PyQt6", "PySide2", "PySide6", "vispy")


def test_core_modules_import_without_gui_packages() -> None:
    modules = [m.name for m in pkgutil.walk_packages(core.__path__, "alges_napari.core.")
               if not m.name.endswith("__main__")]
    assert modules, "no core modules found"
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r})\n"
        "print(','.join(bad))\n"
    )
    # A fresh interpreter: this test process may already hold napari from other tests.
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"core imports GUI packages: {out.stdout.strip()}"
