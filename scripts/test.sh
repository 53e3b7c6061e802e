#!/usr/bin/env bash
# Run every check CI runs: lint, the import contract, the headless and viewer tests under PyQt5,
# the viewer tests again under PyQt6, and the manifest from an editable install and a wheel.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONDONTWRITEBYTECODE=1

.venv/bin/ruff check --no-cache alges_napari tests benchmarks scripts
.venv/bin/lint-imports
.venv/bin/npe2 validate alges-napari
bash scripts/check_wheel.sh

.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
# napari and pytest-qt both follow QT_API; the same venv carries both bindings.
QT_API=pyqt6 PYTEST_QT_API=pyqt6 .venv/bin/python -m pytest -q -p no:cacheprovider tests/qt "$@"
