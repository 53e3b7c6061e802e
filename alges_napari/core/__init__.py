"""Headless core of alges-napari.

Pure Python, numpy and torch. Nothing in this package may import Qt, napari or magicgui;
an import-linter contract in ``pyproject.toml`` and ``tests/core/test_headless.py`` check it.
"""
