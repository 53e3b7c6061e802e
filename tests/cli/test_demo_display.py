"""``alges demo`` where Qt cannot start: exit 2 and one line, never Qt's abort (exit 134)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from alges_napari.cli.demo import missing_display, unresolved_libraries, xcb_plugin


def run_demo(env: dict[str, str]) -> subprocess.CompletedProcess:
    """``alges demo --no-show`` in a fresh Python with ``env`` (no Qt loaded yet, as for a user)."""
    return subprocess.run(
        [sys.executable, "-m", "alges_napari.cli", "demo", "--no-show"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def headless_env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")
    }
    return {**env, **extra}


def test_no_display_exits_2_with_one_line() -> None:
    done = run_demo(headless_env())
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("alges demo: error: no display: DISPLAY and WAYLAND_DISPLAY")
    assert "xvfb-run" in lines[0]
    assert done.stdout == ""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="X11 displays are a Linux matter")
def test_a_display_nobody_serves_exits_2_with_qts_reason() -> None:
    # A display number with neither a socket nor a lock file: no X server answers there.
    free = next(
        n
        for n in range(917, 999)
        if not Path(f"/tmp/.X11-unix/X{n}").exists() and not Path(f"/tmp/.X{n}-lock").exists()
    )
    done = run_demo(headless_env(DISPLAY=f":{free}"))
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert lines == [
        f"alges demo: error: Qt cannot start on :{free}: "
        f"qt.qpa.xcb: could not connect to display :{free}"
    ]


@pytest.mark.parametrize(
    ("env", "platform", "refused"),
    [
        ({}, "linux", True),
        ({"DISPLAY": ""}, "linux", True),
        ({"QT_QPA_PLATFORM": "xcb"}, "linux", True),
        ({"QT_QPA_PLATFORM": "wayland;xcb"}, "linux", True),
        ({"DISPLAY": ":1"}, "linux", False),
        ({"WAYLAND_DISPLAY": "wayland-0"}, "linux", False),
        ({"QT_QPA_PLATFORM": "offscreen"}, "linux", False),  # the probe decides (OpenGL)
        ({"QT_QPA_PLATFORM": "wayland;offscreen"}, "linux", False),
        ({"QT_QPA_PLATFORM": "vnc:size=800x600"}, "freebsd14", False),
        ({}, "freebsd14", True),
        ({}, "darwin", False),
        ({}, "win32", False),
    ],
)
def test_missing_display_reads_the_environment(env, platform, refused) -> None:
    reason = missing_display(env, platform)
    assert (reason is not None) == refused
    if refused:
        assert reason.startswith("no display:")


@pytest.mark.skipif(
    shutil.which("ldd") is None or shutil.which("cc") is None, reason="needs cc, ldd"
)
def test_unresolved_libraries_names_what_the_loader_cannot_find(tmp_path) -> None:
    # A library linked against another that is then deleted: ldd reports it "not found".
    (tmp_path / "ghost.c").write_text("int ghost(void) { return 1; }\n")
    (tmp_path / "needy.c").write_text("int ghost(void);\nint needy(void) { return ghost(); }\n")
    ghost, needy = tmp_path / "libghost.so", tmp_path / "libneedy.so"
    cc = ["cc", "-shared", "-fPIC", "-o"]
    subprocess.run([*cc, str(ghost), str(tmp_path / "ghost.c")], check=True)
    subprocess.run(
        [*cc, str(needy), str(tmp_path / "needy.c"), f"-L{tmp_path}", "-lghost"], check=True
    )
    ghost.unlink()
    assert unresolved_libraries(needy) == ["libghost.so"]
    assert unresolved_libraries(tmp_path / "absent.so") == []


@pytest.mark.parametrize(
    ("qt_api", "expected"),
    [
        ("pyqt6", "PyQt6/Qt6/plugins/platforms/libqxcb.so"),
        ("PyQt5", "PyQt5/Qt5/plugins/platforms/libqxcb.so"),
        ("", "PyQt5/Qt5/plugins/platforms/libqxcb.so"),  # qtpy's first choice, as napari's
    ],
)
def test_xcb_plugin_is_the_one_of_the_binding_qtpy_picks(qt_api, expected) -> None:
    pytest.importorskip("PyQt5")
    pytest.importorskip("PyQt6")
    plugin = xcb_plugin(qt_api)
    assert plugin is not None and plugin.is_file()
    assert plugin.as_posix().endswith(expected)
