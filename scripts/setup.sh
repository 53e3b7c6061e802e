#!/usr/bin/env bash
# Set up alges-napari on a fresh machine: .venv with PyTorch, napari (PyQt5 and PyQt6) and the
# project in editable mode with its test extras, then (Linux) the system libraries napari's Qt
# viewer needs, with Xvfb and xauth for headless runs and xdpyinfo for vispy: installed with
# apt-get as root, or through sudo when sudo works without a password; otherwise it stops with
# the one command to run.
# Safe to run again; it only adds what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
fi
# torch/torchvision first and pinned: this pair installs from the machine's local wheel store;
# an unpinned resolve would fetch a multi-GB build from the network.
if ! .venv/bin/python -c "import torch, torchvision" 2>/dev/null; then
    .venv/bin/pip install -q torch==2.14.1 torchvision==0.29.1
fi
.venv/bin/pip install -q -e ".[pyqt5,pyqt6,testing]"
.venv/bin/python -c "import alges_napari, cv2, torch, napari; print('alges-napari ready: torch', torch.__version__, '| napari', napari.__version__)"

# System libraries after the venv, because what is missing is read from the installed Qt
# plugins themselves (scripts/qt_system_libs.sh says why ldd and not dpkg). macOS and Windows
# wheels carry everything Qt needs.
if [ "$(uname -s)" != Linux ]; then
    exit 0
fi
# shellcheck source=scripts/qt_system_libs.sh
source scripts/qt_system_libs.sh
qt_missing
if [ ${#QT_MISSING_PACKAGES[@]} -eq 0 ] && [ ${#QT_UNKNOWN_SONAMES[@]} -eq 0 ]; then
    echo "system libraries for the Qt viewer: all present"
    exit 0
fi
if [ ${#QT_MISSING_PACKAGES[@]} -gt 0 ]; then
    echo "system libraries for the Qt viewer: missing ${QT_MISSING_SONAMES[*]:-}${QT_MISSING_SONAMES[*]:+ }-> installing ${QT_MISSING_PACKAGES[*]}"
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "setup.sh: no apt-get here: install the packages that provide ${QT_MISSING_SONAMES[*]:-} (and Xvfb, xauth, xdpyinfo) with this system's package manager, then run bash scripts/setup.sh again" >&2
        exit 1
    fi
    if [ "$(id -u)" -eq 0 ]; then
        SUDO=()
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        SUDO=(sudo -n)
    else
        echo "setup.sh: installing system packages needs root; run this, then bash scripts/setup.sh again:" >&2
        echo "  $(qt_install_command "${QT_MISSING_PACKAGES[@]}")" >&2
        exit 1
    fi
    # env inside sudo: sudo drops the caller's environment, and apt must not stop to ask.
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${QT_MISSING_PACKAGES[@]}" >/dev/null
    qt_missing
fi
if [ ${#QT_MISSING_SONAMES[@]} -gt 0 ] || [ ${#QT_MISSING_PACKAGES[@]} -gt 0 ]; then
    echo "setup.sh: the Qt viewer still lacks: ${QT_MISSING_SONAMES[*]:-} ${QT_MISSING_PACKAGES[*]:-}" >&2
    if [ ${#QT_UNKNOWN_SONAMES[@]} -gt 0 ]; then
        echo "  (scripts/qt_system_libs.sh knows no package for ${QT_UNKNOWN_SONAMES[*]}: install the one that provides it)" >&2
    fi
    echo "  then run bash scripts/setup.sh again" >&2
    exit 1
fi
echo "system libraries for the Qt viewer: installed"
