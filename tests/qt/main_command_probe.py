"""Run napari's own ``main()`` as the README's main command does, and report what a user sees.

``python main_command_probe.py REPORT.json [SCREENSHOT.png] -- <napari arguments>`` starts
napari exactly as ``.venv/bin/napari <napari arguments>`` would (same entry point, same argument
parsing, the same event loop), and watches it from a timer. It records every modal dialog that
opens (and dismisses it, so napari can go on), every Python warning a user would see (and any
of the plugin's own, deprecations included) and every napari notification. Once the window
shows the widget and the layers it writes the report as JSON (Qt binding, modal dialogs,
layers, dock widgets, the widget's project form, warnings, notifications), saves a screenshot
when asked, and quits napari.
"""

from __future__ import annotations

import json
import sys
import time
import warnings

POLL_MS = 200
GIVE_UP_S = 90.0
SETTLE_S = 1.5  # after the window is complete: late warnings and toasts (showEvent) arrive


def main() -> None:
    """Start napari with the arguments after ``--`` and write the report."""
    split = sys.argv.index("--")
    out, shot = (sys.argv[1:split] + [None])[:2]
    napari_args = sys.argv[split + 1 :]
    seen_warnings: list[str] = []

    def record_warning(message, category, filename, lineno, file=None, line=None) -> None:
        seen_warnings.append(f"{category.__name__}: {message} ({filename}:{lineno})")

    # Python's default filters (what a user sees), and every warning raised by our own code,
    # deprecations included.
    warnings.filterwarnings("always", module=r"alges_napari(\.|$)")
    warnings.showwarning = record_warning
    sys.argv = ["napari"]  # the QApplication sees what napari's own would (no probe arguments)
    from napari.qt import get_qapp
    from napari.utils.notifications import notification_manager
    from qtpy import API_NAME
    from qtpy.QtCore import QTimer
    from qtpy.QtWidgets import QApplication

    app = get_qapp()
    notes: list[str] = []
    notification_manager.notification_ready.connect(
        lambda n: notes.append(f"{n.severity}: {n.message}")
    )
    modals: list[str] = []
    state = {"started": time.monotonic(), "complete_at": None}

    def poll() -> None:
        import napari

        modal = QApplication.activeModalWidget()
        if modal is not None:
            modals.append(f"{type(modal).__name__}: {modal.windowTitle()}")
            if shot and len(modals) == 1:
                app.primaryScreen().grabWindow(0).save(shot.replace(".png", "_dialog.png"))
            modal.reject()
            return
        viewer = napari.current_viewer()
        complete = (
            viewer is not None
            and viewer.window._qt_window.isVisible()
            and len(viewer.layers) > 0
            and len(viewer.window.dock_widgets) > 0
        )
        now = time.monotonic()
        if complete and state["complete_at"] is None:
            state["complete_at"] = now
        settled = state["complete_at"] is not None and now - state["complete_at"] > SETTLE_S
        if settled or now - state["started"] > GIVE_UP_S:
            finish(viewer)

    def finish(viewer) -> None:
        timer.stop()
        report = {
            "qt_api": API_NAME,
            "modal_dialogs": modals,
            "warnings": seen_warnings,
            "notifications": notes,
            "layers": [] if viewer is None else [ly.name for ly in viewer.layers],
            "docks": [] if viewer is None else list(viewer.window.dock_widgets),
            "form": None,
        }
        if viewer is not None:
            for dock in viewer.window.dock_widgets.values():
                form = getattr(dock, "form", None)
                if form is not None:
                    report["form"] = {
                        "source": str(form.source.value),
                        "root": str(form.root.value),
                        "button": form.create_button.text(),
                    }
        if shot:
            app.primaryScreen().grabWindow(0).save(shot)
        with open(out, "w", encoding="utf-8") as fh:
            json.dump(report, fh, indent=1)
        if viewer is not None:
            viewer.close()
        QTimer.singleShot(200, app.quit)

    timer = QTimer()
    timer.timeout.connect(poll)
    timer.start(POLL_MS)
    sys.argv = ["napari", *napari_args]
    from napari.__main__ import main as napari_main

    napari_main()


if __name__ == "__main__":
    main()
