#!/usr/bin/env bash
# Run every check CI runs: that Qt starts (both bindings, on Xvfb), lint, the import contract,
# the wheel/manifest check, the headless and viewer tests under PyQt5, and the viewer tests again
# under PyQt6. Extra arguments go to pytest (e.g. `bash scripts/test.sh tests/qt/test_reader.py`).
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONDONTWRITEBYTECODE=1

# The tests run in one worker process per core (pytest-xdist), at most 4, since each worker
# imports torch and napari (about 1.5 GB). On the 2-core machine CI runs on, with another job
# holding one core, two workers took the PyQt5 run from 869 s (one process) to 645 s. Whole
# files go to a worker (--dist loadfile), so a module's fixtures (the synthetic tree, trained
# models) are built once. PYTEST_WORKERS=N sets the count; 1 runs everything in this process,
# as --pdb and -s need.
if [ -n "${PYTEST_WORKERS:-}" ]; then
    workers=$PYTEST_WORKERS
else
    workers=$(nproc 2>/dev/null || getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)
    [ "$workers" -gt 4 ] 2>/dev/null && workers=4
fi
case $workers in
    '' | *[!0-9]*) echo "test.sh: PYTEST_WORKERS must be a whole number, not '$workers'" >&2; exit 2 ;;
esac
PYTEST_PARALLEL=()
if [ "$workers" -gt 1 ]; then
    PYTEST_PARALLEL=(-n "$workers" --dist loadfile)
fi

# One Xvfb for the Qt check and both pytest runs, started and stopped here rather than by
# pytest-xvfb (hence --no-xvfb below, same 800x600x16 screen): a pytest that dies in C code
# (Qt's abort) never runs pytest-xvfb's atexit hook and leaves its Xvfb running; this trap runs
# whatever way the script ends.
XVFB_PID=""
stop_xvfb() {
    if [ -n "$XVFB_PID" ]; then
        kill "$XVFB_PID" 2>/dev/null || true
        wait "$XVFB_PID" 2>/dev/null || true
        XVFB_PID=""
    fi
    rm -f "${XVFB_FD_FILE:-}" "${XVFB_LOG:-}"
}
trap stop_xvfb EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

PYTEST_XVFB=()
if [ "$(uname -s)" = Linux ]; then
    # shellcheck source=scripts/qt_system_libs.sh
    source scripts/qt_system_libs.sh
    if ! command -v Xvfb >/dev/null 2>&1; then
        echo "test.sh: Xvfb is not installed (the viewer tests run on it): bash scripts/setup.sh installs it, or: $(qt_install_command xvfb xauth)" >&2
        exit 1
    fi
    XVFB_FD_FILE=$(mktemp)
    XVFB_LOG=$(mktemp)
    # -displayfd: Xvfb picks a free display itself and writes its number once it accepts
    # clients, so parallel runs do not race for one number.
    Xvfb -displayfd 3 -screen 0 800x600x16 -nolisten tcp 3>"$XVFB_FD_FILE" 2>"$XVFB_LOG" &
    XVFB_PID=$!
    for _ in $(seq 600); do
        [ -s "$XVFB_FD_FILE" ] && break
        if ! kill -0 "$XVFB_PID" 2>/dev/null; then
            echo "test.sh: Xvfb did not start:" >&2
            sed 's/^/  /' "$XVFB_LOG" >&2
            exit 1
        fi
        sleep 0.05
    done
    [ -s "$XVFB_FD_FILE" ] || { echo "test.sh: Xvfb gave no display within 30 s" >&2; exit 1; }
    export DISPLAY=":$(head -n1 "$XVFB_FD_FILE")"
    unset WAYLAND_DISPLAY
    PYTEST_XVFB=(--no-xvfb)

    # Qt must start before pytest does: without a library the xcb plugin needs, Qt aborts the
    # process (exit 134, no test summary). A tiny QApplication and an OpenGL context per binding
    # say so in a second, with what is missing.
    for api in pyqt5 pyqt6; do
        rc=0
        out=$(QT_API=$api QT_QPA_PLATFORM=xcb timeout 60 .venv/bin/python - 2>&1 <<'EOF'
from qtpy import API_NAME, QT_VERSION
from qtpy.QtGui import QOffscreenSurface, QOpenGLContext
from qtpy.QtWidgets import QApplication, QWidget

app = QApplication(["qt-check"])
window = QWidget()
window.show()
app.processEvents()
surface = QOffscreenSurface()
surface.create()
context = QOpenGLContext()
if not (context.create() and context.makeCurrent(surface)):
    raise SystemExit("Qt started but could not make an OpenGL context current (napari's canvas needs one)")
fmt = context.format()
print(f"Qt starts: {API_NAME} {QT_VERSION} on {app.platformName()}, OpenGL {fmt.majorVersion()}.{fmt.minorVersion()}")
EOF
        ) || rc=$?
        if [ "$rc" -ne 0 ]; then
            echo "test.sh: Qt cannot start with $api on the xcb platform (exit $rc); it said:" >&2
            printf '%s\n' "$out" | grep -v '^$' | tail -n 6 | sed 's/^/  /' >&2
            qt_missing
            if [ ${#QT_MISSING_SONAMES[@]} -gt 0 ]; then
                echo "  libraries the loader cannot find (ldd): ${QT_MISSING_SONAMES[*]}" >&2
            fi
            if [ ${#QT_MISSING_PACKAGES[@]} -gt 0 ]; then
                echo "  install them: $(qt_install_command "${QT_MISSING_PACKAGES[@]}")" >&2
                echo "  (bash scripts/setup.sh does this as root or through sudo)" >&2
            fi
            exit 1
        fi
        echo "${out##*$'\n'}"  # the last line; Qt's notes before it (XDG_RUNTIME_DIR) are noise
    done
fi

.venv/bin/ruff check --no-cache alges_napari tests benchmarks scripts
.venv/bin/lint-imports
.venv/bin/npe2 validate alges-napari
bash scripts/check_wheel.sh

.venv/bin/python -m pytest -q -p no:cacheprovider ${PYTEST_XVFB[@]+"${PYTEST_XVFB[@]}"} \
    ${PYTEST_PARALLEL[@]+"${PYTEST_PARALLEL[@]}"} "$@"

# The viewer tests again under PyQt6: all of tests/qt, or, when paths were given, those of them
# under tests/qt (options such as -x or -k EXPR pass through; a word is a path if it exists).
qt6=()
paths=0
for arg in "$@"; do
    path=${arg%%::*}
    path=${path#./}
    if [[ $arg == -* ]] || [ ! -e "$path" ]; then
        qt6+=("$arg")
        continue
    fi
    paths=1
    case ${path%/} in
        tests/qt | tests/qt/*) qt6+=("$arg") ;;
        . | tests) qt6+=(tests/qt) ;;
    esac
done
if [ "$paths" -eq 0 ]; then
    qt6=(tests/qt ${qt6[@]+"${qt6[@]}"})
elif [[ " ${qt6[*]:-} " != *" tests/qt"* ]]; then
    exit 0  # no viewer tests among the paths given
fi
# napari and pytest-qt both follow QT_API; the same venv carries both bindings.
QT_API=pyqt6 PYTEST_QT_API=pyqt6 .venv/bin/python -m pytest -q -p no:cacheprovider \
    ${PYTEST_XVFB[@]+"${PYTEST_XVFB[@]}"} ${PYTEST_PARALLEL[@]+"${PYTEST_PARALLEL[@]}"} "${qt6[@]}"
