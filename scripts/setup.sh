#!/usr/bin/env bash
# Set up alges-napari on a fresh machine: .venv with PyTorch, napari (PyQt5 and PyQt6) and the
# project in editable mode with its test extras. Safe to run again; it only adds what is missing.
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
